"""The real ``mailwizard`` binary in a tmux pane (80x24): welcome and answers in a dry run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator, List

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def _mailwizard() -> List[str]:
    exe = Path(sys.executable).with_name("mailwizard")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "wizard.cli"]


class Tmux:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True,
                              capture_output=True, text=True, timeout=20).stdout

    def capture(self) -> str:
        return self.run("capture-pane", "-p", "-t", "mw")

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} did not appear within {timeout}s; screen:\n{screen}")

    def wait_gone(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if text not in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} still shown after {timeout}s; screen:\n{screen}")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "mw", *keys)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(f"mwtest-{uuid.uuid4().hex[:8]}")
    yield t
    subprocess.run(["tmux", "-L", t.socket, "kill-server"], capture_output=True, timeout=20)


def test_dry_run_welcome_and_answers(tmux: Tmux, tmp_path: Path) -> None:
    state = tmp_path / "state"
    cmd = " ".join([*_mailwizard(), "--dry-run", "--platform", "rocky9", "--answers", "demo",
                    "--state-dir", str(state)])
    env = {"TERM": "xterm-256color", "LANG": "C.UTF-8"}
    tmux.run("new-session", "-d", "-s", "mw", "-x", "80", "-y", "24",
             *[a for k, v in env.items() for a in ("-e", f"{k}={v}")],
             f"cd {os.getcwd()} && {cmd}; echo EXITED=$?; sleep 30")
    tmux.wait_for("Start (s)")
    screen = tmux.wait_for("? Help")
    assert "DRY RUN - nothing is changed on this machine (--dry-run)" in screen
    assert "Target:   Rocky Linux 9 (rocky9)" in screen

    tmux.keys("s")
    screen = tmux.wait_for("^n Next")
    assert "Host name           mail.example.com" in screen
    # break the host name: the validator's message appears next to the field
    # Ctrl+U is an Input binding: it bubbles up the DOM before it runs, while printable keys are
    # handled at once, so text sent in the same read could overtake it (a Textual trait, not
    # ours). Wait for the emptied field's message first, as a person would see it.
    tmux.keys("C-u")
    tmux.wait_for("hostname: is required")
    tmux.keys("-l", "bad_name")
    screen = tmux.wait_for("is not valid")
    assert "hostname: label 'bad_name' is not valid" in screen
    assert "Host name           bad_name" in screen

    # the edit is not kept anywhere (a dry run, no state directory yet): quitting asks first
    tmux.keys("C-c")
    tmux.wait_for("Quit without keeping the answers you edited?")
    tmux.keys("y")
    screen = tmux.wait_for("EXITED=")
    assert "EXITED=0" in screen
    assert not state.exists()  # a dry run made nothing, not even its state directory


def test_no_color_help_and_checkbox_state(tmux: Tmux, tmp_path: Path) -> None:
    """With NO_COLOR=1 (a serial console, a colour-blind admin): help opens with ? and F1 and
    closes with Esc; a checkbox that is off reads differently from one that is on."""
    cmd = " ".join([*_mailwizard(), "--dry-run", "--platform", "rocky9", "--answers", "demo",
                    "--state-dir", str(tmp_path / "state")])
    env = {"TERM": "xterm-256color", "LANG": "C.UTF-8", "NO_COLOR": "1"}
    tmux.run("new-session", "-d", "-s", "mw", "-x", "80", "-y", "24",
             *[a for k, v in env.items() for a in ("-e", f"{k}={v}")],
             f"cd {os.getcwd()} && {cmd}; echo EXITED=$?; sleep 30")
    tmux.wait_for("? Help")
    tmux.keys("?")
    screen = tmux.wait_for("Help: Welcome")
    assert "Everywhere" in screen or "Keys here" in screen
    tmux.keys("Escape")
    tmux.wait_gone("Help: Welcome")

    tmux.keys("s")
    tmux.wait_for("^n Next")
    for _ in range(40):  # Tab through the form until the restrictions scroll into view
        if "Strict HELO" in tmux.capture():
            break
        tmux.keys("Tab")
        time.sleep(0.1)
    screen = tmux.wait_for("Strict HELO")
    assert "▐ ▌ Strict HELO" in screen, screen  # off
    assert "▐X▌ Require HELO/EHLO" in screen, screen  # on
    tmux.keys("F1")
    tmux.wait_for("Help: Answers")
    tmux.keys("Escape")
    tmux.wait_gone("Help: Answers")
    tmux.keys("C-q")  # nothing edited: quits without a question
    assert "EXITED=0" in tmux.wait_for("EXITED=")
