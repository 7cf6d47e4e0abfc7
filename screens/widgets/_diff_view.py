"""A scrollable pane showing a step's previews: coloured unified diffs and exact commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Sequence

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

if TYPE_CHECKING:  # rich.syntax (pygments) loads with the first diff, not the first screen
    from rich.syntax import Syntax

    from wizard.changes import Preview

_THEME = "ansi_dark"


def _syntax(code: str, lexer: str) -> Syntax:
    from rich.syntax import Syntax

    return Syntax(code.rstrip("\n"), lexer, theme=_THEME, word_wrap=True,
                  background_color="default")


def _lexer_for(path: str) -> str:
    if path.endswith((".pem", ".crt", ".key", ".csr")):
        return "text"
    if path.endswith(".conf") or path.endswith(".cf") or "/default/" in path:
        return "ini"
    return "text"


def preview_renderables(pv: Preview) -> List[RenderableType]:
    """The header and body of one preview (diff, new file or commands)."""
    mark, style = ("+", "bold green") if pv.changed else ("=", "dim")
    head = Text.assemble((f"{mark} ", style), (pv.title, "bold" if pv.changed else "dim"))
    if not pv.changed:
        head.append("  (already so: nothing to do)", style="dim")
    out: List[RenderableType] = [head]
    if pv.note:
        out.append(Text(f"  {pv.note}", style="italic"))
    if not pv.changed:
        return out
    if pv.diff:
        out.append(_syntax(pv.diff, "diff"))
    elif pv.new_content is not None:
        out.append(Text(f"  new file {pv.path}:", style="dim"))
        out.append(_syntax(pv.new_content, _lexer_for(pv.path)))
    for cmd in pv.commands:
        if pv.kind == "file" and "\n" in cmd:
            if "by hand" not in pv.note:
                out.append(Text("  by hand: the whole file is written (install + cat <<EOF; "
                                "the runbook has the command)", style="dim"))
            continue
        out.append(_syntax("\n".join("$ " + line if n == 0 else "  " + line
                                     for n, line in enumerate(cmd.splitlines())), "bash"))
    return out


class DiffView(VerticalScroll, can_focus=True):
    """The previews of one step, one block per change; scroll with the arrow keys."""

    DEFAULT_CSS = """
    DiffView {
        height: 1fr;
        padding: 0 1;
        & > .preview {
            margin-bottom: 1;
        }
        & > .empty {
            color: $text-muted;
        }
    }
    """

    def __init__(self, previews: Sequence[Preview], empty: str = "No changes.",
                 id: Optional[str] = None) -> None:
        super().__init__(id=id)
        self.previews = list(previews)
        self.empty = empty

    async def show(self, previews: Sequence[Preview], empty: str) -> None:
        """Show another step's previews (the step screen moving to the next step)."""
        self.previews, self.empty = list(previews), empty
        await self.recompose()
        self.scroll_home(animate=False)

    def compose(self) -> ComposeResult:
        if not self.previews:
            yield Static(self.empty, classes="empty")
        for pv in self.previews:
            yield Static(Group(*preview_renderables(pv)), classes="preview")
