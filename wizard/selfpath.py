"""Where mailwizard itself is: the program a schedule on the target runs (step
``health-timer``).

The path is that of the running installation, never a name looked up in ``$PATH``: the
``mailwizard`` script this process was started as (``sys.argv[0]``), else the one next to
the running interpreter (a venv's ``bin/``). It must be an absolute path of safe characters
(:data:`~wizard.answers.validators.PATH_RE`, no ``..``: it goes into a systemd unit and a
cron line) and, on a real target, an executable regular file there (through the executor,
so ``--root`` targets are checked inside their root).
"""

from __future__ import annotations

import os
import sys
from typing import Optional, Tuple

from .answers.validators import PATH_RE
from .executor import Executor

PROGRAM = "mailwizard"


def running_program() -> Optional[str]:
    """The absolute path of the ``mailwizard`` script of this installation, or None."""
    candidates = []
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) == PROGRAM:
        candidates.append(os.path.abspath(argv0))
    if sys.executable:
        candidates.append(os.path.join(os.path.dirname(sys.executable), PROGRAM))
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.normpath(path)
    return None


def path_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot stand in a unit or a cron line (None: it can)."""
    if not PATH_RE.fullmatch(path) or ".." in path.split("/") or "//" in path:
        return (f"{path!r} is not an acceptable program path (absolute; letters, digits and "
                ". _ + @ - / only)")
    return None


def target_program(ex: Executor, program: Optional[str]) -> Tuple[Optional[str], str]:
    """(``program``, "") when the target can run it, else (None, why not).

    In a dry run or a rehearsal the target is not where the schedule runs: the path is
    checked for its form only."""
    if program is None:
        return None, ("the running mailwizard is not an installed `mailwizard` program (run "
                      "it as installed, e.g. /usr/local/bin/mailwizard)")
    problem = path_problem(program)
    if problem:
        return None, problem
    if ex.dry_run or getattr(ex, "rehearsal", False):
        return program, ""
    st = ex.stat(program, follow=True)
    if st is None or st.is_dir or not st.mode & 0o111:
        return None, f"{program} is not an executable file on the target"
    return program, ""
