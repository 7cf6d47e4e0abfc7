"""``--rehearse`` on the command line: apply, verify, status and rollback on a scratch copy,
whose location is printed and kept, so the next command goes on with the same rehearsal."""

from __future__ import annotations

from pathlib import Path

import pytest
from treeutil import snapshot_tree

from wizard import cli
from wizard.rehearsal import default_scratch_dir


def test_apply_status_verify_rollback_rehearsed(tmp_path: Path, capsys) -> None:
    scratch = tmp_path / "rehearsal"
    opts = ["--rehearse", "--platform", "debian12", "--state-dir", str(scratch)]
    assert cli.main(["plan", "--answers", "demo", *opts]) == 0
    out = capsys.readouterr().out
    assert "REHEARSAL of a Debian 12 server" in out
    assert str(scratch / "root") in out and str(scratch / "commands.log") in out
    fresh = snapshot_tree(scratch / "root")
    assert not (scratch / "state/session.yaml").exists()  # a plan changes nothing

    assert cli.main(["apply", "--answers", "demo", "--yes", *opts]) == 0
    out = capsys.readouterr().out
    assert "rehearsal: would run apt-get install -y -q" in out
    assert "rehearsal: would run systemctl start postfix" in out or (
        "rehearsal: would run systemctl start postfix@-" in out)
    assert "SKIP services checks: not checked in a rehearsal" in out
    assert "FAIL" not in out
    assert (scratch / "state/session.yaml").is_file()
    assert "apt-get install" in (scratch / "commands.log").read_text()

    assert cli.main(["status", *opts]) == 0
    out = capsys.readouterr().out
    assert f"Rehearsal of a Debian 12 server in {scratch}" in out
    assert "quota" in out and "not started" not in out

    # the answers come from the rehearsal's session, as on a server
    assert cli.main(["verify", "--step", "certificate", *opts]) == 0
    out = capsys.readouterr().out
    assert "PASS key matches certificate" in out

    assert cli.main(["rollback", "--yes", *opts]) == 0
    assert "Undid" in capsys.readouterr().out
    assert snapshot_tree(scratch / "root") == fresh


def test_rehearse_refuses_a_root_and_a_foreign_directory(tmp_path: Path, capsys) -> None:
    assert cli.main(["apply", "--rehearse", "--platform", "debian12", "--answers", "demo",
                     "--root", str(tmp_path)]) == 2
    assert "drop --root" in capsys.readouterr().err
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep").write_text("x")
    assert cli.main(["apply", "--rehearse", "--platform", "debian12", "--answers", "demo",
                     "--state-dir", str(mine), "--yes"]) == 2
    assert "not a rehearsal's scratch directory" in capsys.readouterr().err
    assert [p.name for p in mine.iterdir()] == ["keep"]


def test_the_default_scratch_is_under_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys) -> None:
    import tempfile

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    assert default_scratch_dir("rocky9") == tmp_path / "mailwizard-rehearsal-rocky9"
    assert cli.main(["plan", "--rehearse", "--platform", "rocky9", "--answers", "demo"]) == 0
    assert (tmp_path / "mailwizard-rehearsal-rocky9/root/etc/postfix/main.cf").is_file()
    assert str(tmp_path / "mailwizard-rehearsal-rocky9") in capsys.readouterr().out
