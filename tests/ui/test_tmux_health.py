"""The Health screen in the real program, in a tmux pane of 80x24, keyboard only, once in a
256-colour xterm and once with ``NO_COLOR=1``.

The target is a scratch root that holds only ``/etc/os-release`` (Debian 12): a server
before the install, so ``mailwizard check`` finds every step's checks failing and nothing
listening (the ports are probed on 127.0.0.1 and refused). After Start and the answers
(Ctrl+N), Ctrl+P "Health check" opens the report: the overall state and counts on top, the
findings worst first, the highlighted one explained under the table; Down moves the
explanation, ``r`` checks again (the new report explains its first row), Escape goes back
to the steps. The states are words on
screen, so nothing depends on colour: with ``NO_COLOR`` every colour drawn is a grey.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Optional, Set

import pytest
from tmuxkit import REPO, TERMINAL, Pane, flat, mailwizard, needs_tmux, no_color

pytestmark = needs_tmux

SGR_256 = re.compile(r"\x1b\[[0-9;]*?[34]8;5;([0-9]{1,3})")
GREYS = set(range(232, 256)) | {0, 7, 8, 15, 16, 231}
"""The 256-colour palette's greys (the ramp, black and white)."""


def colours(pane: Pane) -> Set[int]:
    """The 256-colour palette entries drawn on the screen (foreground and background)."""
    text = pane.tmux("capture-pane", "-p", "-e", "-t", "mw")
    return {int(n) for n in SGR_256.findall(text)}


def scratch_server(tmp_path: Path) -> Dict[str, str]:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text(
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n')
    return {"root": str(root), "state": str(tmp_path / "state")}


def open_health(pane: Pane, tmp_path: Path, env: Optional[Dict[str, str]] = None) -> str:
    where = scratch_server(tmp_path)
    pane.start(mailwizard("--root", where["root"], "--state-dir", where["state"],
                          "--answers", "demo"), {"PYTHONPATH": str(REPO), **(env or {})})
    pane.wait_for("Start (s)")
    pane.keys("s")
    pane.wait_for("Ctrl+N goes on")
    pane.keys("C-n")
    # the steps are planned in the app's worker; while it is busy the palette offers no
    # Health check (it would have to wait), so open it once the plan is on screen
    pane.wait_for("15 steps for Debian 12")
    pane.keys("C-p")
    pane.wait_for("Search for commands")
    pane.keys("Health check")
    pane.wait_for("what mailwizard check sees")
    pane.keys("Enter")
    pane.wait_for("exit 2;", timeout=120)
    return pane.wait_for("r Check again")  # the footer offers it again once the check is done


def check_report(pane: Pane, screen: str) -> None:
    lines = screen.splitlines()
    assert len(lines) <= 24 and all(len(ln) <= 80 for ln in lines), screen
    text = flat(screen)
    assert re.search(r"CRITICAL \d+ critical, \d+ warning, \d+ unknown, \d+ ok; exit 2;",
                     text), screen
    assert "State Group Check" in text
    # worst first: the first row is critical, and it is the one explained
    first = next(ln for ln in lines if "services" in ln)
    assert "CRITICAL" in first and "port 25 (SMTP)" in first, screen
    assert "-> is the service running and listening on this address?" in text
    assert "r Check again" in lines[-1] and "esc Back" in lines[-1], lines[-1]
    pane.keys("Down")
    moved = pane.wait_for("127.0.0.1:587: Connection refused -> is the service")
    assert "port 587 (submission)" in flat(moved)
    pane.keys("r")  # checked again: the new report explains its first row again
    pane.wait_for("port 25 (SMTP) 127.0.0.1:25: Connection refused -> is the service",
                  timeout=120)
    pane.wait_for("exit 2;")
    pane.keys("Escape")
    pane.wait_gone("exit 2;")  # (a capture may catch the new footer over the old body)
    pane.wait_for("15 steps for Debian 12")


@pytest.mark.parametrize("mode", ["xterm-256color", "NO_COLOR"])
def test_health_screen_at_80x24(pane: Pane, tmp_path: Path, mode: str) -> None:
    env = no_color() if mode == "NO_COLOR" else dict(TERMINAL)
    screen = open_health(pane, tmp_path, env)
    drawn = colours(pane)
    assert drawn, "no 256-colour codes on the screen at all"
    if mode == "NO_COLOR":
        assert drawn <= GREYS, sorted(drawn - GREYS)
    else:
        assert drawn - GREYS, "the colour terminal shows only greys"
    check_report(pane, screen)
    assert "EXITED=0" in pane.quit()
