"""A long form shown in sections: the later ones are mounted when the admin gets to them.

Textual lays out and styles every widget of a screen, visible or not: the answers form's two
hundred widgets took about a second to open on a small server. The form opens with the
sections that fill the screen; the next one is mounted when the admin tabs onto the "more"
line at the end or scrolls to the bottom (issue 13: no key over 0.3 s).
"""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static


class LazyForm(VerticalScroll):
    """The form's scrolling area; posts :class:`LazyForm.NearEnd` when scrolled to its end."""

    class NearEnd(Message):
        """The admin scrolled to the end of what the form shows."""

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value > old_value and new_value >= self.max_scroll_y - 1:
            self.post_message(self.NearEnd())


class MoreFields(Static, can_focus=True):
    """The last line of a form with sections still to show; focusing it shows the next."""

    DEFAULT_CSS = """
    MoreFields {
        color: $text-muted;
        text-style: italic;
        margin-top: 1;
        &:focus {
            text-style: bold italic;
        }
    }
    """

    class Reached(Message):
        """Focus came to the "more" line (Tab from the last field)."""

    def on_focus(self) -> None:
        self.post_message(self.Reached())
