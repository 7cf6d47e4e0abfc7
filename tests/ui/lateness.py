"""A loaded machine's timing, made certain: every worker starts, and every callback deferred
until after a refresh runs, ``seconds`` late. ``test.sh`` runs the TUI tests once more with
it (``MAILWIZARD_TEST_LATENESS=0.3``): a test that reads the screen before the app has
reached the state it asserts (one pause where the app needs a refresh, a worker wait before
the worker exists) fails there every time, not once in a few CI runs. Two stops were
refused for such tests; the same run found three screens whose keys stayed dimmed after a
slow task."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from textual.message_pump import MessagePump
from textual.worker import Worker

_applied = False


def apply(seconds: float) -> None:
    """Patch Textual (once per process) so that the deferred work runs ``seconds`` late."""
    global _applied
    if _applied or seconds <= 0:
        return
    _applied = True
    threaded, in_loop = Worker._run_threaded, Worker._run_async
    after_refresh = MessagePump.call_after_refresh

    async def run_threaded(self: Worker[Any]) -> Any:
        await asyncio.sleep(seconds)
        return await threaded(self)

    async def run_async(self: Worker[Any]) -> Any:
        await asyncio.sleep(seconds)
        return await in_loop(self)

    def call_after_refresh(self: MessagePump, callback: Callable[..., Any], *args: Any,
                           **kwargs: Any) -> bool:
        try:
            self.set_timer(seconds, lambda: after_refresh(self, callback, *args, **kwargs))
        except Exception:  # no timer on a pump that is not running: as Textual does
            return after_refresh(self, callback, *args, **kwargs)
        return True

    Worker._run_threaded = run_threaded  # type: ignore[method-assign]
    Worker._run_async = run_async  # type: ignore[method-assign]
    MessagePump.call_after_refresh = call_after_refresh  # type: ignore[method-assign]
