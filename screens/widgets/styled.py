"""Widgets styled once, when they are mounted, not each time a class changes before that.

Textual restyles a widget on the spot each time one of its classes changes, also while the
widget is being built and belongs to no screen yet: Input, Select, Checkbox, TextArea and
Button each do it once or twice in their constructors (the compact look, an Input's first
validity check, a button's variant). Opening the answers form spent some thirty restyles
there, the welcome screen's four buttons ten, each thrown away when the widget is mounted,
since mounting styles every new widget anyway (issue 13). Widgets with
:class:`StyledWhenMounted` skip a restyle asked for while they are not in the app's DOM; once
mounted they restyle as Textual's do. Textual's CSS for ``Input``, ``Button``... applies to
them unchanged (a type selector matches subclasses).
"""

from __future__ import annotations

from textual.widgets import Button


class StyledWhenMounted:
    """Mixin for a widget class (before the Textual class): no restyle until mounted."""

    def update_node_styles(self, animate: bool = True) -> None:
        if self.is_attached:  # type: ignore[attr-defined]
            super().update_node_styles(animate)  # type: ignore[misc]


class WizardButton(StyledWhenMounted, Button):
    """:class:`~textual.widgets.Button`, styled once when mounted."""
