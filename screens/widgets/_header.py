"""The header of every screen: Textual's, with the title drawn in the first paint.

Textual's header composes an empty title and fills it in after it is mounted (four watchers,
one per title and subtitle of the app and the screen), each time asking for a new layout of
the whole screen. Here the title is there when the header is composed, and a later title
change (the rehearsal's, a step's) repaints the title line only: the line is as wide as the
header whatever it says, so no other widget moves (issue 13: the title asks for no layout;
the test of the screens' layouts counts its requests).
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.widgets import Header
from textual.widgets._header import HeaderClockSpace, HeaderIcon, HeaderTitle


class TitleLine(HeaderTitle):
    """The header's title: a new title is repainted, never laid out (same size)."""

    def update(self, content: Any = "", *, layout: bool = False) -> None:
        if content == self.content:
            return
        super().update(content, layout=layout)


class WizardHeader(Header):
    """:class:`~textual.widgets.Header` with its title from the start (see the module); no
    clock (the wizard never shows one)."""

    def compose(self) -> ComposeResult:
        yield HeaderIcon().data_bind(Header.icon)
        yield TitleLine(self.format_title())
        yield HeaderClockSpace()
