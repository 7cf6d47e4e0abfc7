"""The rehearsal's executor: files changed for real in a scratch root, commands recorded.

A rehearsal runs apply, verify, rollback and resume exactly as on a server, against a scratch
copy of the target (the platform's stock files in a directory of their own, see
:mod:`wizard.rehearsal`). :class:`RehearsalExecutor` is the real :class:`Executor` for every
file operation (so every write stays inside the scratch root, links resolved there as in a
chroot), and for commands it starts nothing: each is recorded (shown in the live log as
``rehearsal: would run ...`` and appended to a commands file) and answered by a
:class:`~wizard.executor.simulated.SimulatedSystem`, the way the server would after the
command succeeded.

Checks are never answered that way: inside :meth:`RehearsalExecutor.checking` (the engine's
verify) a command or a daemon probe raises :class:`NotCheckedInRehearsal`, and the checks
that need one say "not checked in a rehearsal" instead of passing.
"""

from __future__ import annotations

import contextlib
import shlex
import time
from pathlib import Path
from typing import Iterator, List, Mapping, Optional, Sequence, Tuple

from ..errors import CommandFailed, ExecutorError
from .accounts_sim import account_tool
from .process import CommandResult, OutputCallback, safe_line
from .root import Executor
from .simulated import SimulatedSystem

REHEARSAL_PREFIX = "rehearsal: would run "
"""How a recorded command shows in the live log."""


class NotCheckedInRehearsal(ExecutorError):
    """A check asked the running system (a command, a daemon): a rehearsal has none."""

    title = "Not checked in a rehearsal"


class RehearsalExecutor(Executor):
    """Real file operations under the scratch ``root``; commands recorded and answered by
    ``system``; ``commands_log`` (optional) gets one line per command that would have run.
    """

    dry_run = False
    rehearsal = True

    def __init__(self, root: Path | str, system: SimulatedSystem,
                 commands_log: Optional[Path] = None,
                 on_output: Optional[OutputCallback] = None, pace: float = 0.0) -> None:
        super().__init__(root, host_commands=True, on_output=on_output)
        if self.is_real_root:
            raise ExecutorError("a rehearsal never works on / : give it a scratch root")
        self.system = system
        self.commands_log = commands_log
        self.recorded: List[Tuple[str, bool]] = []
        """(shell line, probe?) of every command asked for, in order."""
        self._checking = False
        self.pace = pace
        """Seconds each command that would run takes (0: none), so a person can follow the
        log; ``MAILWIZARD_REHEARSAL_PACE`` sets it (:func:`wizard.rehearsal.open_scratch`)."""

    # ------------------------------------------------------------------ checks
    @contextlib.contextmanager
    def checking(self) -> Iterator[None]:
        """While checks run, refuse to make up a command's or a daemon's answer."""
        old, self._checking = self._checking, True
        try:
            yield
        finally:
            self._checking = old

    def _refuse(self, what: str) -> None:
        if self._checking:
            raise NotCheckedInRehearsal(what)

    # ------------------------------------------------------------------ programs, daemons
    def which(self, name: str) -> Optional[str]:
        return f"/usr/bin/{name}" if self.system.has_program(name) else None

    def daemon_pid(self, pidfile: str, names: Sequence[str]) -> Optional[int]:
        self._refuse(f"whether {names[0] if names else pidfile} runs")
        return None  # no process runs in a rehearsal

    def stop_daemon(self, pidfile: str, names: Sequence[str], timeout: float = 30.0) -> None:
        self._record(["kill", "-TERM", f"$(cat {pidfile})"], quiet=False)

    # ------------------------------------------------------------------ commands
    def _record(self, argv: Sequence[str], quiet: bool) -> None:
        line = " ".join(shlex.quote(a) for a in argv)
        self.recorded.append((line, quiet))
        if quiet:
            return
        if self.commands_log is not None:
            with open(self.commands_log, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        show = safe_line(self.on_output)
        if show is not None:
            show(REHEARSAL_PREFIX + line)
        if self.pace > 0:
            time.sleep(self.pace)

    def run(self, argv: Sequence[str], *, input: Optional[str] = None,
            env: Optional[Mapping[str, str]] = None, check: bool = False,
            timeout: Optional[float] = 600, daemon: bool = False,
            quiet: bool = False) -> CommandResult:
        """Record ``argv`` (never its input: it may hold a password) and answer it."""
        argv = [str(a) for a in argv]
        self._refuse(f"`{' '.join(shlex.quote(a) for a in argv)}`")
        self._record(argv, quiet)
        result = self.system.answer(argv, quiet, lambda a: account_tool(self, a))
        self.history.append(result)
        if check and not result.ok:
            raise CommandFailed(argv, result.returncode, result.output)
        return result
