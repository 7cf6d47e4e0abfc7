"""Modals that show a block of text in a framed, scrolling panel: :class:`ScrollPanel` (the
frame, shared with the help screen) and :class:`TextModal` (a queued message, a log event)."""

from __future__ import annotations

from typing import ClassVar, Optional

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class ScrollPanel(ModalScreen[None]):
    """A centred panel, 78 columns at most: an optional bold title line, a body that scrolls
    and takes the keys (arrows, PgUp/PgDn), a muted foot line saying how to close it.

    Subclasses give :meth:`panel_body` (and :meth:`panel_title`), the ids of the body and
    the foot (``PANEL``: ``<PANEL>-title``, ``<PANEL>-body``, ``<PANEL>-foot``), the foot's
    text and the close keys (their ``BINDINGS``)."""

    DEFAULT_CSS = """
    ScrollPanel {
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
        & .panel-title { text-style: bold; }
        & .panel-body { height: auto; max-height: 20; }
        & .panel-foot { color: $text-muted; }
    }
    """

    PANEL: ClassVar[str] = "panel"
    FOOT: ClassVar[str] = "Esc closes; arrows or PgUp/PgDn scroll."

    def panel_title(self) -> Optional[Text]:
        return None

    def panel_body(self) -> RenderableType:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical():
            title = self.panel_title()
            if title is not None:
                yield Label(title, id=f"{self.PANEL}-title", classes="panel-title")
            with VerticalScroll(id=f"{self.PANEL}-body", classes="panel-body", can_focus=True):
                yield Static(self.panel_body())
            yield Static(self.FOOT, id=f"{self.PANEL}-foot", classes="panel-foot")

    def on_mount(self) -> None:
        self.query_one(f"#{self.PANEL}-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)


class TextModal(ScrollPanel):
    """``title`` over ``text`` (plain text: markup is not interpreted). Esc, Enter or q
    closes it; arrows and PgUp/PgDn scroll."""

    DEFAULT_CSS = """
    TextModal #text-body { max-height: 19; }
    """

    PANEL = "text"
    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.text_title = title
        self.text = text

    def panel_title(self) -> Optional[Text]:
        return Text(self.text_title)

    def panel_body(self) -> RenderableType:
        return Text(self.text)
