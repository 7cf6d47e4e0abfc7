"""The rehearsal in the real program, in a tmux pane of 80x24: apply all, quit in the middle,
restart, resume to the end, verify one step, roll one back; and, without colour, the dry
run's offer that switches to a rehearsal.

The program runs from this checkout (``python -m wizard.cli``). Every wait is for text on
the screen, with generous time-outs; nothing is timed.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator

import pytest
import yaml

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

REPO = Path(__file__).resolve().parents[2]


def flat(text: str) -> str:
    """Screen text with its line breaks and runs of spaces made single spaces (a wrapped
    sentence reads whole)."""
    return " ".join(text.split())


class Pane:
    """One tmux server with one 80x24 window running a command."""

    def __init__(self) -> None:
        self.socket = f"mwrh-{uuid.uuid4().hex[:8]}"

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True,
                              capture_output=True, text=True, timeout=30).stdout

    def start(self, argv: list, env: Dict[str, str]) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-session", "-t", "mw"],
                       capture_output=True, timeout=30)
        cmd = " ".join(shlex.quote(a) for a in argv)
        self.tmux("new-session", "-d", "-s", "mw", "-x", "80", "-y", "24",
                  *[a for k, v in env.items() for a in ("-e", f"{k}={v}")],
                  f"cd {shlex.quote(str(REPO))} && {cmd}; echo EXITED=$?; sleep 120")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "mw")

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        """The screen once ``text`` shows on it (compared with line breaks flattened)."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if flat(text) in flat(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} did not appear within {timeout:g}s; screen:\n{screen}")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "mw", *keys)

    def quit(self, timeout: float = 60.0) -> str:
        """Ctrl+C, confirming a quit question if the program asks one; the exit line."""
        self.keys("C-c")
        deadline = time.monotonic() + timeout
        asked = False
        while time.monotonic() < deadline:
            screen = self.screen()
            if "EXITED=" in screen:
                return screen
            if not asked and "(y)" in screen:
                self.keys("y")
                asked = True
            time.sleep(0.2)
        raise AssertionError(f"the program did not exit; screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=30)


@pytest.fixture
def pane() -> Iterator[Pane]:
    p = Pane()
    yield p
    p.close()


def statuses(scratch: Path) -> Dict[str, str]:
    data = yaml.safe_load((scratch / "state/session.yaml").read_text())
    return {step: info.get("status", "") for step, info in (data.get("steps") or {}).items()}


def to_step_list(pane: Pane) -> None:
    pane.keys("s")
    pane.wait_for("Host name")
    pane.keys("C-n")
    pane.wait_for("Preflight checks", timeout=120)


def test_rehearsal_end_to_end(pane: Pane, tmp_path: Path) -> None:
    scratch = tmp_path / "rehearsal"
    argv = [sys.executable, "-m", "wizard.cli", "--rehearse", "--platform", "rocky9",
            "--answers", "demo", "--state-dir", str(scratch)]
    env = {"TERM": "xterm-256color", "LANG": "C.UTF-8"}

    # 1. apply all, paced so that a person (and this test) can stop it half way
    pane.start(argv, {**env, "MAILWIZARD_REHEARSAL_PACE": "1"})
    screen = pane.wait_for("Start (s)")
    assert "REHEARSAL" in screen
    assert "scratch copy" in flat(screen)
    to_step_list(pane)
    pane.keys("A")
    pane.wait_for("remaining step(s)")
    pane.keys("y")
    # step 3 installs the packages: two commands, so two seconds at this pace
    pane.wait_for("Applying step 3 of", timeout=120)
    assert "rehearsal: would run" in flat(pane.wait_for("rehearsal: would run"))

    # 2. quit in the middle: Ctrl+C asks, then stops after the change in progress
    pane.keys("C-c")
    pane.wait_for("Stop and quit?")
    pane.keys("y")
    screen = pane.wait_for("EXITED=", timeout=120)
    assert "EXITED=130" in screen
    first = statuses(scratch)
    done = [s for s, st in first.items() if st in ("applied", "verified", "skipped")]
    assert len(done) >= 2 and first.get("services") in (None, "pending")

    # 3. restart: the rehearsal is found again and apply all resumes it to the end
    pane.start(argv, env)
    screen = pane.wait_for("Resume (s)")
    assert "A previous session was found" in flat(screen)
    to_step_list(pane)
    pane.keys("A")
    pane.wait_for("remaining step(s)")
    pane.keys("y")
    pane.wait_for("Applied and checked all", timeout=180)
    after = statuses(scratch)
    assert after["services"] == "applied"  # its checks need the running system
    assert all(after[s] in ("applied", "verified", "skipped") for s in done)
    assert "myhostname = mail.example.com" in (
        scratch / "root/etc/postfix/main.cf").read_text()

    # 4. verify one step: what needs a running Postfix is not checked, and says so
    pane.keys("home", "down", "down", "down")
    pane.keys("Enter")
    pane.wait_for("4. Postfix basics")
    pane.keys("v")
    screen = pane.wait_for("SKIP postfix check: not checked in a rehearsal")
    assert "PASS main.cf " in screen  # what the files say is checked for real

    # 5. roll that step back: main.cf is the stock file's again for its settings
    pane.keys("r")
    pane.wait_for("Roll back 'Postfix basics'?")
    pane.keys("y")
    pane.wait_for("Rolled back.")
    assert statuses(scratch)["postfix-basics"] == "rolled-back"
    assert "myhostname = mail.example.com" not in (
        scratch / "root/etc/postfix/main.cf").read_text()
    screen = pane.quit()
    assert "EXITED=0" in screen
    # printed on the way out (the terminal breaks the long path anywhere: compare unspaced)
    assert "".join(f"The session is in {scratch}/state".split()) in "".join(screen.split())
    log = (scratch / "commands.log").read_text()
    assert "dnf install -y postfix" in log and "systemctl start postfix" in log


def test_dry_run_offers_the_rehearsal_without_colour(pane: Pane, tmp_path: Path) -> None:
    scratch = tmp_path / "mailwizard-rehearsal-debian12"
    argv = [sys.executable, "-m", "wizard.cli", "--dry-run", "--platform", "debian12",
            "--answers", "demo", "--state-dir", str(tmp_path / "dry-state")]
    pane.start(argv, {"TERM": "xterm-256color", "LANG": "C.UTF-8", "NO_COLOR": "1",
                      "TMPDIR": str(tmp_path)})
    pane.wait_for("DRY RUN")
    to_step_list(pane)
    pane.keys("A")
    pane.wait_for("Rehearse: apply for real in a scratch copy?")
    pane.wait_for("A dry run only previews")  # the notification, over the question
    pane.keys("y")
    screen = pane.wait_for("REHEARSAL - a scratch copy is changed", timeout=120)
    assert "mailwizard REHEARSAL" in screen  # the header, in words
    assert "DRY RUN" not in screen
    pane.wait_for("Preflight checks", timeout=120)
    assert (scratch / "root/etc/postfix/main.cf").is_file()
    screen = pane.quit()
    assert "EXITED=0" in screen
