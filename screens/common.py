"""Small helpers shared by the screens."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.screen import Screen

from .messages import TaskFailed
from .widgets import ErrorModal


class StyledOnMount:
    """For a screen class: its first showing does not restyle what mounting just styled, nor
    lay out again what its first layout just laid out.

    Textual restyles a screen's every widget each time the screen is shown (``ScreenResume``),
    also the first time, right after mounting styled them all; on the answers form that second
    pass was a fifth of the key that opens it. This handler runs before Textual's own (a
    subclass's handlers come first) and turns that first restyle off; later showings (back
    from a step, a modal closed) restyle as before."""

    _shown_once = False

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        if not self._shown_once:
            self._shown_once = True
            event.refresh_styles = False

    def on_resize(self, event: events.Resize) -> None:
        """Skip Textual's layout of the screen again at the size it is laid out at.

        A screen's first layout gives it its size, and Textual then sends the screen a resize
        event for it, whose handler lays the whole screen out once more (and the screens
        below it): a quarter of the layout time of opening the answers form. A resize to
        another size (the terminal's) is handled by Textual as before: the screen's region is
        the one its last layout gave it (its ``size`` is the terminal's at once)."""
        if event.size == self.region.size:  # type: ignore[attr-defined]
            event.stop()
            event.prevent_default()


def show_error(screen: Screen[Any], message: TaskFailed) -> None:
    """Show a worker's exception in an error modal, in words."""
    exc = message.error
    if message.cancelled:
        screen.notify("Stopped. The journal is consistent; run mailwizard again to resume.",
                      title="Interrupted", severity="warning")
        return
    title = getattr(exc, "title", "") or "Unexpected error"
    output = getattr(exc, "output", "") or ""
    text = str(exc) or exc.__class__.__name__
    if not hasattr(exc, "title"):
        text = f"{exc.__class__.__name__}: {text}\n\nNothing further was changed. " \
               "Please report this problem."
    screen.app.push_screen(ErrorModal(title, text, output if isinstance(output, str) else ""))


def runbook_default(ctx: Any) -> str:
    """Where the runbook goes unless the admin says otherwise."""

    if ctx.runbook_path is not None:
        return str(ctx.runbook_path)
    return str(ctx.files_dir() / f"mailwizard-runbook-{ctx.platform.id}.md")


def export_runbook(screen: Screen[Any]) -> None:
    """Ask for a file name, then write the runbook (``wizard.runbook``) in a worker."""
    from pathlib import Path
    from typing import Optional

    from wizard.runbook import render_runbook

    from .widgets import PromptModal, PromptResult

    ctx = screen.ctx  # type: ignore[attr-defined]

    def write(result: Optional[PromptResult]) -> None:
        if result is None:
            return
        path = Path(result.value).expanduser()
        fmt = "html" if path.suffix.lower() in (".html", ".htm") else "markdown"

        def task() -> str:
            if ctx.engine is None:
                raise RuntimeError("the steps are not planned yet")
            text = render_runbook(ctx.engine, fmt=fmt)
            path.write_text(text, encoding="utf-8")
            return str(path)

        ctx.runbook_path = path
        screen.app.start_task("runbook", task, screen)  # type: ignore[attr-defined]

    screen.app.push_screen(
        PromptModal("Export the runbook (every step, diff and command)", runbook_default(ctx),
                    help_text="Markdown; a name ending in .html writes HTML."),
        callback=write)


def runbook_written(screen: Screen[Any], path: str) -> None:
    screen.notify(f"Runbook written to {path}", title="Exported")
