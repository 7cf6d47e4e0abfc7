"""The Postfix mail queue: read (``postqueue -j``, or ``postqueue -p`` before Postfix 3.1),
summarised, and acted on by queue id.

Reading: :func:`read_queue` asks ``postqueue -j`` (one JSON object per message, Postfix
3.1+) and falls back to the Sendmail-style listing of ``postqueue -p`` where ``-j`` does not
exist (EL7's Postfix 2.10). Both parsers are pure (:func:`parse_json`,
:func:`parse_listing`) and every string they keep passes :func:`wizard.termsafe.clean`:
senders, recipients and delay reasons come from strangers.

Acting: :func:`action_argv` builds the argv of ``postqueue -f``/``-i``, ``postsuper
-h``/``-H``/``-d`` and ``postcat -q``; a queue id must match Postfix's own shapes exactly
(:func:`check_queue_id`) before it reaches any command, and commands run without a shell.

:func:`summarise` gives the numbers a health check needs (count per queue, oldest message,
the most frequent delay reasons).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .errors import CommandFailed, ExecutorError, UsageError
from .executor import Executor
from .termsafe import clean

QUEUES = ("maildrop", "incoming", "active", "deferred", "hold", "corrupt")

# short ids: hex of the inode and microseconds; long ids (enable_long_queue_ids): 6 + 4
# characters of seconds and microseconds in base 51 (no vowels, no "z"), "z", the inode
_SHORT_ID = re.compile(r"[0-9A-F]{6,20}")
_LONG_ALPHABET = "0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y"
_LONG_ID = re.compile(rf"[{_LONG_ALPHABET}]{{10}}z[{_LONG_ALPHABET}]{{1,20}}")
QUEUE_ID_PATTERN = f"{_SHORT_ID.pattern}|{_LONG_ID.pattern}"
"""Either shape, for parsers that find queue ids inside longer text (the mail log)."""


def is_queue_id(text: str) -> bool:
    """True for a Postfix queue id, short (``8F5061A005C``) or long (``4QzTxP2jkWz9sRr``)."""
    return isinstance(text, str) and bool(
        _SHORT_ID.fullmatch(text) or _LONG_ID.fullmatch(text))


def check_queue_id(text: str, field_name: str = "queue id") -> str:
    """``text`` when it is a queue id (:func:`is_queue_id`), else :class:`UsageError`."""
    if not is_queue_id(text):
        raise UsageError(f"{field_name}: {clean(str(text), 60)!r} is not a Postfix queue id "
                         "(hex like 8F5061A005C, or a long id like 4QzTxP2jkWz9sRr)")
    return text


@dataclass(frozen=True)
class Recipient:
    address: str
    reason: str = ""
    """Why delivery to this address was deferred (empty: not tried yet, or no reason)."""


@dataclass(frozen=True)
class QueuedMessage:
    queue_id: str
    queue: str
    """``active``, ``deferred``, ``hold``, ``incoming``, ``maildrop`` (``postqueue -p``
    cannot tell deferred from incoming: a message with a delay reason counts as deferred)."""
    arrival: float
    """Arrival time, seconds since the epoch."""
    size: int
    sender: str
    """Envelope sender; empty for a bounce (``MAILER-DAEMON`` in listings)."""
    recipients: Tuple[Recipient, ...] = ()

    def age(self, now: Optional[float] = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.arrival)

    @property
    def reason(self) -> str:
        """The first delay reason among the recipients ("" when none)."""
        return next((r.reason for r in self.recipients if r.reason), "")

    def to_dict(self, now: Optional[float] = None) -> Dict[str, Any]:
        return {"queue_id": self.queue_id, "queue": self.queue, "arrival": int(self.arrival),
                "age_seconds": int(self.age(now)), "size": self.size, "sender": self.sender,
                "recipients": [{"address": r.address, "reason": r.reason}
                               for r in self.recipients]}


# --------------------------------------------------------------------------- postqueue -j
def parse_json(text: str) -> Tuple[List[QueuedMessage], List[str]]:
    """(messages, problems) from ``postqueue -j``: one JSON object per line. A line that is
    not such an object, or whose queue id is not one, is a problem, never a message."""
    messages: List[QueuedMessage] = []
    problems: List[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            problems.append(f"line {n} is not JSON")
            continue
        msg = _from_json(obj)
        if msg is None:
            problems.append(f"line {n} is not a queue entry")
        else:
            messages.append(msg)
    return messages, problems


def _from_json(obj: Any) -> Optional[QueuedMessage]:
    if not isinstance(obj, dict):
        return None
    qid = obj.get("queue_id")
    if not isinstance(qid, str) or not is_queue_id(qid):
        return None
    queue = obj.get("queue_name")
    arrival = obj.get("arrival_time")
    if isinstance(arrival, bool):  # JSON true is no time
        return None
    rcpts = []
    for r in obj.get("recipients") or []:
        if isinstance(r, dict) and isinstance(r.get("address"), str):
            reason = r.get("delay_reason")
            rcpts.append(Recipient(clean(r["address"], 300),
                                   clean(reason, 1000) if isinstance(reason, str) else ""))
    size, sender = obj.get("message_size"), obj.get("sender")
    return QueuedMessage(
        queue_id=qid,
        queue=queue if queue in QUEUES else "unknown",
        arrival=float(arrival) if isinstance(arrival, (int, float)) else 0.0,
        size=int(size) if isinstance(size, int) and size >= 0 else 0,
        sender=clean(sender, 300) if isinstance(sender, str) else "",
        recipients=tuple(rcpts))


# --------------------------------------------------------------------------- postqueue -p
_ENTRY = re.compile(
    r"(?P<id>[0-9A-Za-z]+)(?P<mark>[*!]?)\s+(?P<size>\d+)\s+"
    r"(?P<date>[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)\s+(?P<sender>\S*)\s*")
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def _arrival(stamp: str, now: float) -> float:
    """Epoch seconds of ``Tue Dec  1 10:00:00`` (local time, no year: the latest such date
    not in the future)."""
    _, mon, day, hms = stamp.split()
    h, m, s = (int(x) for x in hms.split(":"))
    year = time.localtime(now).tm_year
    for y in (year, year - 1):
        t = time.mktime((y, _MONTHS.get(mon, 1), int(day), h, m, s, 0, 0, -1))
        if t <= now + 86400:
            return t
    return t


def parse_listing(text: str, now: Optional[float] = None) -> List[QueuedMessage]:
    """Messages from ``postqueue -p`` (``mailq``): an entry line (id with ``*`` when active,
    ``!`` when on hold, size, arrival, sender), then ``(reason)`` lines and recipient lines,
    a blank line between entries."""
    now = time.time() if now is None else now
    out: List[QueuedMessage] = []
    cur: Optional[Dict[str, Any]] = None
    reason = ""

    def close() -> None:
        if cur is not None:
            queue = cur["queue"] or ("deferred" if any(r.reason for r in cur["rcpts"])
                                     else "incoming")
            out.append(QueuedMessage(cur["id"], queue, cur["arrival"], cur["size"],
                                     cur["sender"], tuple(cur["rcpts"])))

    for line in text.splitlines():
        if not line.strip():
            close()
            cur, reason = None, ""
            continue
        if line.startswith(("-Queue ID-", "--")) or line.startswith("Mail queue is empty"):
            continue
        m = _ENTRY.fullmatch(line)
        if m and cur is None and is_queue_id(m["id"]):
            sender = m["sender"]
            cur = {"id": m["id"], "queue": {"*": "active", "!": "hold"}.get(m["mark"], ""),
                   "size": int(m["size"]), "arrival": _arrival(m["date"], now),
                   "sender": "" if sender == "MAILER-DAEMON" else clean(sender, 300),
                   "rcpts": []}
            continue
        if cur is None:
            continue
        s = line.strip()
        if s.startswith("(") and s.endswith(")"):
            reason = clean(s[1:-1], 1000)
        else:
            cur["rcpts"].append(Recipient(clean(s, 300), reason))
    close()
    return out


# --------------------------------------------------------------------------- reading
class QueueUnreadable(ExecutorError):
    title = "Cannot read the mail queue"


def read_queue(ex: Executor) -> List[QueuedMessage]:
    """The queue now: ``postqueue -j``, or ``postqueue -p`` when this Postfix has no ``-j``.

    Raises:
        QueueUnreadable: postqueue failed (Postfix not running: showq answers nothing), or
            printed lines that are not queue entries.
    """
    messages, problems = read_queue_entries(ex)
    if problems:
        raise QueueUnreadable("postqueue -j: " + "; ".join(problems[:3]))
    return messages


def read_queue_entries(ex: Executor) -> Tuple[List[QueuedMessage], List[str]]:
    """(messages, problems): as :func:`read_queue`, but the lines of ``postqueue -j`` that are
    not queue entries are returned as problems beside the messages that are (a health check
    reports both).

    Raises:
        QueueUnreadable: postqueue failed.
    """
    res = ex.run(["postqueue", "-j"], quiet=True, timeout=120)
    if res.ok:
        return parse_json(res.stdout)
    if "invalid option" in res.output or "illegal option" in res.output \
            or "usage:" in res.output.lower():
        res = ex.run(["postqueue", "-p"], quiet=True, timeout=120)
        if res.ok:
            return parse_listing(res.stdout), []
    raise QueueUnreadable(clean(res.output[-400:] or f"postqueue exited {res.returncode}"))


# --------------------------------------------------------------------------- summary
@dataclass
class QueueSummary:
    total: int = 0
    by_queue: Dict[str, int] = field(default_factory=dict)
    oldest_age: float = 0.0
    """Seconds since the oldest message arrived (0 when the queue is empty)."""
    oldest_id: str = ""
    oldest_queue: str = ""
    reasons: List[Tuple[str, int]] = field(default_factory=list)
    """The delay reasons, most frequent first, with their recipient counts."""


def summarise(messages: Sequence[QueuedMessage], now: Optional[float] = None,
              top: int = 5) -> QueueSummary:
    now = time.time() if now is None else now
    s = QueueSummary(total=len(messages))
    s.by_queue = dict(Counter(m.queue for m in messages))
    if messages:
        oldest = min(messages, key=lambda m: m.arrival)
        s.oldest_age, s.oldest_id = oldest.age(now), oldest.queue_id
        s.oldest_queue = oldest.queue
    s.reasons = Counter(r.reason for m in messages for r in m.recipients
                        if r.reason).most_common(top)
    return s


# --------------------------------------------------------------------------- actions
ACTIONS = ("flush", "hold", "release", "delete")


def action_argv(action: str, queue_id: Optional[str] = None, *,
                all_deferred: bool = False, all_messages: bool = False) -> List[str]:
    """The command for ``action`` on one message (``queue_id``), on every deferred message
    (``all_deferred``: delete, hold), on the whole queue (``all_messages``: hold, release),
    or on the queue as a whole (``flush`` without an id)."""
    if action not in ACTIONS:
        raise UsageError(f"queue action: {action!r} is not one of {', '.join(ACTIONS)}")
    targets = [queue_id is not None, all_deferred, all_messages]
    if sum(targets) > 1:
        raise UsageError("give one queue id, or one of --all / --all-deferred")
    if action == "flush":
        if all_deferred or all_messages:
            raise UsageError("flush takes a queue id or nothing (the whole queue)")
        return ["postqueue", "-i", check_queue_id(queue_id)] if queue_id else ["postqueue", "-f"]
    flag = {"hold": "-h", "release": "-H", "delete": "-d"}[action]
    if queue_id is not None:
        return ["postsuper", flag, check_queue_id(queue_id)]
    if all_deferred:
        if action not in ("delete", "hold"):
            raise UsageError(f"{action} --all-deferred makes no sense: use --all")
        return ["postsuper", flag, "ALL", "deferred"]
    if all_messages:
        if action == "delete":
            raise UsageError("delete takes a queue id or --all-deferred, never the whole queue")
        return ["postsuper", flag, "ALL"]
    raise UsageError(f"{action} needs a queue id (or --all / --all-deferred)")


def show_argv(queue_id: str, body: bool = False) -> List[str]:
    """``postcat -q ID``: the envelope and headers (``-h``; with ``body`` the body too)."""
    check_queue_id(queue_id)
    return ["postcat", "-e", "-h", "-b", "-q", queue_id] if body else \
        ["postcat", "-e", "-h", "-q", queue_id]


def act(ex: Executor, action: str, queue_id: Optional[str] = None, *,
        all_deferred: bool = False, all_messages: bool = False) -> str:
    """Run ``action`` (:func:`action_argv`); what the command said, made safe to show.

    Raises:
        CommandFailed: the command exited non-zero.
    """
    argv = action_argv(action, queue_id, all_deferred=all_deferred, all_messages=all_messages)
    res = ex.run(argv, quiet=True, timeout=300)
    text = "\n".join(clean(line, 500) for line in res.output.splitlines())
    if not res.ok:
        raise CommandFailed(argv, res.returncode, text)
    return text


def show_message(ex: Executor, queue_id: str, body: bool = False) -> str:
    """The queue file of ``queue_id`` as ``postcat`` prints it (envelope records with the
    size, the headers; the body only with ``body``), every line made safe to show.

    Raises:
        QueueUnreadable: no such message (any more), or postcat failed.
    """
    res = ex.run(show_argv(queue_id, body), quiet=True, timeout=120)
    if not res.ok:
        said = clean(res.output[-300:], 300)
        if "No such file" in res.output or "not found" in res.output:
            raise QueueUnreadable(f"no message {queue_id} in the queue (delivered or "
                                  f"deleted since?): {said}")
        raise QueueUnreadable(f"postcat -q {queue_id}: {said}")
    return "\n".join(clean(line, 1000) for line in res.stdout.splitlines())


def fmt_age(seconds: float) -> str:
    """``45s``, ``12m``, ``2h05m``, ``3d04h``: short enough for a table column."""
    s = int(max(0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def fmt_size(size: int) -> str:
    """``812``, ``3.2K``, ``14M``."""
    if size < 1024:
        return str(size)
    for unit in ("K", "M", "G"):
        size_f = size / 1024
        if size_f < 10:
            return f"{size_f:.1f}{unit}"
        if size_f < 1024 or unit == "G":
            return f"{size_f:.0f}{unit}"
        size = int(size_f)
    return str(size)
