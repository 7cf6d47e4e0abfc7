"""The mail log's findings: failed logins (bursts per address) and rejects in 24 hours.

The log is read by :mod:`wizard.logsource` (Postfix's ``maillog_file``, the journal's mail
facility, or the platform's syslog file and its newest rotation) and parsed and counted by
:mod:`wizard.maillog` (:func:`~wizard.maillog.window_counts`); this module only judges the
counts against the thresholds of ``mailwizard check``.
"""

from __future__ import annotations

from typing import List, Optional

from ..maillog import WindowCounts
from .model import OK, WARNING, Finding

WINDOW = 24 * 3600
"""The seconds of log a check reads."""


def log_findings(counts: Optional[WindowCounts], source: str, *,
                 auth_warn: int) -> List[Finding]:
    """Findings for the log: an address with ``auth_warn`` or more failed logins is a burst
    (WARNING); rejects are reported with their main reasons (they are the server working).

    ``counts`` None: there is no mail log (no journal, none of the files ``source`` names).
    That is how Postfix runs without a syslog daemon, so it is said plainly but is not a
    problem of the server (OK, "not checked")."""
    if counts is None:
        return [Finding("log", "mail log", OK,
                        f"not checked: no journal and no {source}",
                        "install rsyslog, or set maillog_file = /var/log/postfix.log in "
                        "main.cf, to have a log to read")]
    out: List[Finding] = []
    bursts = sorted(((n, ip) for ip, n in counts.auth_failures.items() if n >= auth_warn),
                    reverse=True)
    total = sum(counts.auth_failures.values())
    if bursts:
        shown = ", ".join(f"{ip} ({n})" for n, ip in bursts[:5])
        out.append(Finding("log", "failed logins in 24 h", WARNING,
                           f"{total} failed, bursts from {shown}",
                           "someone is guessing passwords: block the address (fail2ban, "
                           "firewall) and check those accounts' passwords"))
    else:
        out.append(Finding("log", "failed logins in 24 h", OK,
                           f"{total} failed (no address reached {auth_warn}) in {source}"))
    top = sorted(counts.reject_reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    reasons = "; ".join(f"{n}x {why}" for why, n in top)
    out.append(Finding("log", "rejects in 24 h", OK,
                       f"{counts.rejects} rejected" + (f" ({reasons})" if reasons else "")))
    return out
