"""Is a daemon running? Read from its pid file and ``/proc``, never from a tool the target may
lack (``kill``, ``pgrep``, ``pidof`` and ``ps`` come with procps, absent from minimal images).

Daemons started through ``chroot <root> ...`` live in mailwizard's own pid namespace, so the
pid in a pid file of the target is a pid of this ``/proc``. A pid file can be stale: the daemon
died and the kernel gave its pid to another program. A pid counts only when the process it
names is alive (not a zombie) and is the daemon: its command name, executable or first
arguments carry one of the expected names.
"""

from __future__ import annotations

import os
import re
from typing import Optional, Sequence, Set

PROC = "/proc"


def read_pid(text: Optional[str]) -> Optional[int]:
    """The pid in a pid file's text (first line, digits only), or None."""
    if not text:
        return None
    first = text.strip().split("\n", 1)[0].strip()
    if not re.fullmatch(r"[0-9]{1,10}", first):
        return None
    pid = int(first)
    return pid if pid > 1 else None


def _basename(word: str) -> str:
    return os.path.basename(word.strip().split(" ", 1)[0]) if word.strip() else ""


def process_names(pid: int, proc: str = PROC) -> Optional[Set[str]]:
    """The names ``pid`` goes by (comm, executable, first arguments); None when no live
    process has that pid. An empty set when /proc cannot tell (not mounted)."""
    base = f"{proc}/{pid}"
    if not os.path.isdir(f"{proc}/self"):  # no /proc here: existence is all we can know
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return set()
    try:
        with open(f"{base}/stat", "rb") as fh:
            stat = fh.read().decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    state = stat.rsplit(")", 1)[-1].split()[:1]
    if state and state[0] in ("Z", "X", "x"):  # exited, not reaped yet
        return None
    names: Set[str] = set()
    comm = stat[stat.find("(") + 1:stat.rfind(")")] if "(" in stat else ""
    if comm:
        names.add(comm)
    try:
        exe = os.readlink(f"{base}/exe")
        names.add(os.path.basename(exe[:-len(" (deleted)")] if exe.endswith(" (deleted)")
                                   else exe))
    except OSError:  # kernel threads, or no permission
        pass
    try:
        with open(f"{base}/cmdline", "rb") as fh:
            argv = fh.read().decode("utf-8", "replace").split("\0")
    except OSError:
        argv = []
    # interpreters (postgrey is perl): the script's path comes in the first few arguments
    names.update(n for n in (_basename(a) for a in argv[:4]) if n)
    return names


def runs_as(pid: int, names: Sequence[str], proc: str = PROC) -> bool:
    """Whether ``pid`` is a live process going by one of ``names``."""
    seen = process_names(pid, proc)
    if seen is None:
        return False
    if not seen:  # no /proc: alive, name unknown
        return True
    # comm holds at most 15 characters
    return any(n in seen or n[:15] in seen for n in names)
