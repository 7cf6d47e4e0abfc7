"""The Users and aliases screen in the real program, in a tmux pane of 80x24, keyboard only:
on a rehearsal set up by ``apply --rehearse``, Ctrl+P "Users and aliases" opens it; a bad
name is refused with the field named; a good one shows the plan, and ``y`` adds the user as
step ``user-add-1`` (the scratch copy has the account, the session's answers the user).

The program runs from this checkout (``python -m wizard.cli``); every wait is for text on the
screen, with generous time-outs; nothing is timed.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import yaml
from tmuxkit import REPO, Pane, flat, mailwizard, needs_tmux

pytestmark = needs_tmux


def press(pane: Pane, *keys: str) -> None:
    """Send keys, then give the program a moment to take them: keys sent back to back
    while it redraws (the error list growing) were seen to go astray under load."""
    pane.keys(*keys)
    time.sleep(0.5)


def test_users_screen_adds_a_user_in_a_rehearsal(pane: Pane, tmp_path: Path) -> None:
    scratch = tmp_path / "rehearsal"
    where = ["--rehearse", "--platform", "debian12", "--state-dir", str(scratch)]
    env = {"PYTHONPATH": str(REPO)}
    done = subprocess.run(mailwizard("apply", *where, "--answers", "demo", "--yes"),
                          cwd=REPO, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]

    pane.start(mailwizard(*where), env)
    pane.wait_for("Resume (s)")
    pane.keys("C-p")
    pane.keys("Users and")
    pane.wait_for("Users and aliases")
    pane.keys("Enter")
    screen = pane.wait_for("Mail users and aliases")
    assert "alice" in screen and "sales@example.net" in screen
    for keys in (["Tab"], ["Bad"], ["C-n"]):
        press(pane, *keys)
    pane.wait_for("name: 'Bad' is not a valid user name")
    for keys in (["End"], ["C-u"], ["carol"], ["Tab"], ["Tab"], ["Pass-word-123"]):
        press(pane, *keys)  # C-u empties the field
    pane.wait_for("•" * 13)
    pane.keys("C-n")
    screen = pane.wait_for("as step user-add-1?", timeout=120)
    assert "create user carol" in flat(screen) or "user add carol" in flat(screen)
    assert "Pass-word-123" not in screen
    pane.keys("y")
    pane.wait_for("Recorded as step user-add-1", timeout=120)
    assert "carol:" in (scratch / "root/etc/passwd").read_text()
    data = yaml.safe_load((scratch / "state/session.yaml").read_text())
    assert {"name": "carol", "create": True} in data["answers"]["users"]
    assert "Pass-word-123" not in (scratch / "state/session.yaml").read_text()
    pane.keys("Escape")
    screen = pane.quit()
    assert "EXITED=0" in screen
