"""A one-line progress indicator across all steps."""

from __future__ import annotations

from typing import List, Tuple

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


def status_mark(status: str) -> Tuple[str, str]:
    """(character, rich style) for a step status."""
    return _MARKS.get(status, ("?", ""))


class StepProgress(Widget):
    """``Steps [**+x-o.....] 4/13 done`` with the current step underlined."""

    DEFAULT_CSS = """
    StepProgress {
        height: 1;
        padding: 0 1;
    }
    """

    statuses: reactive[Tuple[str, ...]] = reactive(tuple)
    current: reactive[int] = reactive(-1)

    def set_steps(self, statuses: List[str], current: int = -1) -> None:
        self.statuses = tuple(statuses)
        self.current = current

    def render(self) -> Text:
        text = Text("Steps [")
        for n, status in enumerate(self.statuses):
            mark, style = status_mark(status)
            if n == self.current:
                style = (style + " reverse").strip()
            text.append(mark, style=style or None)
        done = sum(1 for s in self.statuses if s in (
            "applied", "verified", "skipped", "off", "previewed"))
        text.append(f"] {done}/{len(self.statuses)} done")
        failed = sum(1 for s in self.statuses if s in ("failed", "error"))
        if failed:
            text.append(f", {failed} failed", style="bold red")
        if 0 <= self.current < len(self.statuses):
            text.append(f"  - step {self.current + 1}", style="dim")
        return text
