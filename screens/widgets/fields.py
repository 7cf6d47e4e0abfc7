"""The answers form's field widgets, styled once when mounted (:mod:`.styled`)."""

from __future__ import annotations

from textual.widgets import Input, Select, TextArea

from .styled import StyledWhenMounted


class FormInput(StyledWhenMounted, Input):
    """:class:`~textual.widgets.Input`, styled once when mounted."""


class FormSelect(StyledWhenMounted, Select[str]):
    """:class:`~textual.widgets.Select`, styled once when mounted."""


class FormTextArea(StyledWhenMounted, TextArea):
    """:class:`~textual.widgets.TextArea`, styled once when mounted."""
