"""scripts/venv.sh (sourced by run.sh and test.sh) says what it is doing while it builds the
virtual environment, so a first ./run.sh never shows a blank terminal for 20 s; a second run
with nothing to do stays silent."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# stands in for python3 and for the venv's python: `-m venv DIR` makes DIR/bin/python (this
# same script); `-m pip ...` records its arguments and succeeds
FAKE_PY = """#!/bin/sh
if [ "$1" = -m ] && [ "$2" = venv ]; then
  mkdir -p "$3/bin" && cp "$0" "$3/bin/python" && exit 0
fi
echo "pip $*" >> "$FAKE_LOG"
echo "pip ran" >&2
"""


def _run(tmp: Path) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    py = tmp / "py"
    py.write_text(FAKE_PY)
    py.chmod(py.stat().st_mode | stat.S_IXUSR)
    (tmp / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    script = f'. "{REPO}/scripts/venv.sh" && ensure_venv "{tmp}/venv" "" "{py}"'
    env = dict(os.environ, FAKE_LOG=str(tmp / "pip.log"))
    return subprocess.run(["bash", "-c", script], cwd=tmp, env=env, capture_output=True,
                          text=True, timeout=60)


def test_first_run_tells_what_it_prepares(tmp_path: Path) -> None:
    res = _run(tmp_path)
    assert res.returncode == 0, res.stderr
    err = res.stderr
    assert "Preparing" in err and "virtual environment" in err
    assert "Installing mailwizard" in err
    assert err.index("Preparing") < err.index("Installing mailwizard")
    assert err.rstrip().endswith("Ready.")
    assert "install -q -e ." in (tmp_path / "pip.log").read_text()


def test_second_run_with_nothing_to_do_is_silent(tmp_path: Path) -> None:
    assert _run(tmp_path).returncode == 0
    (tmp_path / "pip.log").unlink()
    res = _run(tmp_path)
    assert res.returncode == 0 and res.stderr == ""
    assert not (tmp_path / "pip.log").exists()
