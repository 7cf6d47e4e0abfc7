"""The only package that touches the target system.

An :class:`Executor` works on a *target root*: ``/`` on a real server, a temporary directory in
unit tests, a mounted image otherwise. Paths given to it are target paths (``/etc/postfix``);
it maps them under the root. Commands run with the ``sh`` package; when the root is not ``/``
they run through ``chroot`` (or, for unit tests, on the host with ``MW_ROOT`` set).

:class:`DryRunExecutor` reads the real root but records every write and command instead of
doing it; probes (``unless`` commands) report "not satisfied" so the plan shows everything.

Modules, by job:

- :mod:`.root`: :class:`Executor`, the target-root file operations (paths resolved inside the
  root, atomic writes, accounts read from the target) and the daemon probes;
- :mod:`.process`: running one command (session of its own, spools, timeouts, signals);
- :mod:`.dry_run`: :class:`DryRunExecutor` and its :class:`Recorded` actions;
- :mod:`.scripted`: :class:`ScriptedExecutor` and :class:`FakeCommand` for unit tests;
- :mod:`.rehearsal`: :class:`RehearsalExecutor`, files real in a scratch root and commands
  recorded, answered by :mod:`.simulated` (account tools in :mod:`.accounts_sim`).
"""

from __future__ import annotations

from .dry_run import DryRunExecutor, Recorded
from .process import DEFAULT_PATH, TERM_GRACE, CommandResult, OutputCallback, run_sh
from .rehearsal import REHEARSAL_PREFIX, NotCheckedInRehearsal, RehearsalExecutor
from .root import MAX_LINKS, Executor, FileStat, sha256
from .scripted import FakeCommand, ScriptedExecutor
from .simulated import SimulatedSystem

__all__ = [
    "DEFAULT_PATH",
    "MAX_LINKS",
    "REHEARSAL_PREFIX",
    "TERM_GRACE",
    "CommandResult",
    "DryRunExecutor",
    "Executor",
    "FakeCommand",
    "FileStat",
    "NotCheckedInRehearsal",
    "OutputCallback",
    "Recorded",
    "RehearsalExecutor",
    "ScriptedExecutor",
    "SimulatedSystem",
    "run_sh",
    "sha256",
]
