"""The unit tests' executor: real file operations under a temporary root, commands answered
from a script (no process is started)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence

from ..errors import CommandFailed
from .process import CommandResult
from .root import Executor


@dataclass
class FakeCommand:
    """A scripted answer for :class:`ScriptedExecutor` (unit tests of recipes)."""

    returncode: int = 0
    stdout: str = ""
    stderr: str = ""


class ScriptedExecutor(Executor):
    """Real file operations under a temp root; commands answered from a script.

    ``script`` maps a command prefix (joined argv) to a :class:`FakeCommand` or a callable that
    gets the argv and the executor (to emulate side effects such as ``useradd``).
    """

    def __init__(self, root: os.PathLike[str] | str,
                 script: Optional[Dict[str, object]] = None) -> None:
        super().__init__(root, host_commands=True)
        self.script: Dict[str, object] = dict(script or {})
        self.calls: List[List[str]] = []
        self.last_input: Optional[str] = None
        """The input of the last command run (a scripted answer may read it)."""

    def daemon_pid(self, pidfile: str, names: Sequence[str]) -> Optional[int]:
        """Scripted as the pseudo command ``daemon-pid PIDFILE NAME...``: exit 0 means it runs
        (unscripted: it runs, like every unscripted command succeeds); stdout may give the
        pid."""
        res = self.run(["daemon-pid", pidfile, *names], quiet=True)
        if not res.ok:
            return None
        out = res.stdout.strip()
        return int(out) if out.isdigit() else 0

    def stop_daemon(self, pidfile: str, names: Sequence[str], timeout: float = 30.0) -> None:
        """Scripted as the pseudo command ``daemon-stop PIDFILE NAME...``."""
        self.run(["daemon-stop", pidfile, *names], check=True)

    def run(self, argv: Sequence[str], *, input: Optional[str] = None,
            env: Optional[Mapping[str, str]] = None, check: bool = False,
            timeout: Optional[float] = 600, daemon: bool = False,
            quiet: bool = False) -> CommandResult:
        argv = [str(a) for a in argv]
        self.calls.append(argv)
        self.last_input = input
        joined = " ".join(argv)
        answer: object = FakeCommand()
        best = -1
        for prefix, ans in self.script.items():
            if joined.startswith(prefix) and len(prefix) > best:
                best, answer = len(prefix), ans
        if callable(answer):
            answer = answer(argv, self)
        assert isinstance(answer, FakeCommand)
        res = CommandResult(argv, answer.returncode, answer.stdout, answer.stderr)
        self.history.append(res)
        if check and not res.ok:
            raise CommandFailed(argv, res.returncode, res.output)
        return res
