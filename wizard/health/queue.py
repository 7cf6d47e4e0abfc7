"""The mail queue: ``postqueue -j`` parsed into size, oldest message and deferred reasons.

``postqueue -j`` prints one JSON object per message (``queue_name``, ``queue_id``,
``arrival_time`` in seconds since the epoch, ``recipients`` with their ``delay_reason``).
A line that is not such an object is skipped and counted, never trusted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from .model import CRITICAL, OK, UNKNOWN, WARNING, Finding

_QUEUE_ID = re.compile(r"[0-9A-Za-z]{5,32}", re.ASCII)
_QUEUES = ("active", "deferred", "hold", "incoming", "maildrop")


@dataclass(frozen=True)
class QueuedMessage:
    queue_id: str
    queue: str
    arrival: int
    """Seconds since the epoch."""
    sender: str
    recipients: Tuple[Tuple[str, str], ...]
    """(address, delay reason; empty when none)."""


@dataclass
class QueueState:
    messages: List[QueuedMessage] = field(default_factory=list)
    skipped: int = 0
    """Lines that were not a message object."""

    def oldest(self) -> Optional[QueuedMessage]:
        return min(self.messages, key=lambda m: m.arrival, default=None)

    def reasons(self) -> List[Tuple[str, int]]:
        """Deferred reasons, most frequent first (the text shortened, without queue ids)."""
        counts: Dict[str, int] = {}
        for m in self.messages:
            for _addr, why in m.recipients:
                if why:
                    key = _short_reason(why)
                    counts[key] = counts.get(key, 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _text(value: Any, limit: int = 300) -> str:
    """A one-line printable rendering of a field from the queue (hostile until cleaned)."""
    s = value if isinstance(value, str) else ""
    s = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in s)
    return s[:limit]


def _short_reason(why: str) -> str:
    text = _text(why, 200)
    return re.sub(r"\s+", " ", text).strip()


def parse_postqueue_json(output: str) -> QueueState:
    state = QueueState()
    for line in output.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            state.skipped += 1
            continue
        if not isinstance(obj, dict):
            state.skipped += 1
            continue
        qid, queue, arrival = obj.get("queue_id"), obj.get("queue_name"), obj.get("arrival_time")
        if (not isinstance(qid, str) or not _QUEUE_ID.fullmatch(qid) or queue not in _QUEUES
                or not isinstance(arrival, int) or isinstance(arrival, bool)):
            state.skipped += 1
            continue
        rcpts = []
        for r in obj.get("recipients") or []:
            if isinstance(r, dict):
                rcpts.append((_text(r.get("address")), _text(r.get("delay_reason"))))
        state.messages.append(QueuedMessage(qid, str(queue), arrival, _text(obj.get("sender")),
                                            tuple(rcpts)))
    return state


def _age_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def queue_findings(state: Optional[QueueState], now: float, *, size_warn: int,
                   size_crit: int, age_warn: int, age_crit: int,
                   why_unknown: str = "") -> List[Finding]:
    """Findings for the queue: its size, its oldest message and the deferred reasons.

    Args:
        state: the parsed queue, None when it could not be read (``why_unknown`` says why).
        now: the current time (seconds since the epoch).
        size_warn, size_crit: message counts.
        age_warn, age_crit: ages of the oldest message in seconds.
    """
    if state is None:
        return [Finding("queue", "mail queue", UNKNOWN, why_unknown or "not read",
                        "run postqueue -j by hand to see why")]
    n = len(state.messages)
    size_state = CRITICAL if n >= size_crit else WARNING if n >= size_warn else OK
    deferred = sum(1 for m in state.messages if m.queue == "deferred")
    held = sum(1 for m in state.messages if m.queue == "hold")
    detail = f"{n} message(s)" + (f", {deferred} deferred" if deferred else "") + (
        f", {held} on hold" if held else "")
    out = [Finding("queue", "queue size", size_state, detail,
                   "" if size_state == OK else "see mailwizard check's deferred reasons "
                   "and postqueue -p")]
    old = state.oldest()
    if old is None:
        out.append(Finding("queue", "oldest queued message", OK, "the queue is empty"))
    else:
        age = now - old.arrival
        st = CRITICAL if age >= age_crit else WARNING if age >= age_warn else OK
        out.append(Finding(
            "queue", "oldest queued message", st,
            f"{old.queue_id} ({old.queue}) waiting {_age_text(age)}",
            "" if st == OK else f"postcat -q {old.queue_id} shows it; postqueue -f retries, "
            f"postsuper -d {old.queue_id} deletes it"))
    for reason, count in state.reasons()[:5]:
        out.append(Finding("queue", "deferred reason", WARNING if count else OK,
                           f"{count}x {reason}", "the receiving side refused or could not be "
                           "reached; fix the cause, then postqueue -f"))
    if state.skipped:
        out.append(Finding("queue", "queue listing", UNKNOWN,
                           f"{state.skipped} line(s) of postqueue -j could not be read"))
    return out
