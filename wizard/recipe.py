"""The recipe protocol: one step of the install, small and declarative.

A recipe never acts. ``plan(ctx)`` returns :class:`~wizard.changes.Change` objects computed from
the answers, the platform profile and the facts read from the target; ``verify(ctx)`` returns
named checks. The engine (and only the engine) applies, journals and rolls back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from .answers import Answers
from .changes import Change, View
from .checks import CheckResult
from .executor import Executor
from .platforms import Platform, Version


@dataclass
class Facts:
    """What the target says about itself (read once, in-process where possible)."""

    postfix_installed: bool = False
    dovecot_installed: bool = False
    postfix_version: Optional[Version] = None
    dovecot_version: Optional[Version] = None
    default_database_type: Optional[str] = None
    service_manager: str = "sysv"
    firewall: Optional[str] = None
    """``firewalld`` or ``ufw`` when one is active, else None."""
    selinux_enforcing: bool = False
    users: Dict[str, Tuple[int, int, str]] = field(default_factory=dict)
    groups: Dict[str, Tuple[int, List[str]]] = field(default_factory=dict)
    dry_run: bool = False
    """Facts are the platform's defaults, not read from a live system."""
    mailwizard: Optional[str] = None
    """The path of the running mailwizard program as the target can run it (a schedule
    runs it: step ``health-timer``), or None with :attr:`mailwizard_problem` saying why."""
    mailwizard_problem: str = ""
    state_dir: str = ""
    """The session's state directory as the target sees it, when not the default one (a
    scheduled ``mailwizard check`` must read the same session); set by the engine."""


def _version(text: str) -> Optional[Version]:
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        return None
    return tuple(int(x) for x in m.groups() if x is not None)


def gather_facts(ex: Executor, platform: Platform, dry_run: bool = False) -> Facts:
    """Read facts from the target; in a dry run only the accounts are read."""
    from .changes import service_manager
    from .selfpath import running_program, target_program

    facts = Facts(users=ex.users(), groups=ex.groups(), dry_run=dry_run)
    facts.mailwizard, facts.mailwizard_problem = target_program(ex, running_program())
    if dry_run:
        facts.service_manager = "systemd"
        facts.firewall = platform.firewall
        facts.selinux_enforcing = platform.selinux
        return facts
    facts.service_manager = service_manager(ex)
    facts.postfix_installed = ex.which("postconf") is not None
    facts.dovecot_installed = ex.which("dovecot") is not None
    if facts.postfix_installed:
        res = ex.run(["postconf", "-dh", "mail_version", "default_database_type"], quiet=True,
                     timeout=60)
        if res.ok:
            lines = res.stdout.splitlines() + ["", ""]
            facts.postfix_version = _version(lines[0])
            facts.default_database_type = lines[1].strip() or None
    if facts.dovecot_installed:
        res = ex.run(["dovecot", "--version"], quiet=True, timeout=60)
        if res.ok:
            facts.dovecot_version = _version(res.stdout)
    if ex.which("firewall-cmd") and ex.run(["firewall-cmd", "--state"], quiet=True,
                                           timeout=30).ok:
        facts.firewall = "firewalld"
    elif ex.which("ufw"):
        res = ex.run(["ufw", "status"], quiet=True, timeout=30)
        if res.ok and "Status: active" in res.stdout:
            facts.firewall = "ufw"
    enforce = ex.read_text("/sys/fs/selinux/enforce")
    facts.selinux_enforcing = (enforce or "").strip() == "1"
    return facts


def effective_platform(platform: Platform, facts: Facts) -> Platform:
    """The profile corrected by what the installed software reports."""
    return platform.with_versions(facts.postfix_version, facts.dovecot_version,
                                  facts.default_database_type)


@dataclass
class PlanContext:
    answers: Answers
    platform: Platform
    facts: Facts
    view: View

    @property
    def db(self) -> str:
        """Map type for lookup tables: ``lmdb`` on EL10, ``hash`` elsewhere."""
        return self.platform.default_database_type


@dataclass
class VerifyContext:
    answers: Answers
    platform: Platform
    facts: Facts
    executor: Executor
    probe_host: str = "127.0.0.1"
    """Where network checks connect (the server itself by default)."""


class ForFamily(str):
    """A note (``Recipe.outdated``) that concerns one platform family only, ``el`` or
    ``debian`` (Debian and Ubuntu): a Debian runbook does not talk about yum."""

    family: str

    def __new__(cls, family: str, text: str) -> ForFamily:
        note = super().__new__(cls, text)
        note.family = family
        return note


class Recipe:
    """Base class of a step. Subclasses set the class attributes and implement ``plan``."""

    id: str = ""
    title: str = ""
    guide: str = ""
    """Which guide section this step follows (e.g. 'Guide 000, part 1: Postfix')."""
    summary: str = ""
    """What the step does and why, in a few sentences (our words)."""
    outdated: Tuple[str, ...] = ()
    """Where the guide's advice is out of date and what we do instead (a
    :class:`ForFamily` note only on its platform family: :meth:`outdated_for`)."""
    optional: bool = False
    """The admin may skip it."""
    touches: Tuple[str, ...] = ()
    """Files, packages and services the step changes (documentation)."""

    def enabled(self, answers: Answers) -> bool:
        return True

    def enabled_for(self, answers: Answers, platform: Platform) -> bool:
        """Whether the step runs for these answers on this platform (a step that only
        some platforms need, like EPEL on EL, overrides this)."""
        return self.enabled(answers)

    def outdated_for(self, platform: Platform) -> List[str]:
        """The notes of :attr:`outdated` that concern ``platform``."""
        return [str(note) for note in self.outdated
                if getattr(note, "family", platform.family) == platform.family]

    def plan(self, ctx: PlanContext) -> List[Change]:
        raise NotImplementedError

    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        return []

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        """Commands an admin can type to check the step by hand (runbook)."""
        return []

    def describe(self) -> Dict[str, Any]:
        return {"id": self.id, "title": self.title, "guide": self.guide,
                "summary": self.summary, "outdated": list(self.outdated),
                "optional": self.optional}
