"""Free space where mail lives: Postfix's spool and the mail homes."""

from __future__ import annotations

import os
from typing import Callable, List, Sequence, Tuple

from ..executor import Executor
from .model import CRITICAL, OK, UNKNOWN, WARNING, Finding

StatFs = Callable[[str], Tuple[int, int, int]]
"""host path -> (device, free bytes for users, total bytes)."""


def statfs(path: str) -> Tuple[int, int, int]:
    st = os.statvfs(path)
    return os.stat(path).st_dev, st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def disk_findings(ex: Executor, paths: Sequence[Tuple[str, str]], warn_pct: int,
                  crit_pct: int, stat: StatFs = statfs) -> List[Finding]:
    """One finding per file system holding one of ``paths`` ((target path, what)): WARNING
    under ``warn_pct`` percent free, CRITICAL under ``crit_pct``."""
    out: List[Finding] = []
    seen = set()
    for path, what in paths:
        if not ex.exists(path):
            continue
        try:
            dev, free, total = stat(str(ex.resolve(path)))
        except OSError as exc:
            out.append(Finding("disk", f"free space for {what}", UNKNOWN,
                               f"{path}: {exc.strerror or exc}"))
            continue
        if dev in seen:
            continue
        seen.add(dev)
        pct = 100.0 * free / total if total else 0.0
        st = CRITICAL if pct < crit_pct else WARNING if pct < warn_pct else OK
        out.append(Finding("disk", f"free space for {what} ({path})", st,
                           f"{_size(free)} free of {_size(total)} ({pct:.0f}%)",
                           "" if st == OK else "free space: a full spool makes Postfix "
                           "refuse mail, a full home loses deliveries"))
    return out
