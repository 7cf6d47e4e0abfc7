"""The ``health_check`` section: run ``mailwizard check --mail-to`` on a schedule (step
``health-timer``).

``mail_to`` is the address the report goes to when its result changed since the last mailed
run; empty (the default) means no schedule at all. ``schedule`` says when the check runs:
``hourly``, ``daily`` (the default) or ``weekly``, or ``HH:MM`` for every day at that time
(the server's local time). Both end up on a command line and in a systemd unit or a cron
line, so both are checked strictly (:func:`~.validators.report_address_error`,
:data:`SCHEDULE_RE`).

Example: ``health_check: {mail_to: postmaster@example.com, schedule: "06:30"}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Dict, List, Optional, Tuple

from .base import Parser, Section
from .validators import printable, report_address_error

if TYPE_CHECKING:
    from .model import Answers

SCHEDULE_WORDS = ("hourly", "daily", "weekly")
SCHEDULE_RE = re.compile(r"hourly|daily|weekly|(?:[01][0-9]|2[0-3]):[0-5][0-9]", re.ASCII)
"""A schedule answer: a word, or a time of day ``HH:MM`` (24 hours)."""


def check_schedule(value: Any) -> Optional[str]:
    """An error message for a ``schedule`` answer, or None."""
    if not isinstance(value, str) or not SCHEDULE_RE.fullmatch(value):
        shown = printable(str(value))[:40]
        return (f"{shown!r} is not a schedule: hourly, daily, weekly, or a time of day "
                "HH:MM such as 06:30 (every day at that time)")
    return None


@dataclass(frozen=True)
class HealthCheck(Section):
    """``health_check``: ``mail_to`` (empty: off) and ``schedule``."""

    KEY: ClassVar[str] = "health_check"

    mail_to: str = ""
    schedule: str = "daily"

    @classmethod
    def parse(cls, p: Parser) -> HealthCheck:
        d = p.sub("health_check")
        p.unknown_keys(d, [f.name for f in fields(cls)], "health_check")
        raw_to = d.get("mail_to")
        mail_to = ""
        if raw_to not in (None, ""):
            if not isinstance(raw_to, str):
                p.error("health_check.mail_to", "must be an address (text)")
            elif (msg := report_address_error(raw_to.strip())):
                p.error("health_check.mail_to", msg)
            else:
                mail_to = raw_to.strip()
        raw_when = d.get("schedule")
        schedule = "daily"
        if raw_when not in (None, ""):
            if isinstance(raw_when, str):
                raw_when = raw_when.strip().lower()
            if (msg := check_schedule(raw_when)):
                p.error("health_check.schedule", msg)
            else:
                schedule = str(raw_when)
        return cls(mail_to=mail_to, schedule=schedule)

    def to_dict(self, include_secrets: bool = False) -> Dict[str, Any]:
        return {"mail_to": self.mail_to, "schedule": self.schedule}

    @classmethod
    def form_start(cls) -> Dict[str, Any]:
        return {}  # the form's health report fields start empty (off) and "daily"

    def summary(self, answers: Answers) -> List[Tuple[str, str]]:
        if not self.mail_to:
            return []
        return [("Health report", f"checked {describe_schedule(self.schedule)}, mailed to "
                                  f"{self.mail_to} when the result changes")]


def describe_schedule(schedule: str) -> str:
    """``daily`` -> ``daily``, ``06:30`` -> ``every day at 06:30``."""
    if schedule in SCHEDULE_WORDS:
        return schedule
    return f"every day at {schedule}"
