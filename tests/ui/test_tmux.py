"""The real program in a tmux pane (80x24, tests/ui/tmuxkit.py): welcome and answers in a dry
run; help and checkbox state without colour."""

from __future__ import annotations

from pathlib import Path

from tmuxkit import Pane, mailwizard, needs_tmux, no_color

pytestmark = needs_tmux


def test_dry_run_welcome_and_answers(pane: Pane, tmp_path: Path) -> None:
    state = tmp_path / "state"
    pane.start(mailwizard("--dry-run", "--platform", "rocky9", "--answers", "demo",
                          "--state-dir", str(state)))
    pane.wait_for("Start (s)")
    screen = pane.wait_for("? Help")
    assert "DRY RUN - nothing is changed on this machine (--dry-run)" in screen
    assert "Target:   Rocky Linux 9 (rocky9)" in screen

    pane.keys("s")
    screen = pane.wait_for("^n Next")
    assert "Host name           mail.example.com" in screen
    # break the host name: the validator's message appears next to the field
    # Ctrl+U is an Input binding: it bubbles up the DOM before it runs, while printable keys are
    # handled at once, so text sent in the same read could overtake it (a Textual trait, not
    # ours). Wait for the emptied field's message first, as a person would see it.
    pane.keys("C-u")
    pane.wait_for("hostname: is required")
    pane.keys("-l", "bad_name")
    # the keys arrive one by one: wait for the message about the whole name
    screen = pane.wait_for("hostname: label 'bad_name' is not valid")
    assert "Host name           bad_name" in screen

    # the edit is not kept anywhere (a dry run, no state directory yet): quitting asks first
    pane.keys("C-c")
    pane.wait_for("Quit without keeping the answers you edited?")
    pane.keys("y")
    screen = pane.wait_for("EXITED=")
    assert "EXITED=0" in screen
    assert not state.exists()  # a dry run made nothing, not even its state directory


def test_no_color_help_and_checkbox_state(pane: Pane, tmp_path: Path) -> None:
    """With NO_COLOR=1 (a serial console, a colour-blind admin): help opens with ? and F1 and
    closes with Esc; a checkbox that is off reads differently from one that is on."""
    pane.start(mailwizard("--dry-run", "--platform", "rocky9", "--answers", "demo",
                          "--state-dir", str(tmp_path / "state")), no_color())
    pane.wait_for("? Help")
    pane.keys("?")
    screen = pane.wait_for("Help: Welcome")
    assert "Everywhere" in screen or "Keys here" in screen
    pane.keys("Escape")
    pane.wait_gone("Help: Welcome")

    pane.keys("s")
    pane.wait_for("^n Next")
    # Tab through the form, one key at a time (each repaint done before the next key: keys
    # sent faster scroll past), until each checkbox is on screen: on and off read apart
    for label, state in (("Require HELO/EHLO", "▐X▌"), ("Strict HELO", "▐ ▌")):
        screen = pane.settled()
        for _ in range(60):
            if label in screen:
                break
            pane.keys("Tab")
            screen = pane.settled()
        assert f"{state} {label}" in screen, screen
    pane.keys("F1")
    pane.wait_for("Help: Answers")
    pane.keys("Escape")
    pane.wait_gone("Help: Answers")
    pane.keys("C-q")  # nothing edited: quits without a question
    assert "EXITED=0" in pane.wait_for("EXITED=")
