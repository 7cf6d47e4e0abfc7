"""``--mail-to``: the plain-text report mailed through the local sendmail, only when the
result changed since the last mailed run.

The state (``health-last.json`` in the state directory, ``0600``) holds the overall state
and, for each finding that was not OK, its group, name and state: what "changed" compares.
Details (ages, counts) are not compared, so a queue message a minute older is no change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from ..answers.validators import report_address_error
from .model import Report

STATE_FILE = "health-last.json"
address_error = report_address_error
"""Why an address cannot receive the report (the answers' ``health_check.mail_to`` is
checked by the same function)."""
def load_state(state_dir: Path) -> Optional[Dict[str, Any]]:
    try:
        data = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def save_state(state_dir: Path, report: Report) -> None:
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = state_dir / STATE_FILE
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"state": report.state, "problems": report.fingerprint(),
                   "checked_at": report.checked_at}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def changed(previous: Optional[Dict[str, Any]], report: Report) -> bool:
    if previous is None:
        return True
    return bool(previous.get("state") != report.state
                or previous.get("problems") != report.fingerprint())


def _header_text(text: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)[:200]


def message(report: Report, to: str) -> str:
    """The mail (headers and body); ``to`` must have passed :func:`address_error`."""
    subject = _header_text(f"[mailwizard] {report.hostname}: {report.state}")
    body = "".join(c if c == "\n" or 32 <= ord(c) < 127 else "?" for c in report.text())
    return (f"To: {to}\nSubject: {subject}\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=us-ascii\nAuto-Submitted: auto-generated\n\n"
            + body)


Sender = Callable[[List[str], str], int]
"""(argv, input) -> exit status."""


def mail_if_changed(report: Report, to: str, state_dir: Path, send: Sender,
                    sendmail: str = "/usr/sbin/sendmail") -> str:
    """Mail the report to ``to`` when it changed since the last mailed run; returns what
    happened (one line for the output).  The state is saved only once the mail is handed
    to sendmail, so a failed send is tried again on the next run.

    Raises:
        ValueError: ``to`` is not an accepted address.
    """
    err = report_address_error(to)
    if err:
        raise ValueError(err)
    if not changed(load_state(state_dir), report):
        return f"unchanged since the last report: nothing mailed to {to}"
    status = send([sendmail, "-oi", "--", to], message(report, to))
    if status != 0:
        return f"mailing {to} failed (sendmail exit {status}); will try again next run"
    save_state(state_dir, report)
    return f"report mailed to {to}"
