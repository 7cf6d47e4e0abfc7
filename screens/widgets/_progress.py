"""A one-line progress indicator across all steps."""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

_MARKS = {
    "applied": ("+", "green"),
    "verified": ("*", "bold green"),
    "failed": ("x", "bold red"),
    "error": ("!", "bold red"),
    "rolled-back": ("<", "yellow"),
    "skipped": ("-", "dim"),
    "off": ("-", "dim"),
    "previewed": ("o", "cyan"),
    "pending": (".", ""),
}

#: Statuses that count as done in a real run: applied (and checked) only.
DONE = ("applied", "verified")


def status_mark(status: str) -> Tuple[str, str]:
    """(character, rich style) for a step status."""
    return _MARKS.get(status, ("?", ""))


def progress_counts(statuses: Sequence[str], dry_run: bool) -> List[Tuple[str, str]]:
    """The honest counts after the marks, as (text, rich style) parts.

    A dry run changes nothing: steps are ``previewed``, never ``done``. In a real run only
    applied (or applied and checked) steps are ``done``; failed, skipped, rolled back, turned
    off and unplannable steps are counted apart.
    """
    counts: Dict[str, int] = {}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    total = len(statuses)
    if dry_run:
        parts = [(f"{counts.get('previewed', 0)}/{total} previewed", "")]
    else:
        done = sum(counts.get(s, 0) for s in DONE)
        parts = [(f"{done}/{total} done", "")]
        if counts.get("failed"):
            parts.append((f"{counts['failed']} failed", "bold red"))
        if counts.get("rolled-back"):
            parts.append((f"{counts['rolled-back']} rolled back", "yellow"))
    if counts.get("error"):
        parts.append((f"{counts['error']} cannot plan", "bold red"))
    if counts.get("skipped"):
        parts.append((f"{counts['skipped']} skipped", ""))
    if counts.get("off"):
        parts.append((f"{counts['off']} off", "dim"))
    return parts


class StepProgress(Widget):
    """``Steps [**+x-o.....] 4/13 done, 1 failed`` with the current step in reverse video.

    In a dry run the count reads ``3/13 previewed``: nothing is ever done there."""

    DEFAULT_CSS = """
    StepProgress {
        height: 1;
        padding: 0 1;
    }
    """

    statuses: reactive[Tuple[str, ...]] = reactive(tuple)
    current: reactive[int] = reactive(-1)
    dry_run: reactive[bool] = reactive(False)

    def set_steps(self, statuses: List[str], current: int = -1,
                  dry_run: bool = False) -> None:
        self.statuses = tuple(statuses)
        self.current = current
        self.dry_run = dry_run

    def render(self) -> Text:
        text = Text("Steps [")
        for n, status in enumerate(self.statuses):
            mark, style = status_mark(status)
            if n == self.current:
                style = (style + " reverse").strip()
            text.append(mark, style=style or None)
        text.append("] ")
        for n, (part, style) in enumerate(progress_counts(self.statuses, self.dry_run)):
            if n:
                text.append(", ")
            text.append(part, style=style or None)
        if 0 <= self.current < len(self.statuses):
            text.append(f"  - step {self.current + 1}", style="dim")
        return text
