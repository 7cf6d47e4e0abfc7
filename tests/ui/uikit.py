"""Helpers for the TUI tests (a plain module: test files import it, never ``conftest``,
which a whole-suite run may resolve to another directory's conftest)."""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Callable, Coroutine, List

from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import RichLog

from screens.context import Machine
from wizard.recipe import Recipe

#: Snapshots and defaults must not depend on the machine the tests run on.
FROZEN_MACHINE = Machine(hostname="mail.ci.example", platform_name="Test Linux 1")

MAIN_CF = """\
# Global Postfix configuration file (test copy).
#
#myhostname = host.domain.tld
#mydomain = domain.tld
inet_interfaces = localhost
"""


def walk_recipes() -> List[Recipe]:
    """The real steps when they exist, else the test steps."""
    from allsteps import real_steps
    from ui_recipes import test_recipes

    return real_steps() or test_recipes()


def text_of(widget: Widget) -> str:
    """The plain text a widget shows."""
    rendered: Any = widget.render()
    plain = getattr(rendered, "plain", None)
    return plain if isinstance(plain, str) else str(rendered)


async def settle(pilot: Pilot[Any]) -> None:
    """Let workers finish and the UI catch up. A key's message may start its worker only
    after the first pause (on a loaded machine, later still), so wait in rounds."""
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def until(pilot: Pilot[Any], cond: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Settle until ``cond()`` holds or ``timeout`` seconds pass; the last ``cond()``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        await settle(pilot)
        if cond() or loop.time() >= end:
            return cond()
        await asyncio.sleep(0.02)


async def paused_until(pilot: Pilot[Any], cond: Callable[[], bool],
                       timeout: float = 10.0) -> bool:
    """Pause until ``cond()`` holds or ``timeout`` seconds pass; the last ``cond()``. Only
    pauses (``until`` also waits for the workers): safe while a worker is held."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond() and loop.time() < end:
        await pilot.pause()
        await asyncio.sleep(0.02)
    return cond()


async def shows(pilot: Pilot[Any], widget: Widget, want: str, timeout: float = 10.0) -> str:
    """What ``widget`` shows once it holds ``want`` (or after ``timeout`` s). The answers
    form validates once per refresh, after the changes of that refresh have bubbled up to it
    (one pause is not always enough on a loaded machine: a CI run read an empty error line)."""
    await paused_until(pilot, lambda: want in text_of(widget), timeout)
    return text_of(widget)


async def cleared(pilot: Pilot[Any], widget: Widget, timeout: float = 10.0) -> bool:
    """Whether an error line ``widget`` is hidden, waiting as ``shows`` does."""
    return await paused_until(pilot, lambda: not widget.has_class("-shown"), timeout)


async def preloaded(pilot: Pilot[Any], timeout: float = 10.0) -> None:
    """Wait until the app's preload has run to its end. It starts only after the first
    refresh, so a worker wait may come before it has started (a loaded machine)."""
    assert await until(pilot, lambda: bool(getattr(pilot.app, "preloaded", False)), timeout), \
        "the preload did not end"


def footer_agrees(screen: Any) -> bool:
    """Whether the screen's footer shows its bindings as they are now: each key shown is
    dimmed exactly when its action is disabled, and every shown action has its key."""
    from textual.widgets._footer import FooterKey

    active = screen.active_bindings
    keys = list(screen.query(FooterKey))
    for key in keys:
        binding = active.get(key.key)
        if binding is not None and key.has_class("-disabled") == binding.enabled:
            return False
    wanted = {b.binding.action for b in active.values() if b.binding.show}
    return wanted <= {key.action for key in keys}


async def footer_current(pilot: Pilot[Any], timeout: float = 10.0) -> None:
    """Wait until the footer agrees with the bindings (it looks at them again after the
    refresh that follows a change, and a snapshot taken before caught dimmed keys)."""
    assert await until(pilot, lambda: footer_agrees(pilot.app.screen), timeout), \
        "the footer does not show the screen's bindings as they are"


async def steady(pilot: Pilot[Any]) -> None:
    """Ready for a snapshot: every cursor stops blinking (it then stays shown: a blinking
    cursor is drawn or not depending on when the screenshot is taken, which made the SVGs
    flaky under load), and the footer shows the bindings as they are."""
    from textual.widgets import Input, TextArea

    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    for area in pilot.app.screen.query(TextArea):
        area.cursor_blink = False
    await footer_current(pilot)
    await pilot.pause()


def log_lines(screen: Any, selector: str = "#step-log") -> str:
    """The lines a RichLog shows now."""
    return "\n".join(s.text for s in screen.query_one(selector, RichLog).lines)


async def log_shows(pilot: Pilot[Any], screen: Any, want: str, selector: str = "#step-log",
                    timeout: float = 10.0) -> str:
    """The lines of a log the admin is looking at, once they hold ``want`` (or after
    ``timeout`` s). A RichLog keeps what is written before it knows its size until its first
    resize, and a log on a tab not shown gets none: a fast apply shows the log tab, then the
    checks tab, and on a loaded machine the log may never have been laid out between (a CI
    run read an empty log there). So the log must be on screen, as the admin would have it
    (tab 3). Only pauses: safe while a worker is held."""
    log = screen.query_one(selector, RichLog)
    await paused_until(pilot, lambda: want in log_lines(screen, selector), timeout)
    assert log.region.area, f"{selector} is not on screen: show its tab before reading it"
    return log_lines(screen, selector)


def run_async(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test with asyncio.run (no pytest-asyncio needed); fixtures still work."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return wrapper
