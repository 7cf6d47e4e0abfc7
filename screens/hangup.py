"""Surviving a terminal that goes away: signal handlers and a hang-up-safe Textual driver.

A dropped SSH connection (SIGHUP), SIGTERM or SIGINT stops the wizard between two changes and
exits 130 with the session saved (:func:`install_signal_handlers`); after a hang-up the
standard streams are detached (:func:`detach_from_terminal`) and Textual's Linux driver is
replaced by one that neither dies on EIO nor spins on end-of-file
(:func:`hangup_safe_driver`). Used by :class:`screens.app.MailWizardApp`.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import threading
from typing import Any, Optional, Protocol

from wizard.interrupts import SafeOutput, detach_terminal

from .context import WizardContext

EXIT_INTERRUPTED = 130


class Stoppable(Protocol):
    """What the handlers need from the app (:class:`screens.app.MailWizardApp`)."""

    ctx: WizardContext
    loop: Optional[asyncio.AbstractEventLoop]

    def hang_up(self) -> None: ...


def install_signal_handlers(app: Stoppable) -> None:
    """A dropped SSH connection (SIGHUP), SIGTERM or SIGINT stops between two changes and
    exits 130 with the session saved.

    After SIGHUP the terminal is gone: standard output and error are pointed at /dev/null and
    standard input at a pipe that never delivers, so the rest of the run (which can take
    minutes of package installation) neither fails on EIO nor spins on end-of-file. SIGINT
    (only ``kill -INT``: the terminal is in raw mode) is handled the same way."""

    def handler(signum: int, frame: Any) -> None:
        if signum == signal.SIGHUP:
            detach_from_terminal(app)
        loop = app.loop
        if app.ctx.engine is not None:
            app.ctx.engine.cancelled = True
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(app.hang_up)
        else:  # not running yet / any more
            raise SystemExit(EXIT_INTERRUPTED)

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, handler)


def detach_from_terminal(app: Stoppable) -> None:
    if getattr(app, "_hung_up", False):
        return
    app._hung_up = True  # type: ignore[attr-defined]
    detach_terminal(stdin=False)
    try:
        # a pipe whose writer stays open: never readable, so the input thread's select()
        # sleeps instead of spinning on end-of-file; non-blocking, so a read already on its
        # way (the old terminal said "readable") fails at once instead of blocking for good
        quiet, keep = os.pipe()
        os.set_blocking(quiet, False)
        os.dup2(quiet, 0)
        os.close(quiet)
        app._quiet_stdin = keep  # type: ignore[attr-defined]
    except OSError:
        pass


@functools.cache
def hangup_safe_driver() -> Optional[type]:
    """Textual's Linux driver, made safe for a terminal that disappears: its writer thread
    writes through :class:`SafeOutput` (an EIO would kill the thread, then the app blocks on
    its full queue) and its input thread waits for the exit on a read error instead of
    panicking while a change is still being applied."""
    try:
        from textual.drivers.linux_driver import LinuxDriver
    except ImportError:  # pragma: no cover - not Linux
        return None

    class HangupSafeDriver(LinuxDriver):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if getattr(self, "_file", None) is not None:
                self._file = SafeOutput(self._file)  # type: ignore[assignment,arg-type]

        def run_input_thread(self) -> None:
            try:
                super().run_input_thread()
            except OSError:  # the terminal hung up: no more input
                self.exit_event.wait()

    return HangupSafeDriver
