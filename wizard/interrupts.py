"""Stopping safely: signals in the headless CLI, and output that may have nowhere to go.

:class:`StopOnSignal` turns SIGHUP, SIGTERM and SIGINT into a request to stop at the next
change boundary (the engine's ``cancelled`` flag); a second SIGINT or SIGTERM is a hard stop
(KeyboardInterrupt). After SIGHUP the terminal is gone, so standard input and output are
pointed at /dev/null at once: nothing printed later can fail. :class:`SafeOutput` wraps a
stream so that a closed pipe (``mailwizard apply --yes | head -1``) or a dead terminal never
raises into a change: the first write error silences the stream for good.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import Any, Callable, Dict, Optional, TextIO

STOP_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)

_NAMES: Dict[int, str] = {signal.SIGHUP: "hang-up (SIGHUP)", signal.SIGTERM: "SIGTERM",
          signal.SIGINT: "Ctrl-C (SIGINT)"}


def detach_terminal(stdin: bool = True) -> None:
    """Point fds 1 and 2 (and 0) at /dev/null: writes then always succeed, reads see EOF.

    Used when the terminal hung up or a pipe reader went away; never raises."""
    targets = [(1, os.O_WRONLY), (2, os.O_WRONLY)] + ([(0, os.O_RDONLY)] if stdin else [])
    for fd, mode in targets:
        try:
            null = os.open(os.devnull, mode)
        except OSError:
            return
        try:
            os.dup2(null, fd)
        except OSError:
            pass
        finally:
            os.close(null)


class SafeOutput:
    """A text stream whose write errors are swallowed (and silence it from then on).

    On the first error (EPIPE, EIO, a closed file) the underlying descriptor, when it has
    one, is pointed at /dev/null, so the interpreter's final flush cannot fail either."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.broken = False

    def _fail(self) -> None:
        self.broken = True
        try:
            fd = self.stream.fileno()
        except (OSError, ValueError, AttributeError):
            return
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, fd)
            finally:
                os.close(null)
        except OSError:
            pass

    def write(self, text: str) -> int:
        if self.broken:
            return len(text)
        try:
            self.stream.write(text)
        except (OSError, ValueError):
            self._fail()
        return len(text)

    def flush(self) -> None:
        if self.broken:
            return
        try:
            self.stream.flush()
        except (OSError, ValueError):
            self._fail()

    def isatty(self) -> bool:
        try:
            return not self.broken and self.stream.isatty()
        except (OSError, ValueError):
            return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _say(text: str) -> None:
    """One line on stderr, straight to the descriptor (safe inside a signal handler)."""
    try:
        os.write(2, text.encode("utf-8", "replace"))
    except OSError:
        pass


class StopOnSignal:
    """While active (``with``), SIGHUP/SIGTERM/SIGINT call ``on_stop`` once and let the run
    finish the change in progress; a second SIGINT or SIGTERM raises KeyboardInterrupt.

    Only the main thread can own signal handlers; elsewhere this does nothing."""

    def __init__(self, on_stop: Callable[[], None], what: str = "the current change") -> None:
        self.on_stop = on_stop
        self.what = what
        self.signal: Optional[int] = None
        """The first stop signal received, or None."""
        self.hung_up = False
        self._old: Dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def _handle(self, signum: int, frame: Optional[FrameType]) -> None:
        if signum == signal.SIGHUP:
            if not self.hung_up:
                self.hung_up = True
                detach_terminal()
        first = self.signal is None
        if first:
            self.signal = signum
            try:
                self.on_stop()
            finally:
                if not self.hung_up:
                    _say(f"\n{_NAMES.get(signum, 'signal')}: stopping after {self.what}; "
                         "the session is saved and the next run resumes. Press Ctrl-C again "
                         "to stop at once (the running command is ended).\n")
            return
        if signum in (signal.SIGINT, signal.SIGTERM):
            raise KeyboardInterrupt

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
        self._old.clear()
