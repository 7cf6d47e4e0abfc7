"""A modal showing a block of text (a queued message, a log event): scrolls, Esc closes."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class TextModal(ModalScreen[None]):
    """``title`` over ``text`` (plain text: markup is not interpreted). Esc, Enter or q
    closes it; arrows and PgUp/PgDn scroll."""

    DEFAULT_CSS = """
    TextModal {
        align: center middle;
        & > Vertical {
            width: 78;
            max-width: 100%;
            height: auto;
            max-height: 100%;
            border: round $primary;
            background: $surface;
            padding: 0 1;
        }
        & #text-title { text-style: bold; }
        & #text-body { height: auto; max-height: 19; }
        & #text-foot { color: $text-muted; }
    }
    """

    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.text_title = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.text_title), id="text-title")
            with VerticalScroll(id="text-body", can_focus=True):
                yield Static(Text(self.text))
            yield Static("Esc closes; arrows or PgUp/PgDn scroll.", id="text-foot")

    def on_mount(self) -> None:
        self.query_one("#text-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
