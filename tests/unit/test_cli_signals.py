"""The headless CLI under signals and closed outputs.

Each case runs ``mailwizard apply --yes`` in a subprocess (its own session, so the signals it
sends to its process group stay there) on a temporary root with one test step of three file
writes. The signal is sent while the second file is written, as a dropped SSH connection or a
Ctrl-C would arrive in the middle of a change.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, Optional

import pytest
import yaml
from fake_target import debian12_root

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path

    import wizard.engine
    from wizard import changes as ch
    from wizard.cli import main
    from wizard.executor import Executor
    from wizard.recipe import Recipe

    mode, root = sys.argv[1], Path(sys.argv[2])

    class Three(Recipe):
        id = "three"
        title = "Three files"

        def plan(self, ctx):
            return [ch.FileWrite(f"/etc/mw/{n}.conf", n + "\\n") for n in "abc"]

    wizard.engine.default_recipes = lambda: [Three()]

    def dead_output():
        # what a hung-up terminal or a gone pipe reader leaves: every write fails
        r, w = os.pipe()
        os.close(r)
        os.dup2(w, 1)
        os.dup2(w, 2)

    real_write = Executor.write_atomic

    def write_atomic(self, target, *a, **kw):
        if target == "/etc/mw/b.conf":
            group = os.getpgid(0)
            if mode == "hup":
                dead_output()
                os.killpg(group, signal.SIGHUP)
            elif mode == "term":
                os.kill(os.getpid(), signal.SIGTERM)
            elif mode == "int":
                os.killpg(group, signal.SIGINT)
            elif mode == "term-twice":
                os.kill(os.getpid(), signal.SIGTERM)
                os.kill(os.getpid(), signal.SIGTERM)
        return real_write(self, target, *a, **kw)

    Executor.write_atomic = write_atomic
    if mode == "pipe":
        dead_output()
    common = ["--yes", "--answers", "demo", "--root", str(root), "--state-dir",
              str(root / "state")]
    if mode == "rollback-term":
        assert main(["apply", *common]) == 0
        real_remove = Executor.remove

        def remove(self, target):
            if target == "/etc/mw/b.conf":
                os.kill(os.getpid(), signal.SIGTERM)
            return real_remove(self, target)

        Executor.remove = remove
        rc = main(["rollback", *common])
    else:
        rc = main(["apply", *common])
    (root / "rc").write_text(str(rc))
    sys.exit(rc)
""")


def _apply(tmp_path: Path, mode: str, env: Optional[Dict[str, str]] = None
           ) -> subprocess.CompletedProcess:
    root = debian12_root(tmp_path / "root")
    return subprocess.run([sys.executable, "-c", SCRIPT, mode, str(root)], cwd=REPO,
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, start_new_session=True,
                          env={**os.environ, **(env or {})})


def _step(tmp_path: Path) -> Dict:
    data = yaml.safe_load((tmp_path / "root/state/session.yaml").read_text())
    return data["steps"]["three"]


@pytest.mark.parametrize("mode", ["term", "int"])
def test_signal_stops_at_the_next_change_boundary(tmp_path: Path, mode: str) -> None:
    res = _apply(tmp_path, mode)
    assert res.returncode == 130, res.stdout + res.stderr
    assert "stopping after the current change" in res.stderr
    assert "Traceback" not in res.stderr
    root = tmp_path / "root"
    assert not (root / "etc/mw/c.conf").exists()  # the change after the signal never ran
    assert (root / "rc").read_text() == "130"
    assert _step(tmp_path)["status"] != "applied"


@pytest.mark.parametrize("sig", ["TERM", "HUP"])
def test_signal_right_after_the_first_session_write_ends_in_130(tmp_path: Path,
                                                               sig: str) -> None:
    """The first write of apply records what the session is about (answers, platform); a
    signal right after it is handled like any other (found by tests/e2e/test_faults.py)."""
    res = _apply(tmp_path, "plain", {"MAILWIZARD_FAULT_AT": "1",
                                     "MAILWIZARD_FAULT_SIGNAL": sig})
    assert res.returncode == 130, res.stdout + res.stderr
    assert not (tmp_path / "root/etc/mw/a.conf").exists()
    data = yaml.safe_load((tmp_path / "root/state/session.yaml").read_text())
    assert data["answers"]["hostname"] == "mail.example.com"


def test_second_sigterm_is_a_hard_stop(tmp_path: Path) -> None:
    res = _apply(tmp_path, "term-twice")
    assert res.returncode == 130, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "root/etc/mw/c.conf").exists()


def test_sigterm_during_rollback_does_not_kill_it_half_way(tmp_path: Path) -> None:
    """The undo in progress completes; the rollback then ends where the engine stops it
    (the whole journal here: each undo is quick), never killed between two undos."""
    res = _apply(tmp_path, "rollback-term")
    assert res.returncode in (0, 130), res.stdout + res.stderr
    assert "stopping after the current change" in res.stderr
    assert "Traceback" not in res.stderr
    root = tmp_path / "root"
    assert not (root / "etc/mw/b.conf").exists()
    if res.returncode == 0:
        assert not any((root / f"etc/mw/{n}.conf").exists() for n in "abc")
        assert _step(tmp_path)["status"] == "rolled-back"


def test_hangup_stops_cleanly_with_the_terminal_gone(tmp_path: Path) -> None:
    """SIGHUP to the process group with stdout/stderr dead (EPIPE, like EIO on a hung-up
    tty): the run stops at the boundary and exits 130; no later write raises."""
    res = _apply(tmp_path, "hup")
    assert res.returncode == 130
    root = tmp_path / "root"
    assert (root / "rc").read_text() == "130"
    assert not (root / "etc/mw/c.conf").exists()
    assert (root / "state/session.yaml").exists()


def test_closed_stdout_never_fails_or_rolls_back_a_change(tmp_path: Path) -> None:
    """`mailwizard apply --yes | head -1`: every write to stdout fails (BrokenPipeError);
    the step is applied all the same and the exit code is the run's own."""
    res = _apply(tmp_path, "pipe")
    root = tmp_path / "root"
    assert res.returncode == 0
    assert (root / "rc").read_text() == "0"
    assert [(root / f"etc/mw/{n}.conf").read_text() for n in "abc"] == ["a\n", "b\n", "c\n"]
    assert _step(tmp_path)["status"] in ("applied", "verified")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash for pipefail")
def test_plan_into_a_pipe_whose_reader_is_gone_exits_cleanly(tmp_path: Path) -> None:
    """A real pipe whose reader has already gone (``| head -1`` once head has its line):
    every write gets EPIPE. The exit status stays the run's own, with no traceback."""
    cmd = f"{sys.executable} -m wizard.cli plan --diff --answers demo --platform rocky9 | true"
    res = subprocess.run(["bash", "-c", "set -o pipefail; " + cmd], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert "BrokenPipeError" not in res.stderr and "Traceback" not in res.stderr
    assert res.returncode == 0, res.stderr


def test_signal_handlers_are_restored_after_the_run() -> None:
    from wizard.interrupts import StopOnSignal

    before = {s: signal.getsignal(s) for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)}
    stopped = []
    with StopOnSignal(lambda: stopped.append(1)) as stop:
        assert signal.getsignal(signal.SIGTERM) == stop._handle
    assert {s: signal.getsignal(s) for s in before} == before
    assert stopped == []


def test_a_rerun_after_a_stop_says_what_it_resumes_and_finishes(tmp_path: Path) -> None:
    assert _apply(tmp_path, "term").returncode == 130
    root = tmp_path / "root"
    res = subprocess.run([sys.executable, "-c", SCRIPT, "plain", str(root)], cwd=REPO,
                         capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Resuming an interrupted run (three)" in res.stdout
    assert (root / "etc/mw/c.conf").read_text() == "c\n"
    assert _step(tmp_path)["status"] in ("applied", "verified")
