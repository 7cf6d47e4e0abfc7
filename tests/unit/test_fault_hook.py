"""The fault-injection hook of the session: inert by default, exact when asked for."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys
    from wizard.session import Session
    s = Session.open(sys.argv[1])
    for i in range(5):
        s.set_step(f"step{i}", "applied")
    print("finished")
""")


def _run(tmp_path: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "state")],
                          cwd=REPO, env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, text=True, timeout=60)


def test_no_fault_without_the_variable(tmp_path: Path) -> None:
    res = _run(tmp_path, {})
    assert res.returncode == 0 and "finished" in res.stdout


def test_fault_after_the_nth_save(tmp_path: Path) -> None:
    res = _run(tmp_path, {"MAILWIZARD_FAULT_AT": "3", "MAILWIZARD_FAULT_SIGNAL": "TERM"})
    assert res.returncode == -signal.SIGTERM
    data = yaml.safe_load((tmp_path / "state" / "session.yaml").read_text())
    assert sorted(data["steps"]) == ["step0", "step1", "step2"]
