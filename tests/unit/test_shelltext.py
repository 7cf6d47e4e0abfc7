"""wizard/shelltext.py: quoting, guards and in-place line edits (``sed -i``) replayed from a
unified diff. The edits run through the host's GNU sed in a temporary directory."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path
from typing import List

import pytest

from wizard.changes import unified_diff
from wizard.shelltext import DiffRun, continued, diff_runs, heredoc_text, sed_edit, shq

GNU_SED = shutil.which("sed") is not None and "GNU" in subprocess.run(
    ["sed", "--version"], capture_output=True, text=True).stdout


def _text(lines: List[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode()


def _sh(cmd: str, cwd: Path) -> int:
    return subprocess.run(["sh", "-c", cmd], cwd=cwd, timeout=30).returncode


def test_shq_and_continued_quote_every_word() -> None:
    assert shq(["postconf", "-e", "a = $b 'c'"]) == "postconf -e 'a = $b '\"'\"'c'\"'\"''"
    assert continued("postconf -e", ["'a = 1'"]) == "postconf -e 'a = 1'"
    assert continued("postconf -e", ["'a = 1'", "'b = 2'"]) == (
        "postconf -e \\\n  'a = 1' \\\n  'b = 2'")


def test_diff_runs_reads_line_numbers_of_the_old_file() -> None:
    before = _text(["a", "#key =", "b", "c", "d", "e"])
    after = _text(["a", "#key =", "key = 1", "b", "C", "d"])
    assert diff_runs(unified_diff("/f", before, after)) == [
        DiffRun(2, (), ("key = 1",), 2), DiffRun(4, ("c",), ("C",), 4),
        DiffRun(6, ("e",), (), 6)]
    top = diff_runs(unified_diff("/f", _text(["a"]), _text(["new", "a"])))
    assert top == [DiffRun(0, (), ("new",), 0)]


def test_diff_runs_refuses_what_sed_cannot_replay() -> None:
    assert diff_runs(unified_diff("/f", b"a\n", b"a\nb")) is None  # no final newline
    assert diff_runs(unified_diff("/f", None, b"a\n")) is None      # a new file
    assert diff_runs(unified_diff("/f", b"a\n", None)) is None      # a removed file
    assert diff_runs("") is None
    assert sed_edit("/f", "") is None


@pytest.mark.skipif(not GNU_SED, reason="needs GNU sed")
def test_sed_edit_replays_a_structured_edit_byte_for_byte(tmp_path: Path) -> None:
    before = _text(["# mail", "#mail_location =", "\tindented = 1", "x = a\\b & 'q'",
                    "namespace inbox {", "}"])
    after = _text(["# mail", "#mail_location =", "mail_location = maildir:~/Maildir",
                   "\tindented = 2", "x = a\\b & 'q' $HOME", "namespace inbox {", "}",
                   "  trailing = yes"])
    f = tmp_path / "10-mail.conf"
    f.write_bytes(before)
    edit = sed_edit(str(f), unified_diff(str(f), before, after))
    assert edit is not None
    guard, cmds = edit
    cmd = "\n".join(cmds)
    assert _sh(guard, tmp_path) != 0  # not made yet
    assert _sh(cmd, tmp_path) == 0
    assert f.read_bytes() == after
    assert _sh(guard, tmp_path) == 0  # made: a second run is skipped
    assert _sh(f"{guard} || {cmds[0]}", tmp_path) == 0
    assert f.read_bytes() == after


@pytest.mark.skipif(not GNU_SED, reason="needs GNU sed")
def test_sed_edit_writes_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "saslauthd.real"
    real.write_bytes(_text(["START=no", 'MECHANISMS="pam"']))
    link = tmp_path / "saslauthd"
    link.symlink_to("saslauthd.real")
    after = _text(["START=yes", 'MECHANISMS="pam"'])
    edit = sed_edit(str(link), unified_diff(str(link), real.read_bytes(), after))
    assert edit is not None
    assert _sh("\n".join(edit[1]), tmp_path) == 0
    assert link.is_symlink() and real.read_bytes() == after


@pytest.mark.skipif(not GNU_SED, reason="needs GNU sed")
def test_sed_edit_random_edits_round_trip(tmp_path: Path) -> None:
    """Seeded random line edits (inserts, replacements, deletions; lines with backslashes,
    quotes, ampersands, leading tabs, blanks) come out exactly as the new text."""
    rng = random.Random(12)
    words = ["", "#", "}", "  x = 1", "\tfoo\\bar", "a = b", "#key =", "it's", "$HOME", "&",
             "trail\\"]
    done = 0
    for _ in range(150):
        old = [rng.choice(words) + str(rng.randint(0, 3)) for _ in range(rng.randint(1, 10))]
        new = list(old)
        for _ in range(rng.randint(1, 3)):
            i = rng.randint(0, len(new))
            op = rng.random()
            if op < 0.5:
                new.insert(i, rng.choice(words) + f"new{rng.randint(0, 9)}")
            elif new:
                j = min(i, len(new) - 1)
                if op < 0.8:
                    new[j] = rng.choice(words) + "changed"
                else:
                    del new[j]
        before, after = _text(old), _text(new)
        if before == after or not after:
            continue
        f = tmp_path / "f"
        f.write_bytes(before)
        for text in (None, after.decode()):  # by line number; by text where unique
            f.write_bytes(before)
            edit = sed_edit("f", unified_diff("f", before, after), text)
            if edit is None:  # only comments or blanks change: no line tells it is done
                continue
            assert _sh(edit[1][0], tmp_path) == 0
            assert f.read_bytes() == after, (old, new, edit[1][0])
            done += 1
    assert done > 180


@pytest.mark.skipif(not GNU_SED, reason="needs GNU sed")
def test_sed_edit_by_text_copes_with_a_file_that_differs_elsewhere(tmp_path: Path) -> None:
    """Lines are found by their text: comments added above do not move the edit; a file
    without the expected line stops with a message instead of a wrong edit."""
    before = _text(["# a comment", "#mail_location =", "namespace inbox {", "}"])
    after = _text(["# a comment", "#mail_location =", "mail_location = maildir:~/Maildir",
                   "namespace inbox {", "}"])
    edit = sed_edit("f", unified_diff("f", before, after), after.decode())
    assert edit is not None
    guard, cmds = edit
    assert "/^#mail_location =$/a" in cmds[0]
    f = tmp_path / "f"
    f.write_bytes(b"# the admin's note\n# another\n" + before)
    assert _sh("\n".join(cmds), tmp_path) == 0
    assert f.read_bytes() == b"# the admin's note\n# another\n" + after
    f.write_bytes(b"namespace inbox {\n}\n")  # no commented default to put it after
    res = subprocess.run(["sh", "-e", "-c", "\n".join(cmds)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=30)
    assert res.returncode != 0 and "is not as this runbook expects" in res.stderr


def test_heredoc_text_reads_a_whole_file_write() -> None:
    cmd = ("cat > '/etc/a b' <<'MAILWIZARD_EOF_'\nx\nMAILWIZARD_EOF\ny\nMAILWIZARD_EOF_\n"
           "chmod 0640 '/etc/a b'")
    assert heredoc_text(cmd) == "x\nMAILWIZARD_EOF\ny\n"
    assert heredoc_text("rm -f /etc/x") is None
