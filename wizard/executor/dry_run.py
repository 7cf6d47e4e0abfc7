"""The dry run's executor: reads the real root, records every write and command instead.

Probes (``quiet`` commands, the ``unless`` checks) answer "not satisfied", so a dry-run plan
shows every change that could be needed.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from typing import List, Mapping, Optional, Sequence

from .process import CommandResult, OutputCallback
from .root import Executor


@dataclass
class Recorded:
    """One action a dry run would have taken."""

    kind: str  # write | remove | mkdir | chown | run
    target: str
    detail: str = ""


class DryRunExecutor(Executor):
    """Reads the real root, records writes and commands, changes nothing."""

    dry_run = True

    def __init__(self, root: os.PathLike[str] | str = "/",
                 on_output: Optional[OutputCallback] = None) -> None:
        super().__init__(root, host_commands=True, on_output=on_output)
        self.recorded: List[Recorded] = []

    def write_atomic(self, target: str, data: bytes, mode: int, uid: int, gid: int,
                     mtime: Optional[float] = None) -> None:
        self.recorded.append(Recorded("write", target, f"{len(data)} bytes, mode {mode:04o}"))

    def set_meta(self, target: str, mode: Optional[int] = None, uid: Optional[int] = None,
                 gid: Optional[int] = None) -> None:
        self.recorded.append(Recorded("chmod", target, f"{mode} {uid}:{gid}"))

    def remove(self, target: str) -> None:
        self.recorded.append(Recorded("remove", target))

    def makedirs(self, target: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> List[str]:
        self.recorded.append(Recorded("mkdir", target, f"mode {mode:04o}"))
        return []

    def stop_daemon(self, pidfile: str, names: Sequence[str], timeout: float = 30.0) -> None:
        self.recorded.append(Recorded("stop", pidfile, " ".join(names)))

    def run(self, argv: Sequence[str], *, input: Optional[str] = None,
            env: Optional[Mapping[str, str]] = None, check: bool = False,
            timeout: Optional[float] = 600, daemon: bool = False,
            quiet: bool = False) -> CommandResult:
        argv = [str(a) for a in argv]
        self.recorded.append(Recorded("run", " ".join(shlex.quote(a) for a in argv)))
        # probes answer "no": the dry run shows every change that could be needed
        return CommandResult(argv, 1 if quiet else 0, "", "")

