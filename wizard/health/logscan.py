"""The mail log of the last 24 hours: failed logins (bursts per address) and rejects.

Reads the journal (``journalctl -o short-iso``) under systemd, else the platform's log file
(``/var/log/mail.log`` on Debian and Ubuntu, ``/var/log/maillog`` on EL).  Three line shapes
are understood: ISO timestamps (``2026-12-02T17:32:16.123456+00:00 host prog[pid]: text``,
rsyslog's and the journal's short-iso), and the classic ``Dec  2 17:32:16 host prog: text``
(the year is taken as the current one, or the previous one for a date in the future).
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

from .model import OK, WARNING, Finding

WINDOW = 24 * 3600
MAX_BYTES = 32 * 1024 * 1024
"""At most this much of the end of a log file is read."""

_ISO = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?\s+(.*)",
                  re.ASCII | re.DOTALL)
_CLASSIC = re.compile(r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d:\d\d:\d\d)\s+(.*)",
                      re.ASCII | re.DOTALL)
_MONTHS = {m: i + 1 for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"))}
_IP = r"([0-9a-fA-F:.]{3,45})"
_SASL_FAIL = re.compile(r"postfix/[\w/-]+\[\d+\]: warning: [^\[\s]*\[" + _IP
                        + r"\]: SASL \S+ authentication failed", re.ASCII)
_DOVECOT_FAIL = re.compile(r"dovecot(?:\[\d+\])?: \S+-login: .*auth failed.*\brip=" + _IP,
                           re.ASCII)
_REJECT = re.compile(r"postfix/[\w/-]+\[\d+\]: (?:NOQUEUE|[0-9A-Za-z]+): reject: \S+ from "
                     r"[^\[\s]*\[" + _IP + r"\]: (\d{3}) [0-9.]+ ([^;]*)", re.ASCII)


@dataclass
class LogSummary:
    auth_failures: Dict[str, int] = field(default_factory=dict)
    """Client address -> failed logins in the window."""
    rejects: int = 0
    reject_reasons: Dict[str, int] = field(default_factory=dict)
    lines: int = 0
    """Lines inside the window."""


def line_time(line: str, now: _dt.datetime) -> Optional[Tuple[_dt.datetime, str]]:
    """(time, the rest of the line) of a log line, or None when it has no known timestamp."""
    m = _ISO.match(line)
    if m:
        stamp, zone, rest = m.groups()
        try:
            t = _dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            return None
        if zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            offset = _dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            t = t.replace(tzinfo=_dt.timezone(sign * offset))
        else:
            t = t.replace(tzinfo=_dt.timezone.utc) if zone else t.astimezone()
        return t, rest
    m = _CLASSIC.match(line)
    if m and m.group(1) in _MONTHS:
        month, day, clock, rest = m.groups()
        try:
            t = _dt.datetime.strptime(f"{now.year} {_MONTHS[month]} {day} {clock}",
                                      "%Y %m %d %H:%M:%S").astimezone()
        except ValueError:
            return None
        if t > now + _dt.timedelta(days=1):
            t = t.replace(year=t.year - 1)
        return t, rest
    return None


def scan(lines: Iterable[str], now: _dt.datetime, window: int = WINDOW) -> LogSummary:
    """Count failed logins per address and rejects in the ``window`` seconds before ``now``
    (an aware datetime)."""
    since = now - _dt.timedelta(seconds=window)
    out = LogSummary()
    for line in lines:
        parsed = line_time(line, now)
        if parsed is None or parsed[0] < since:
            continue
        out.lines += 1
        rest = parsed[1]
        m = _SASL_FAIL.search(rest) or _DOVECOT_FAIL.search(rest)
        if m:
            ip = m.group(1)
            out.auth_failures[ip] = out.auth_failures.get(ip, 0) + 1
            continue
        r = _REJECT.search(rest)
        if r:
            out.rejects += 1
            reason = f"{r.group(2)} {r.group(3).strip()}"[:120]
            out.reject_reasons[reason] = out.reject_reasons.get(reason, 0) + 1
    return out


def log_findings(summary: Optional[LogSummary], source: str, *,
                 auth_warn: int) -> List[Finding]:
    """Findings for the log: an address with ``auth_warn`` or more failed logins is a burst
    (WARNING); rejects are reported with their main reasons (they are the server working).

    ``summary`` None: there is no mail log (no journal, none of the files ``source`` names).
    That is how Postfix runs without a syslog daemon, so it is said plainly but is not a
    problem of the server (OK, "not checked")."""
    if summary is None:
        return [Finding("log", "mail log", OK,
                        f"not checked: no journal and no {source}",
                        "install rsyslog, or set maillog_file = /var/log/postfix.log in "
                        "main.cf, to have a log to read")]
    out: List[Finding] = []
    bursts = sorted(((n, ip) for ip, n in summary.auth_failures.items() if n >= auth_warn),
                    reverse=True)
    total = sum(summary.auth_failures.values())
    if bursts:
        shown = ", ".join(f"{ip} ({n})" for n, ip in bursts[:5])
        out.append(Finding("log", "failed logins in 24 h", WARNING,
                           f"{total} failed, bursts from {shown}",
                           "someone is guessing passwords: block the address (fail2ban, "
                           "firewall) and check those accounts' passwords"))
    else:
        out.append(Finding("log", "failed logins in 24 h", OK,
                           f"{total} failed (no address reached {auth_warn}) in {source}"))
    top = sorted(summary.reject_reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    reasons = "; ".join(f"{n}x {why}" for why, n in top)
    out.append(Finding("log", "rejects in 24 h", OK,
                       f"{summary.rejects} rejected" + (f" ({reasons})" if reasons else "")))
    return out
