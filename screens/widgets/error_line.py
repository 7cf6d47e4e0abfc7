"""The line under a form field that names its problems."""

from __future__ import annotations

from typing import Any, Sequence

from rich.text import Text
from textual.widgets import Static


class ErrorLine(Static):
    """A field's problems, one per line; hidden (class ``-shown`` off) when there are none.

    The form validates the whole form at each change; updating an unchanged line would still
    lay out the whole form again (a ``Static.update`` asks for a new layout), so it is
    updated only when its messages change."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("classes", "field-error")
        super().__init__("", **kwargs)
        self._messages: Sequence[str] = ()

    def show(self, messages: Sequence[str]) -> None:
        messages = tuple(messages)
        if messages == self._messages:
            return
        self._messages = messages
        self.update(Text("\n".join(messages)))
        self.set_class(bool(messages), "-shown")
