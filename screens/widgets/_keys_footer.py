"""Textual's footer, rebuilt only when the keys it shows change."""

from __future__ import annotations

from typing import Any, Optional, Tuple

from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class KeysFooter(Footer):
    """The footer every screen shows (``compact``).

    Textual's footer composes all its keys again each time the screen's bindings may have
    changed: a focus change, ``refresh_bindings``, a new screen; opening a step did that seven
    times in one key press. This one waits for the refresh, compares what it would show with
    what it shows, and rebuilds only when they differ (issue 13: no key over 0.3 s).

    Textual's footer also composes empty the first time, until the screen says its bindings
    are ready, and then composes again: two more layouts of the whole new screen at every
    screen opened. This one shows the keys the screen has when it is composed; the check
    after the refresh rebuilds it if the focus brought other keys."""

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
        if not self._bindings_ready and self.is_attached:
            try:  # a screen's check_action may look for a widget not mounted yet
                self._shown = self._what_it_shows()
            except NoMatches:
                return
            self.set_reactive(Footer._bindings_ready, True)
        elif self._bindings_ready:
            self._shown = self._what_it_shows()
        for widget in super().compose():
            if self.compact and isinstance(widget, FooterKey):
                # the footer binds each key's `compact` to its own once mounted, and the
                # class that sets would restyle the key then: given now, it is a no-op
                widget.add_class("-compact", update=False)
            yield widget

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._check_due:
            self._check_due = True
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        self._check_due = False
        if not self.is_attached:
            return
        now = self._what_it_shows()
        if now == self._shown:
            return
        if self._set_enabled(now):
            self._shown = now
        else:
            await self.recompose()

    def _set_enabled(self, now: Tuple[Any, ...]) -> bool:
        """When only whether keys are enabled changed (a plan done, a task over), dim or
        light the keys shown instead of composing them again (which lays the screen out
        twice more); False when anything else differs."""
        old = self._shown
        if old is None or len(old) != len(now):
            return False
        changed = []
        for was, row in zip(old, now):
            if was[:6] != row[:6] or was[7:] != row[7:]:
                return False
            if was[6] != row[6]:
                changed.append(row)
        keys = {(k.key, k.action): k for k in self.query(FooterKey)}
        if any((row[0], row[1]) not in keys for row in changed):
            return False  # a key of the same action shown in its place: compose
        for row in changed:
            key = keys[(row[0], row[1])]
            # what Textual's FooterKey takes from `disabled=` when it is made: the class
            # that dims it, and the flag that makes a click ring the bell
            key._disabled = not row[6]
            key.set_class(not row[6], "-disabled")
        return True
