"""Textual's footer, rebuilt only when the keys it shows change."""

from __future__ import annotations

from typing import Any, Optional, Tuple

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


class KeysFooter(Footer):
    """The footer every screen shows (``compact``).

    Textual's footer composes all its keys again each time the screen's bindings may have
    changed: a focus change, ``refresh_bindings``, a new screen; opening a step did that seven
    times in one key press. This one waits for the refresh, compares what it would show with
    what it shows, and rebuilds only when they differ (issue 13: no key over 0.3 s)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("compact", True)
        super().__init__(**kwargs)
        self._shown: Optional[Tuple[Any, ...]] = None
        self._check_due = False

    def _what_it_shows(self) -> Tuple[Any, ...]:
        app = self.app
        return tuple(
            (key, binding.action, binding.description, app.get_key_display(binding),
             binding.show, binding.group, bool(enabled), tooltip)
            for key, (_node, binding, enabled, tooltip) in self.screen.active_bindings.items()
            if binding.show or key == app.COMMAND_PALETTE_BINDING)

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._shown = self._what_it_shows()
        yield from super().compose()

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._check_due:
            self._check_due = True
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        self._check_due = False
        if self.is_attached and self._what_it_shows() != self._shown:
            await self.recompose()
