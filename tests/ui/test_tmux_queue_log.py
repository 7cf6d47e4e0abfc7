"""The real ``mailwizard`` binary in a tmux pane (80x24): the command palette opens "Mail
queue" and "Mail log" with the keyboard; in a dry run they say there is nothing to read."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from test_tmux import Tmux, _mailwizard

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def pane(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(f"mwtest-{uuid.uuid4().hex[:8]}")
    cmd = " ".join([*_mailwizard(), "--dry-run", "--platform", "rocky9", "--answers", "demo",
                    "--state-dir", str(tmp_path / "state")])
    env = {"TERM": "xterm-256color", "LANG": "C.UTF-8", "PYTHONPATH": str(REPO)}
    t.run("new-session", "-d", "-s", "mw", "-x", "80", "-y", "24",
          *[a for k, v in env.items() for a in ("-e", f"{k}={v}")],
          f"cd {REPO} && {cmd}; echo EXITED=$?; sleep 30")
    yield t
    subprocess.run(["tmux", "-L", t.socket, "kill-server"], capture_output=True, timeout=20)


def test_palette_opens_mail_queue_and_mail_log(pane: Tmux) -> None:
    pane.wait_for("Start (s)")
    for title, header, said in (("Mail queue", "Esc Back", "see its queue"),
                                ("Mail log", "Esc Back", "see its log")):
        pane.keys("C-p")
        pane.wait_for("Search for commands")
        pane.keys(title)
        pane.wait_for(title)
        pane.keys("Enter")
        screen = pane.wait_for(said)
        assert "no mail" in screen and "dry run" in screen, screen
        assert header.lower() in screen.lower(), screen
        pane.keys("Escape")
        pane.wait_for("Start (s)")
    pane.keys("q")
    pane.wait_for("EXITED=0")
