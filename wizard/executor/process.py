"""Running one command on the target in a session of its own, output spooled.

:func:`run_sh` starts the child with ``setsid`` (a hang-up or Ctrl-C on our terminal never
reaches it), holds SIGINT/SIGTERM/SIGHUP back while it is spawned, streams its output lines,
and on a timeout or a hard stop ends its whole process group (SIGTERM, then SIGKILL after
:data:`TERM_GRACE` seconds). :class:`~wizard.executor.Executor.run` builds the command line
and the environment; this module only runs it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Mapping, Optional, Tuple

OutputCallback = Callable[[str], None]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class CommandResult:
    argv: List[str]
    returncode: int
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def output(self) -> str:
        return (self.stdout + ("\n" if self.stdout and self.stderr else "") + self.stderr).strip()



TERM_GRACE = 5.0
"""Seconds a command's process group gets between SIGTERM and SIGKILL."""


def safe_line(on_line: Optional[OutputCallback]) -> Optional[OutputCallback]:
    """``on_line`` that never raises: a closed terminal or pipe must not fail a command."""
    if on_line is None:
        return None

    def call(line: str) -> None:
        try:
            on_line(line)
        except Exception:  # noqa: BLE001 - output is a courtesy, never a reason to fail
            pass

    return call


def run_sh(full: List[str], *, input: Optional[str], env: Mapping[str, str],
            timeout: Optional[float], daemon: bool,
            on_line: Optional[OutputCallback], spool: bool = True) -> CommandResult:
    """Run ``full`` in a session of its own (``subprocess``, ``start_new_session``).

    The child gets its own session (``setsid``): a dropped SSH connection (SIGHUP to our
    process group) or Ctrl-C on our terminal never reaches dpkg or dnf half way through a
    transaction. mailwizard decides instead: the timeout, or a hard stop (KeyboardInterrupt
    while waiting), ends the child's whole process group, SIGTERM then SIGKILL after
    :data:`TERM_GRACE` seconds. The wait has no polling floor: a child that exits at once is
    reaped at once (``sh``'s own timeout loop added 0.1 s to every command).
    """
    prog = full[0]
    resolved = prog if "/" in prog else shutil.which(prog, path=env.get("PATH", DEFAULT_PATH))
    if resolved is None:
        return CommandResult(list(full), 127, "", f"{prog}: command not found")
    # A command that changes the target writes to (unlinked) spool files, not pipes: if the
    # wizard is killed while it runs (dpkg half way through a transaction), it writes on
    # instead of dying of SIGPIPE. Read-only probes (``spool=False``) keep pipes: some tools
    # behave differently when their output is a regular file (Dovecot 2.4.1's
    # ``doveconf -h`` with several keys fails with "Multiple settings matched").
    use_spool = spool or daemon
    out_spool: Optional[_Spool] = _Spool() if use_spool else None
    err_spool: Optional[_Spool] = _Spool() if use_spool else None
    stdin: Any = subprocess.DEVNULL
    if input and not daemon:
        # the input as an unlinked file: never a pipe to feed (no deadlock on a child that
        # does not read it, no SIGPIPE for us), and it outlives a killed wizard
        stdin = tempfile.TemporaryFile(prefix="mw-in-")
        stdin.write(input.encode("utf-8"))
        stdin.flush()
        stdin.seek(0)
    on_line = safe_line(on_line)

    def pump(final: bool = False) -> None:
        if on_line is None or daemon or out_spool is None or err_spool is None:
            return
        for sp in (out_spool, err_spool):
            for line in sp.new_lines(final):
                on_line(line)

    held: List[int] = []
    try:
        try:
            with _signals_deferred(held):  # a stop between fork and here would lose the child
                proc = subprocess.Popen(
                    [resolved] + list(full[1:]), executable=resolved, env=dict(env),
                    stdin=stdin,
                    stdout=out_spool.writer if out_spool is not None else subprocess.PIPE,
                    stderr=err_spool.writer if err_spool is not None else subprocess.PIPE,
                    start_new_session=True, close_fds=True)
        except (FileNotFoundError, PermissionError) as exc:
            code = 127 if not isinstance(exc, PermissionError) else 126
            return CommandResult(list(full), code, "", f"{prog}: {exc.strerror or exc}")
        except OSError as exc:
            if exc.errno == errno.ENOEXEC:
                return CommandResult(list(full), 126, "", f"{prog}: cannot execute")
            raise
        try:
            for signum in held:  # now that the child is known, to the handlers of before
                signal.raise_signal(signum)
            if use_spool:
                done = _wait_until(proc, timeout, pump if on_line is not None else None)
                out, err = b"", b""
            else:
                done, out, err = _communicate(proc, timeout)
            if not done:
                _end_group(proc)
                if not use_spool:
                    out, err = _drain(proc)
                pump(final=True)
                return CommandResult(list(full), 124, "", f"timed out after {timeout} s")
        except BaseException:  # KeyboardInterrupt, SystemExit: a hard stop
            _end_group(proc)
            raise
        pump(final=True)
        code = int(proc.returncode)
        if code < 0:  # died by a signal: report it the shell's way
            code = 128 - code
        if out_spool is not None and err_spool is not None:
            stdout, stderr = out_spool.text(), err_spool.text()
        else:
            stdout, stderr = _decode(out), _decode(err)
    finally:
        for f in (out_spool, err_spool):
            if f is not None:
                f.close()
        if stdin is not subprocess.DEVNULL:
            stdin.close()
    return CommandResult(list(full), code, stdout, stderr)


def _communicate(proc: subprocess.Popen[bytes], timeout: Optional[float]
                 ) -> Tuple[bool, bytes, bytes]:
    """(exited, stdout, stderr) of a child writing to pipes, at most ``timeout`` seconds."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, b"", b""
    return True, out or b"", err or b""


def _drain(proc: subprocess.Popen[bytes]) -> Tuple[bytes, bytes]:
    """What is left on the pipes of an ended child; a grandchild that left the group and
    holds a pipe open is not waited for beyond a second."""
    try:
        out, err = proc.communicate(timeout=1.0)
        return out or b"", err or b""
    except (subprocess.TimeoutExpired, ValueError, OSError):
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        return b"", b""


@contextlib.contextmanager
def _signals_deferred(held: List[int]) -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back while the child is spawned: a KeyboardInterrupt
    raised half way through ``sh``'s start-up would leave a child nobody knows to end.

    The previous handlers are back on exit; the signals that came meanwhile are in ``held``
    for the caller to deliver again once it can end the child (delivered here at once when
    the spawn failed). Main thread only (signal handlers live there); elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
    old = {s: signal.getsignal(s) for s in sigs}
    for s in sigs:
        signal.signal(s, lambda signum, _frame: held.append(signum) if signum not in held
                      else None)
    ok = False
    try:
        yield
        ok = True
    finally:
        for s, handler in old.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        if not ok:
            while held:
                signal.raise_signal(held.pop(0))


def _wait_until(proc: subprocess.Popen[bytes], timeout: Optional[float],
                tick: Optional[Callable[[], None]] = None) -> bool:
    """Wait for ``proc`` to exit, at most ``timeout`` seconds (None: no limit); False when it
    still runs. Without ``tick`` this is one blocking wait (no polling floor; Ctrl-C still
    interrupts it); with it, ``tick`` (the live output) runs every 1 ms doubling up to 50 ms."""
    if tick is None:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = 0.001
    while True:
        step = pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic()))
        try:
            proc.wait(timeout=step)
            return True
        except subprocess.TimeoutExpired:
            pass
        if deadline is not None and time.monotonic() >= deadline:
            return False
        tick()
        pause = min(pause * 2, 0.05)


class _Spool:
    """A child's output stream as an unlinked temp file: ``writer`` for the child, read back
    through a second, independent file description (its own offset) for live lines."""

    def __init__(self) -> None:
        fd, name = tempfile.mkstemp(prefix="mw-out-")
        try:
            self.writer = os.fdopen(fd, "wb")
            self._reader = open(name, "rb")  # noqa: SIM115
        finally:
            os.unlink(name)
        self._data = bytearray()
        self._shown = 0

    def new_lines(self, final: bool = False) -> List[str]:
        """Complete lines written since the last call (and the unfinished one if final)."""
        chunk = self._reader.read()
        if chunk:
            self._data += chunk
        end = len(self._data) if final else self._data.rfind(b"\n", self._shown) + 1
        if end <= self._shown:
            return []
        part = bytes(self._data[self._shown:end]).decode("utf-8", "replace")
        self._shown = end
        return [line for line in part.splitlines()]

    def text(self) -> str:
        chunk = self._reader.read()
        if chunk:
            self._data += chunk
        return bytes(self._data).decode("utf-8", "replace")

    def close(self) -> None:
        self.writer.close()
        self._reader.close()


def _end_group(proc: subprocess.Popen[bytes], grace: float = TERM_GRACE) -> None:
    """End the process group of ``proc`` (its session: it was started with setsid): SIGTERM,
    up to ``grace`` seconds to exit, then SIGKILL for whatever is left; reap the child."""
    pgid = proc.pid
    try:
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    finally:
        try:
            os.killpg(pgid, signal.SIGKILL)  # stragglers that ignored SIGTERM
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait()
        except Exception:  # noqa: BLE001 - reaping only
            pass


def _decode(data: bytes | str | None) -> str:
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data

