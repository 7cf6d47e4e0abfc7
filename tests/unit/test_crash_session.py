"""A damaged session file, the state directory, secrets in backups, the type registry."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import List

import pytest
import yaml
from allsteps import real_engine
from fake_target import make_engine

from wizard import changes as ch
from wizard import cli
from wizard.answers import demo_answers_path, load_answers
from wizard.errors import SessionError
from wizard.executor import DryRunExecutor, FakeCommand, ScriptedExecutor
from wizard.platforms import get_platform
from wizard.recipe import Recipe
from wizard.session import Session

ANSWERS = load_answers(demo_answers_path())
REPO = Path(__file__).resolve().parents[2]


class Files(Recipe):
    id = "files"
    title = "Files"

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        return [ch.PostfixParams({"myhostname": "mail.example.com"}),
                ch.Directory("/etc/mw", 0o750), ch.FileWrite("/etc/mw/a.conf", "a\n"),
                ch.FileWrite("/etc/mw/b.conf", "b\n")]


@pytest.fixture
def applied(target_root: Path, tmp_path: Path, tree):
    (target_root / "etc/postfix").mkdir()
    (target_root / "etc/postfix/main.cf").write_text("inet_interfaces = all\n")
    before = tree(target_root)
    state = tmp_path / "state"
    with Session.open(state) as s:
        s.bind("debian12", str(target_root), ANSWERS.to_dict())
        assert make_engine(target_root, s, [Files()]).apply()[0].status == "applied"
    return target_root, state, before


def damage(path: Path, kind: str) -> None:
    good = path.read_bytes()
    if kind == "truncated":
        # cut short where the file still parses and has the right shape: the last journal
        # entry and the end marker are gone
        data = json.loads(good)
        data["journal"].pop()
        data.pop("check")
        path.write_text(json.dumps(data, indent=1))
        return
    path.write_bytes({
        "empty": b"",
        "garbage": b"format: 1\nsteps: {a: [\n",
        "not-utf8": b"format: 1\n\xff\xfe\xfa journal\n",
        "wrong-shape": b"format: 1\nsteps: []\njournal: {a: 1}\n",
        "torn": good[:len(good) // 2],  # a write cut in the middle: not JSON, not YAML
    }[kind])


KINDS = ["empty", "garbage", "not-utf8", "wrong-shape", "truncated", "torn"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_session_is_rebuilt_from_the_log_and_rollback_works(applied, kind, tree):
    root, state, before = applied
    with Session.open(state, lock=False) as good:
        journal = [dict(e) for e in good.journal]
    damage(state / "session.yaml", kind)
    if kind == "truncated":  # still a session of the right shape: only the marker tells
        import yaml

        cut = yaml.safe_load((state / "session.yaml").read_text())
        assert len(cut["journal"]) == len(journal) - 1 and "check" not in cut
    with Session.open(state) as s:
        assert "was damaged" in s.recovered and "rebuilt from journal.log" in s.recovered
        if kind == "truncated":
            assert "end marker is missing" in s.recovered
        assert s.journal == journal
        assert s.step_status("files") == "applied"
        res = make_engine(root, s, [Files()]).rollback()
        assert res.errors == [] and res.undone == 4
    assert tree(root) == before


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_session_without_a_log_is_a_clear_error(applied, kind, capsys):
    _root, state, _ = applied
    damage(state / "session.yaml", kind)
    (state / "journal.log").unlink(missing_ok=True)  # older code kept none
    with pytest.raises(SessionError, match="cannot be used: it.* no journal log"):
        Session.open(state, lock=False)
    assert cli.main(["status", "--state-dir", str(state)]) == 4
    err = capsys.readouterr().err
    assert "Session problem:" in err and "backups" in err and "Traceback" not in err


def test_cli_rollback_after_damage_says_so_and_restores(applied, tree):
    root, state, before = applied
    damage(state / "session.yaml", "truncated")
    (root / "etc/os-release").write_text("ID=debian\nVERSION_ID=12\n")
    before["etc/os-release"] = tree(root)["etc/os-release"]
    res = subprocess.run([sys.executable, "-m", "wizard.cli", "rollback", "--yes", "--root",
                          str(root), "--state-dir", str(state)],
                         cwd=REPO, capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr + res.stdout
    assert "rebuilt from journal.log" in res.stderr
    assert tree(root) == before


def test_a_session_file_older_than_the_log_is_replaced_by_the_log(applied):
    _root, state, _ = applied
    old = (state / "session.yaml").read_bytes()
    with Session.open(state) as s:
        s.set_step("files", "verified")
    (state / "session.yaml").write_bytes(old)  # a crash between the log and the yaml write
    with Session.open(state, lock=False) as s2:
        assert s2.step_status("files") == "verified"
        assert "older than the journal log" in s2.recovered


def test_a_torn_last_log_line_is_ignored(applied):
    _root, state, _ = applied
    with Session.open(state) as s:
        s.set_step("files", "verified")
    with open(state / "journal.log", "ab") as fh:
        fh.write(b'{"n": 99, "set": {"steps": {}}} 0bad')
    damage(state / "session.yaml", "empty")
    with Session.open(state, lock=False) as s2:
        assert s2.step_status("files") == "verified"


def test_every_save_is_one_fault_point_and_the_log_line_is_checksummed(tmp_path):
    with Session.open(tmp_path / "st") as s:
        for i in range(3):
            s.set_step(f"s{i}", "applied")
    lines = (tmp_path / "st/journal.log").read_bytes().splitlines()
    assert len(lines) == 3
    payload, _, digest = lines[-1].rpartition(b" ")
    import hashlib

    assert hashlib.sha256(payload).hexdigest().encode() == digest
    assert json.loads(payload)["set"]["steps"]["s2"]["status"] == "applied"
    assert stat.S_IMODE((tmp_path / "st/journal.log").stat().st_mode) == 0o600


# --------------------------------------------------------------------------- state dir
def test_an_existing_state_dir_keeps_its_mode(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    Session.open(shared).close()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    new = tmp_path / "new" / "state"
    Session.open(new).close()
    assert stat.S_IMODE(new.stat().st_mode) == 0o700


def test_the_backups_directory_is_fsynced_after_a_backup(tmp_path, monkeypatch):
    synced: List[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    store = ch.BackupStore(tmp_path / "backups")
    name = store.save("0001-/etc/x", b"data")
    assert str(tmp_path / "backups" / name) + ".tmp" in synced  # the file, then
    assert str(tmp_path / "backups") in synced  # and the directory entry


def shadow_root(root: Path) -> None:
    (root / "etc/shadow").write_text("root:$6$secret:19000:0:99999:7:::\n")
    os.chmod(root / "etc/shadow", 0o640)
    (root / "etc/gshadow").write_text("root:*::\n")


class AddUser(Recipe):
    id = "users"
    title = "Users"

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        return [ch.UserGroup(user="carol")]


def accounts(root: Path):  # type: ignore[no-untyped-def]
    original = (root / "etc/passwd").read_text()

    def useradd(argv, ex):  # type: ignore[no-untyped-def]
        (root / "etc/passwd").write_text(original + "carol:x:1500:1500::/home/carol:/bin/sh\n")
        return FakeCommand(0)

    def userdel(argv, ex):  # type: ignore[no-untyped-def]
        (root / "etc/passwd").write_text(original)
        return FakeCommand(0)

    return {"useradd": useradd, "userdel": userdel}


def test_shadow_copies_are_kept_0600_with_a_reason_and_removed_by_a_full_rollback(
        target_root, tmp_path, capsys):
    shadow_root(target_root)
    state = tmp_path / "state"
    with Session.open(state) as s:
        e = make_engine(target_root, s, [AddUser()],
                        ex=ScriptedExecutor(target_root, accounts(target_root)))
        assert e.apply()[0].status == "applied"
        kept = s.secret_backups()
        assert len(kept) == 2  # shadow and gshadow (no "-" copies exist)
        for name in kept:
            assert stat.S_IMODE((state / "backups" / name).stat().st_mode) == 0o600
    assert cli.main(["status", "--state-dir", str(state)]) == 0
    assert "2 copies of /etc/shadow or /etc/gshadow" in capsys.readouterr().out
    with Session.open(state) as s2:
        assert make_engine(target_root, s2, [AddUser()], ex=ScriptedExecutor(
            target_root, accounts(target_root))).rollback().errors == []
        assert s2.secret_backups() == []
    assert not [n for n in os.listdir(state / "backups") if "shadow" in n]


def test_reset_removes_the_shadow_copies(target_root, tmp_path):
    shadow_root(target_root)
    with Session.open(tmp_path / "state") as s:
        make_engine(target_root, s, [AddUser()],
                    ex=ScriptedExecutor(target_root, accounts(target_root))).apply()
        assert s.secret_backups()
        s.reset()
        assert s.secret_backups() == [] and s.journal == []


# --------------------------------------------------------------------------- registry
UNDO_ALONE = textwrap.dedent("""
    import json, sys
    import wizard.engine, wizard.session
    from wizard.changes import change_types
    assert not any(m == "recipes" or m.startswith("recipes.") for m in sys.modules), \\
        sorted(m for m in sys.modules if m.startswith("recipes"))
    print(json.dumps(sorted(change_types())))
""")


def test_a_process_without_recipes_knows_every_journaled_type(tmp_path):
    """Every change a full plan (all platforms) can journal is undoable by the core alone."""
    journaled = set()
    for pid in ("debian12", "debian13", "rocky9", "centos7", "almalinux10", "ubuntu24.04"):
        e = real_engine(ANSWERS, get_platform(pid), DryRunExecutor(tmp_path))
        for plan in e.plan():
            for change in plan.changes:
                if change.kind not in ("note", "check"):
                    journaled.add(ch.journal_type(change))
    assert {"FileWrite", "Service", "Packages", "GeneratedFile"} <= journaled
    res = subprocess.run([sys.executable, "-c", UNDO_ALONE], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert journaled <= set(json.loads(res.stdout))


def test_recipe_subclasses_are_journaled_under_a_core_type():
    from wizard.changes import ConfiguredService, PrivateKeyFile, SystemdDropIn

    assert ch.journal_type(SystemdDropIn) == "FileWrite"
    assert ch.journal_type(PrivateKeyFile) == "FileWrite"
    assert ch.journal_type(ConfiguredService) == "Service"
    assert set(ch.CHANGE_TYPES) >= {"FileWrite", "Service", "Command", "UserGroup"}
    assert "SystemdDropIn" not in ch.CHANGE_TYPES  # the registry is explicit


def test_a_drop_in_undone_by_the_core_still_reloads_systemd(target_root, tmp_path):
    from wizard.changes import SystemdDropIn

    (target_root / "run/systemd/system").mkdir(parents=True)
    ex = ScriptedExecutor(target_root)
    ctx = ch.ChangeContext(ex, get_platform("debian13"), ch.BackupStore(tmp_path / "b"))
    change = SystemdDropIn("/etc/systemd/system/x.service.d/mw.conf", "[Service]\n")
    rec = change.prepare(ctx)
    assert rec is not None
    change.commit(ctx, rec)
    ex.calls.clear()
    ch.change_types()[ch.journal_type(change)].undo_record(ctx, rec)  # type: ignore[attr-defined]
    assert ["systemctl", "daemon-reload"] in ex.calls
    assert not (target_root / "etc/systemd/system/x.service.d/mw.conf").exists()


def test_a_restarted_service_is_restarted_again_by_the_core_undo(target_root, tmp_path):
    ex = ScriptedExecutor(target_root, {"postfix status": FakeCommand(0)})
    ctx = ch.ChangeContext(ex, get_platform("debian12"), ch.BackupStore(tmp_path / "b"))
    rec = {"manager": "direct", "was_running": True, "was_enabled": True, "name": "postfix",
           "unit": "postfix", "status_unit": "postfix", "enable": True,
           "direct": ch.DIRECT["postfix"], "action": "restart"}
    assert ch.Service.undo_record(ctx, rec) == []
    assert ["postfix", "stop"] in ex.calls and ["postfix", "start"] in ex.calls
    assert ["postfix", "reload"] not in ex.calls


def test_a_session_of_the_previous_format_is_still_read_and_then_upgraded(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "session.yaml").write_text(
        "format: 1\ncreated: '2026-01-01T00:00:00Z'\nsteps:\n  basics:\n    status: applied\n"
        "journal: []\nseq: 0\n")
    with Session.open(state) as s:
        assert s.step_status("basics") == "applied" and not s.recovered
        s.set_step("basics", "verified")
    data = yaml.safe_load((state / "session.yaml").read_text())  # JSON now, still YAML
    assert data["format"] == 2 and list(data)[-1] == "check"
    assert data["steps"]["basics"]["status"] == "verified"


def test_a_session_written_as_yaml_by_the_previous_version_is_read(applied):
    """session.yaml as the previous version wrote it (YAML block text, same format 2)."""
    _root, state, _ = applied
    data = json.loads((state / "session.yaml").read_text())
    (state / "session.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    with Session.open(state, lock=False) as s:
        assert not s.recovered and s.step_status("files") == "applied"
        assert [e["key"] for e in s.journal] == [e["key"] for e in data["journal"]]
