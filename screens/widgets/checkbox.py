"""A checkbox whose state can be read without colour.

Textual draws ``▐X▌`` whether the box is on or off and tells them apart by colour alone; on a
serial console, with ``NO_COLOR`` or to a colour-blind admin both look the same. This one
draws ``▐X▌`` when on and ``▐ ▌`` when off.
"""

from __future__ import annotations

from textual.content import Content
from textual.style import Style
from textual.widgets import Checkbox

from .styled import StyledWhenMounted


class StateCheckbox(StyledWhenMounted, Checkbox):
    """:class:`~textual.widgets.Checkbox` with an empty box when off (styled once, when
    mounted: :mod:`.styled`)."""

    @property
    def _button(self) -> Content:
        button_style = self.get_visual_style("toggle--button")
        side_style = Style(foreground=button_style.background,
                           background=self.background_colors[1])
        return Content.assemble(
            (self.BUTTON_LEFT, side_style),
            (self.BUTTON_INNER if self.value else " ", button_style),
            (self.BUTTON_RIGHT, side_style),
        )
