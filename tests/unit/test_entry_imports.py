"""What ``mailwizard`` loads before its first screen (issue 13: the first screen within 1.5x
of a bare Textual app's start): the entry point and its parser bring neither the engine nor
the answers model (and its YAML parser); the verbs import them when they run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LATER = ("wizard.engine", "wizard.answers", "wizard.session", "wizard.checks", "wizard.run",
         "wizard.report", "wizard.changes", "yaml")


def test_the_entry_point_loads_no_engine_before_the_wizard() -> None:
    code = ("import sys, wizard.cli\n"
            "wizard.cli.build_parser()\n"
            f"print(' '.join(m for m in {LATER!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=str(REPO)).stdout
    assert out.split() == []

