"""The rehearsal in the real program, in a tmux pane of 80x24: apply all, quit in the middle,
restart, resume to the end, verify one step, roll one back; and, without colour, the dry
run's offer that switches to a rehearsal.

The program runs from this checkout in a tmux pane (tests/ui/tmuxkit.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import yaml
from tmuxkit import Pane, flat, mailwizard, needs_tmux, no_color

pytestmark = needs_tmux


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
    argv = mailwizard("--rehearse", "--platform", "rocky9", "--answers", "demo",
                      "--state-dir", str(scratch))
    env: Dict[str, str] = {}

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
    pane.settled()  # the list shown again after the run, its highlight set, before the keys
    pane.keys("home")
    pane.settled()
    pane.keys("down", "down", "down")
    pane.settled()
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
    argv = mailwizard("--dry-run", "--platform", "debian12", "--answers", "demo",
                      "--state-dir", str(tmp_path / "dry-state"))
    pane.start(argv, no_color({"TMPDIR": str(tmp_path)}))
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
