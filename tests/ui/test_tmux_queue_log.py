"""The real ``mailwizard`` binary in a tmux pane (80x24): the command palette opens "Mail
queue" and "Mail log" with the keyboard; in a dry run they say there is nothing to read."""

from __future__ import annotations

from pathlib import Path

from tmuxkit import Pane, mailwizard, needs_tmux

pytestmark = needs_tmux


def test_palette_opens_mail_queue_and_mail_log(pane: Pane, tmp_path: Path) -> None:
    pane.start(mailwizard("--dry-run", "--platform", "rocky9", "--answers", "demo",
                          "--state-dir", str(tmp_path / "state")))
    pane.wait_for("Start (s)")
    for title, hit, header, said in (
            ("Mail queue", "list, show, flush", "Esc Back", "see its queue"),
            ("Mail log", "recent deliveries, rejects", "Esc Back", "see its log")):
        pane.keys("C-p")
        pane.wait_for("Search for commands")
        pane.keys(title)
        pane.wait_for(hit)  # the command found (the typed title alone shows in the input)
        pane.keys("Enter")
        screen = pane.wait_for(said)
        assert "no mail" in screen and "dry run" in screen, screen
        assert header.lower() in screen.lower(), screen
        pane.keys("Escape")
        pane.wait_for("Start (s)")
    pane.keys("q")
    pane.wait_for("EXITED=0")
