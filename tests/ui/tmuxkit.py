"""The real program in a tmux pane of 80x24, for the tmux tests (test_tmux*.py).

One tmux server per test (its own socket; the ``pane`` fixture of conftest.py gives one), one
window ``mw`` running the program from this checkout (``python -m wizard.cli``) followed by
``echo EXITED=$?``, so a test reads the exit code off the screen. Every wait is for text on
the screen, with a generous time-out; nothing is timed.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]

#: Skip a module's tests where tmux is missing: ``pytestmark = needs_tmux``.
needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

#: The terminal the tests run in; :func:`no_color` adds ``NO_COLOR=1`` (a serial console).
TERMINAL: Dict[str, str] = {"TERM": "xterm-256color", "LANG": "C.UTF-8"}


def no_color(env: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    return {**TERMINAL, **(env or {}), "NO_COLOR": "1"}


def mailwizard(*args: str) -> List[str]:
    """The command line of ``mailwizard ARGS`` from this checkout."""
    return [sys.executable, "-m", "wizard.cli", *args]


def flat(text: str) -> str:
    """Screen text with its line breaks and runs of spaces made single spaces (a wrapped
    sentence reads whole)."""
    return " ".join(text.split())


class Pane:
    """One tmux server with one 80x24 window running a command."""

    def __init__(self) -> None:
        self.socket = f"mwtest-{uuid.uuid4().hex[:8]}"

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True,
                              capture_output=True, text=True, timeout=30).stdout

    def start(self, argv: List[str], env: Optional[Dict[str, str]] = None) -> None:
        """Run ``argv`` in the window (replacing what ran there), in :data:`TERMINAL`
        updated with ``env``."""
        subprocess.run(["tmux", "-L", self.socket, "kill-session", "-t", "mw"],
                       capture_output=True, timeout=30)
        cmd = " ".join(shlex.quote(a) for a in argv)
        full = {**TERMINAL, **(env or {})}
        self.tmux("new-session", "-d", "-s", "mw", "-x", "80", "-y", "24",
                  *[a for k, v in full.items() for a in ("-e", f"{k}={v}")],
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

    def wait_gone(self, text: str, timeout: float = 60.0) -> str:
        """The screen once ``text`` no longer shows on it."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if flat(text) not in flat(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} still shown after {timeout:g}s; screen:\n{screen}")

    def settled(self, quiet: float = 0.3, timeout: float = 30.0) -> str:
        """The screen once it has not changed for ``quiet`` seconds (a key's repaint done)."""
        deadline = time.monotonic() + timeout
        last, since = self.screen(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = self.screen()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
        return last

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

