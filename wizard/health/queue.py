"""The mail queue's findings: its size, its oldest message and the deferred reasons.

The queue is read and summarised by :mod:`wizard.mailqueue` (``postqueue -j``, or
``postqueue -p`` where ``-j`` does not exist); this module only judges the summary against
the thresholds of ``mailwizard check``.
"""

from __future__ import annotations

from typing import List, Optional

from ..mailqueue import QueueSummary
from .model import CRITICAL, OK, UNKNOWN, WARNING, Finding


def _age_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def queue_findings(summary: Optional[QueueSummary], *, size_warn: int, size_crit: int,
                   age_warn: int, age_crit: int, skipped: int = 0,
                   why_unknown: str = "") -> List[Finding]:
    """Findings for the queue: its size, its oldest message and the deferred reasons.

    Args:
        summary: the queue summarised (:func:`wizard.mailqueue.summarise` with its five
            most frequent reasons), None when it could not be read (``why_unknown`` says why).
        size_warn, size_crit: message counts.
        age_warn, age_crit: ages of the oldest message in seconds.
        skipped: lines of ``postqueue -j`` that were not queue entries.
    """
    if summary is None:
        return [Finding("queue", "mail queue", UNKNOWN, why_unknown or "not read",
                        "run postqueue -j by hand to see why")]
    n = summary.total
    size_state = CRITICAL if n >= size_crit else WARNING if n >= size_warn else OK
    deferred = summary.by_queue.get("deferred", 0)
    held = summary.by_queue.get("hold", 0)
    detail = f"{n} message(s)" + (f", {deferred} deferred" if deferred else "") + (
        f", {held} on hold" if held else "")
    out = [Finding("queue", "queue size", size_state, detail,
                   "" if size_state == OK else "see mailwizard check's deferred reasons "
                   "and postqueue -p")]
    if not summary.oldest_id:
        out.append(Finding("queue", "oldest queued message", OK, "the queue is empty"))
    else:
        age, qid = summary.oldest_age, summary.oldest_id
        st = CRITICAL if age >= age_crit else WARNING if age >= age_warn else OK
        out.append(Finding(
            "queue", "oldest queued message", st,
            f"{qid} ({summary.oldest_queue}) waiting {_age_text(age)}",
            "" if st == OK else f"postcat -q {qid} shows it; postqueue -f retries, "
            f"postsuper -d {qid} deletes it"))
    for reason, count in summary.reasons[:5]:
        out.append(Finding("queue", "deferred reason", WARNING if count else OK,
                           f"{count}x {reason}", "the receiving side refused or could not be "
                           "reached; fix the cause, then postqueue -f"))
    if skipped:
        out.append(Finding("queue", "queue listing", UNKNOWN,
                           f"{skipped} line(s) of postqueue -j could not be read"))
    return out
