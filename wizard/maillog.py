"""The mail log, read into events: deliveries, deferrals, bounces, rejects, failed logins.

:func:`parse_lines` is pure: syslog lines in the classic RFC 3164 form (``Dec  2 10:00:01
host postfix/smtp[12]: ...``, rsyslog files, Postfix's own ``maillog_file``), in ISO form
(rsyslog's RFC 3339 stamps, ``journalctl -o short-iso``) go in; :class:`LogEvent` objects
come out, one per message and outcome where the log allows it: the lines of one queue id
(``client=`` from smtpd, ``from=`` from qmgr, each ``to=... status=`` of the delivery agents)
are joined, and the last status of each recipient wins (a deferred message delivered later
is "delivered"). Rejects (``NOQUEUE: reject:`` of smtpd and postscreen, milter rejects) and
failed logins (Postfix's ``SASL ... authentication failed``, Dovecot's ``-login: ... (auth
failed, ...)``) are events of their own. Every string kept passes
:func:`wizard.termsafe.clean`.

:func:`read_log` finds the lines of the last hours on a target: Postfix's ``maillog_file``
when main.cf sets one, plus the journal (mail facility) when systemd runs, else the
platform's syslog file (``/var/log/maillog`` on EL, ``/var/log/mail.log`` on Debian).
:func:`counts` gives a health check its numbers.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .errors import UsageError
from .mailqueue import QUEUE_ID_PATTERN
from .termsafe import clean

KINDS = ("delivered", "deferred", "bounced", "rejected", "auth-failed")
_STATUS_KIND = {"sent": "delivered", "deferred": "deferred", "bounced": "bounced",
                "expired": "bounced"}

_HEAD = re.compile(
    r"(?:(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
    r"|(?P<bsd>[A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d))"
    r" (?P<host>\S+) (?P<prog>[^\s\[:]+)(?:\[\d+\])?: (?P<msg>.*)")
_QID = QUEUE_ID_PATTERN
_QLINE = re.compile(rf"(?P<qid>{_QID}): (?P<rest>.*)")
_DELIVERY = re.compile(
    r"to=<(?P<to>[^>]*)>,(?: orig_to=<(?P<orig>[^>]*)>,)? relay=(?P<relay>[^,]*),.*?"
    r" status=(?P<status>\w+)(?: \((?P<reason>.*)\))?")
_FROM = re.compile(r"from=<(?P<from>[^>]*)>, size=(?P<size>\d+)")
_CLIENT = re.compile(r"client=(?P<client>[^,\s]+)(?:.*?sasl_username=(?P<user>\S+))?")
_REJECT = re.compile(
    r"(?P<qid>NOQUEUE|" + _QID + r"): (?:milter-)?reject: (?P<stage>[\w-]+) from "
    r"(?P<client>\S+?): (?P<reason>.*); from=<(?P<from>[^>]*)>,? ?(?:to=<(?P<to>[^>]*)>)?")
_SASL_FAIL = re.compile(
    r"warning: (?P<client>\S+): SASL (?P<mech>[\w-]+) authentication failed"
    r"(?::\s?(?P<reason>.*?))?(?:, sasl_username=(?P<user>\S+))?")
_LOGIN_FAIL = re.compile(
    r"(?P<svc>[\w-]+)-login: (?P<what>.*?)\(auth failed, \d+ attempts? in \d+ secs?\)"
    r".*?user=<(?P<user>[^>]*)>.*?rip=(?P<rip>[0-9A-Fa-f.:]+)")


@dataclass
class LogEvent:
    """One message's outcome, one reject or one failed login."""

    time: float
    kind: str
    """One of :data:`KINDS`."""
    queue_id: str = ""
    sender: str = ""
    recipients: List[str] = field(default_factory=list)
    relay: str = ""
    status: str = ""
    """Postfix's word (sent, deferred, bounced, expired, reject) or ``auth failed``."""
    reason: str = ""
    client: str = ""
    """``host[address]`` of the SMTP client, or the address of a failed login."""
    user: str = ""
    """The login name (failed logins, authenticated submissions)."""
    service: str = ""
    """The program: postfix/smtp, postfix/smtpd, dovecot imap-login..."""

    def addresses(self) -> List[str]:
        return [a for a in [self.sender, self.user, *self.recipients] if a]

    def to_dict(self) -> Dict[str, Any]:
        return {"time": int(self.time), "kind": self.kind, "queue_id": self.queue_id,
                "sender": self.sender, "recipients": list(self.recipients),
                "relay": self.relay, "status": self.status, "reason": self.reason,
                "client": self.client, "user": self.user, "service": self.service}


# --------------------------------------------------------------------------- time
def parse_since(text: str) -> float:
    """Seconds in ``24h``, ``90m``, ``2d``, ``1w``, ``30s`` (at most 366 days)."""
    m = re.fullmatch(r"(\d{1,6})([smhdw])", text or "")
    if not m:
        raise UsageError(f"--since: {clean(str(text), 40)!r} is not a duration like 24h, "
                         "90m, 2d or 1w")
    seconds = int(m[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m[2]]
    if not 0 < seconds <= 366 * 86400:
        raise UsageError("--since: give a duration between 1s and 366d")
    return float(seconds)


_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}(?:@[A-Za-z0-9.-]{1,253})?")


def check_address(text: str) -> str:
    """An address (``alice@example.test``) or a login name (``alice``) to filter by."""
    if not isinstance(text, str) or not _ADDRESS.fullmatch(text):
        raise UsageError(f"--address: {clean(str(text), 60)!r} is not a mail address or "
                         "user name")
    return text


def _stamp(m: re.Match[str], now: float) -> float:
    iso = m["iso"]
    if iso:
        iso = iso.replace("Z", "+00:00")
        iso = re.sub(r"([+-]\d\d)(\d\d)\Z", r"\1:\2", iso)
        iso = re.sub(r"\.(\d{1,6})\d*", lambda x: "." + x[1].ljust(6, "0"), iso)
        dt = datetime.fromisoformat(iso)
        return dt.timestamp()  # naive: local time, as syslog writes it
    mon, day, hms = m["bsd"].split()
    year = time.localtime(now).tm_year
    for y in (year, year - 1):
        t = time.mktime(time.strptime(f"{y} {mon} {day} {hms}", "%Y %b %d %H:%M:%S"))
        if t <= now + 86400:  # no year in the stamp: the latest such date not in the future
            return t
    return t


# --------------------------------------------------------------------------- parsing
@dataclass
class _Message:
    qid: str
    sender: str = ""
    client: str = ""
    user: str = ""
    # recipient -> (time, status, relay, reason, service)
    rcpts: Dict[str, Tuple[float, str, str, str, str]] = field(default_factory=dict)


def parse_lines(lines: Iterable[str], now: Optional[float] = None,
                since: Optional[float] = None) -> List[LogEvent]:
    """Events from log lines (any mix of the formats above), oldest first. Lines before
    ``since`` (epoch seconds) and lines that are not mail events are skipped."""
    now = time.time() if now is None else now
    events: List[LogEvent] = []
    messages: Dict[str, _Message] = {}
    for raw in lines:
        m = _HEAD.fullmatch(raw.rstrip("\r\n"))
        if not m:
            continue
        try:
            t = _stamp(m, now)
        except (ValueError, OverflowError):
            continue
        if since is not None and t < since:
            continue
        prog, msg = m["prog"], m["msg"]
        if prog.startswith("postfix"):
            _postfix_line(t, clean(prog, 60), msg, events, messages)
        elif prog == "dovecot" or prog.startswith("dovecot"):
            _dovecot_line(t, msg, events)
    for qm in messages.values():
        events.extend(_message_events(qm))
    events.sort(key=lambda e: e.time)
    return events


def _postfix_line(t: float, prog: str, msg: str, events: List[LogEvent],
                  messages: Dict[str, _Message]) -> None:
    r = _REJECT.match(msg)
    if r:
        events.append(LogEvent(
            t, "rejected", "" if r["qid"] == "NOQUEUE" else r["qid"],
            sender=clean(r["from"], 300), recipients=[clean(r["to"], 300)] if r["to"] else [],
            status="reject", reason=clean(r["reason"], 1000), client=clean(r["client"], 300),
            service=prog))
        return
    a = _SASL_FAIL.fullmatch(msg)
    if a:
        events.append(LogEvent(t, "auth-failed", status="auth failed",
                               reason=clean(f"SASL {a['mech']}: {a['reason'] or 'failed'}", 300),
                               client=clean(a["client"], 300),
                               user=clean(a["user"] or "", 300), service=prog))
        return
    q = _QLINE.fullmatch(msg)
    if not q:
        return
    qm = messages.setdefault(q["qid"], _Message(q["qid"]))
    rest = q["rest"]
    d = _DELIVERY.match(rest)
    if d:
        rcpt = clean(d["to"], 300)
        qm.rcpts[rcpt] = (t, d["status"], clean(d["relay"], 300),
                          clean(d["reason"] or "", 1000), prog)
        return
    f = _FROM.match(rest)
    if f:
        qm.sender = clean(f["from"], 300)
        return
    c = _CLIENT.match(rest)
    if c:
        qm.client = clean(c["client"], 300)
        qm.user = clean(c["user"] or "", 300)


def _dovecot_line(t: float, msg: str, events: List[LogEvent]) -> None:
    d = _LOGIN_FAIL.search(msg)
    if d:
        what = d["what"].strip().rstrip(":").strip()
        events.append(LogEvent(t, "auth-failed", status="auth failed",
                               reason=clean(f"{d['svc']} login: {what or 'auth failed'}", 300),
                               client=clean(d["rip"], 60), user=clean(d["user"], 300),
                               service=clean(f"dovecot {d['svc']}-login", 60)))


def _message_events(qm: _Message) -> List[LogEvent]:
    """One event per outcome of the message (recipients with the same status, relay and
    reason share a line)."""
    groups: Dict[Tuple[str, str, str], List[Tuple[float, str, str]]] = {}
    for rcpt, (t, status, relay, reason, prog) in qm.rcpts.items():
        groups.setdefault((status, relay, reason), []).append((t, rcpt, prog))
    out = []
    for (status, relay, reason), items in groups.items():
        kind = _STATUS_KIND.get(status)
        if kind is None:
            continue
        out.append(LogEvent(max(i[0] for i in items), kind, qm.qid, sender=qm.sender,
                            recipients=[i[1] for i in items], relay=relay, status=status,
                            reason=reason, client=qm.client, user=qm.user,
                            service=items[-1][2]))
    return out


# --------------------------------------------------------------------------- filtering
def select(events: Sequence[LogEvent], address: Optional[str] = None,
           kinds: Optional[Sequence[str]] = None) -> List[LogEvent]:
    """Events about ``address`` (sender, recipient or login; a name without ``@`` also
    matches the local part) of the given ``kinds``."""
    want = address.casefold() if address else None
    out = []
    for e in events:
        if kinds and e.kind not in kinds:
            continue
        if want is not None:
            found = [a.casefold() for a in e.addresses()]
            if want not in found and not ("@" not in want and any(
                    a.partition("@")[0] == want for a in found)):
                continue
        out.append(e)
    return out


def counts(events: Sequence[LogEvent]) -> Dict[str, int]:
    """Events per kind (every kind present, zero when none)."""
    c = Counter(e.kind for e in events)
    return {k: c.get(k, 0) for k in KINDS}


def auth_failures_by_client(events: Sequence[LogEvent]) -> List[Tuple[str, int]]:
    """Failed logins per client address, most first (a burst shows at the top)."""
    return Counter(_address_of(e.client) for e in events
                   if e.kind == "auth-failed").most_common()


def _address_of(client: str) -> str:
    m = re.search(r"\[([^\]]*)\]", client)
    return m[1] if m else client


# --------------------------------------------------------------------------- a window
@dataclass
class WindowCounts:
    """What a health check counts in the log of a period (the last 24 hours)."""

    auth_failures: Dict[str, int] = field(default_factory=dict)
    """Client address -> failed logins."""
    rejects: int = 0
    reject_reasons: Dict[str, int] = field(default_factory=dict)
    """:func:`short_reject_reason` -> rejects."""


_REJECT_CODE = re.compile(r"(\d{3})(?: [245]\.\d{1,3}\.\d{1,3})? (.*)", re.DOTALL)


def short_reject_reason(reason: str) -> str:
    """``554 <x@example.org>: Relay access denied`` of ``554 5.7.1 <x@example.org>: Relay
    access denied`` (the enhanced status code left out), at most 120 characters."""
    m = _REJECT_CODE.fullmatch(reason)
    text = f"{m[1]} {m[2].strip()}" if m else reason.strip()
    return text[:120]


def window_counts(events: Sequence[LogEvent], since: Optional[float] = None) -> WindowCounts:
    """Failed logins per client address and rejects per reason among ``events`` (those at
    or after ``since``, epoch seconds, when given)."""
    inside = [e for e in events if since is None or e.time >= since]
    out = WindowCounts(auth_failures=dict(auth_failures_by_client(inside)))
    for e in inside:
        if e.kind == "rejected":
            out.rejects += 1
            key = short_reject_reason(e.reason)
            out.reject_reasons[key] = out.reject_reasons.get(key, 0) + 1
    return out
