"""Crash safety, write-ahead: facts and bytes are journaled before the system changes.

A crash is a ``SystemExit`` raised inside an executor operation (the engine does not catch
it), after which the session is closed and reopened from disk, as a new process would.
"""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
import yaml
from fake_target import dpkg_query, make_engine, make_root

from wizard import changes as ch
from wizard.answers import demo_answers_path, load_answers
from wizard.engine import LogLine
from wizard.executor import Executor, FakeCommand, ScriptedExecutor
from wizard.platforms import get_platform
from wizard.recipe import Recipe
from wizard.session import Session

ANSWERS = load_answers(demo_answers_path())


def on_disk(state: Path) -> Session:
    """The session as the next process reads it."""
    return Session.open(state, lock=False)


class Crash(Executor):
    """Dies at the first call of ``method`` (after ``after`` calls went through)."""

    def __init__(self, root: Path, method: str, after: int = 0) -> None:
        super().__init__(root, host_commands=True)
        self.method, self.left = method, after

    def __getattribute__(self, name: str):  # type: ignore[no-untyped-def]
        attr = super().__getattribute__(name)
        if name == object.__getattribute__(self, "method"):
            def dying(*a, **kw):  # type: ignore[no-untyped-def]
                if self.left == 0:
                    raise SystemExit(f"killed in {name}")
                self.left -= 1
                return attr(*a, **kw)
            return dying
        return attr


# --------------------------------------------------------------------------- directories
class NewFile(Recipe):
    id = "newfile"
    title = "A file in new directories"

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        return [ch.FileWrite("/etc/mwnew/sub/deep.conf", "x\n")]


class NewDir(Recipe):
    id = "newdir"
    title = "A new directory"

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        return [ch.Directory("/srv/mw/data", 0o750)]


def killed_in(root: Path, state: Path, recipe: Recipe, method: str) -> None:
    """Apply ``recipe`` and let the process die (SystemExit) when ``method`` is called."""
    s = Session.open(state)
    with pytest.raises(SystemExit):
        make_engine(root, s, [recipe], ex=Crash(root, method)).apply()
    s.close()


def test_dirs_made_for_a_file_are_journaled_before_a_crash(target_root, tmp_path, tree):
    before = tree(target_root)
    state = tmp_path / "state"
    killed_in(target_root, state, NewFile(), "write_atomic")
    assert (target_root / "etc/mwnew/sub").is_dir()  # made, then killed before the write
    rec = on_disk(state).journal[0]["record"]
    assert rec["created_dirs"] == ["/etc/mwnew", "/etc/mwnew/sub"]
    with Session.open(state) as s2:
        res = make_engine(target_root, s2, [NewFile()]).rollback()
        assert res.errors == []
    assert tree(target_root) == before


def test_directory_created_list_survives_a_crash_before_done(target_root, tmp_path, tree):
    before = tree(target_root)
    state = tmp_path / "state"
    killed_in(target_root, state, NewDir(), "set_meta")
    assert (target_root / "srv/mw/data").is_dir()
    assert on_disk(state).journal[0]["record"]["created"] == ["/srv", "/srv/mw",
                                                              "/srv/mw/data"]
    with Session.open(state) as s2:
        assert make_engine(target_root, s2, [NewDir()]).rollback().errors == []
    assert tree(target_root) == before


def test_resume_keeps_the_dirs_the_killed_run_made(target_root, tmp_path, tree):
    before = tree(target_root)
    state = tmp_path / "state"
    killed_in(target_root, state, NewFile(), "write_atomic")
    with Session.open(state) as s2:
        e = make_engine(target_root, s2, [NewFile()])
        assert e.apply()[0].status == "applied"
        assert s2.journal[0]["record"]["created_dirs"] == ["/etc/mwnew", "/etc/mwnew/sub"]
        assert e.rollback().errors == []
    assert tree(target_root) == before


# --------------------------------------------------------------------------- packages
def apt_target(root: Path, installed: set, crash_in_install: bool):
    """apt/dpkg that install postfix (files under /etc, a system account) and may be
    killed right after the install did its work."""
    calls = {"install": 0}

    def install(argv, ex):  # type: ignore[no-untyped-def]
        calls["install"] += 1
        installed.add("postfix")
        ex.path("/etc/postfix").mkdir(exist_ok=True)
        ex.path("/etc/postfix/main.cf").write_text("package file\n")
        ex.path("/etc/mailname").write_text("mail.example.com\n")
        passwd = ex.path("/etc/passwd")
        passwd.write_text(passwd.read_text() + "pfx:x:105:105::/var/spool/postfix:/bin/false\n")
        if crash_in_install:
            raise SystemExit("killed while apt-get ran")
        return FakeCommand(0)

    def purge(argv, ex):  # type: ignore[no-untyped-def]
        installed.discard("postfix")
        ex.path("/etc/postfix/main.cf").unlink()
        return FakeCommand(0)

    script = {"dpkg-query -W": dpkg_query(installed), "apt-get install": install,
              "apt-get purge": purge, "dpkg-query -S": FakeCommand(1, ""),
              "dpkg-query -L": FakeCommand(0, "")}
    return script, calls


class Install(Recipe):
    id = "packages"
    title = "Packages"

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        return [ch.Packages("apt", install=["postfix"])]


def killed_in_apt(tmp_path, tree):  # type: ignore[no-untyped-def]
    """A target root, its tree before, the state dir and the installed set, after a run
    killed while apt-get install ran (the install itself completed)."""
    root = make_root(tmp_path / "root")
    before = tree(root)
    state = tmp_path / "state"
    installed: set = set()
    script, _ = apt_target(root, installed, crash_in_install=True)
    s = Session.open(state)
    with pytest.raises(SystemExit):
        make_engine(root, s, [Install()], ex=ScriptedExecutor(root, script)).apply()
    s.close()
    return root, before, state, installed


def test_package_snapshot_is_journaled_before_apt_runs(tmp_path, tree):
    root, before, state, installed = killed_in_apt(tmp_path, tree)
    rec = on_disk(state).journal[0]["record"]
    assert on_disk(state).journal[0]["state"] == "started"
    assert "etc_before" in rec and "/etc/passwd" in rec["accounts_before"]
    # rollback straight after the kill: the package is purged and what apt left is removed
    script2, _ = apt_target(root, installed, crash_in_install=False)
    with Session.open(state) as s2:
        res = make_engine(root, s2, [Install()], ex=ScriptedExecutor(root, script2)).rollback()
        assert res.errors == [], res.errors
    assert "postfix" not in installed
    assert tree(root) == before


def test_resume_after_a_kill_in_apt_compares_with_the_first_snapshot(tmp_path, tree):
    root, before, state, installed = killed_in_apt(tmp_path, tree)
    script2, calls = apt_target(root, installed, crash_in_install=False)
    ex = ScriptedExecutor(root, script2)
    with Session.open(state) as s2:
        e = make_engine(root, s2, [Install()], ex=ex)
        assert e.apply()[0].status == "applied"
        assert calls["install"] == 0  # apt had finished: not run again
        assert ["dpkg", "--configure", "-a"] in ex.calls
        rec = s2.journal[0]["record"]
        assert {"/etc/postfix", "/etc/postfix/main.cf", "/etc/mailname"} <= set(
            rec["etc_created"])
        assert rec["accounts_added"] == {"/etc/passwd": ["pfx"]}
        assert e.rollback().errors == []
    assert tree(root) == before


HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o640)
fcntl.lockf(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_resume_waits_for_an_orphaned_package_manager(tmp_path):
    root = make_root(tmp_path / "root")
    lock = root / "var/lib/dpkg/lock-frontend"
    lock.parent.mkdir(parents=True)
    installed: set = set()
    script, _ = apt_target(root, installed, crash_in_install=True)
    state = tmp_path / "state"
    s = Session.open(state)
    with pytest.raises(SystemExit):
        make_engine(root, s, [Install()], ex=ScriptedExecutor(root, script)).apply()
    s.close()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock), "1.5"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert ch.package_manager_busy(Executor(root, host_commands=True), "apt") == \
            "/var/lib/dpkg/lock-frontend"
        events: list = []
        script2, _ = apt_target(root, installed, crash_in_install=False)
        order = []
        script2["dpkg --configure"] = lambda a, e: (order.append(holder.poll()),
                                                    FakeCommand(0))[1]
        with Session.open(state) as s2:
            e = make_engine(root, s2, [Install()], ex=ScriptedExecutor(root, script2),
                            events=events)
            assert e.apply()[0].status == "applied"
        assert order and order[0] is not None  # dpkg ran only after the holder had exited
        assert any(isinstance(ev, LogLine) and "package manager is still running" in ev.line
                   for ev in events)
    finally:
        holder.kill()
        holder.wait()


def test_waiting_for_the_package_lock_is_bounded(tmp_path):
    root = tmp_path / "root"
    lock = root / "var/lib/dpkg/lock"
    lock.parent.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock), "30"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        ctx = ch.ChangeContext(Executor(root, host_commands=True), get_platform("debian12"),
                               ch.BackupStore(tmp_path / "b"), lock_wait=0.3)
        with pytest.raises(ch.ExecutorError, match="still holds /var/lib/dpkg/lock"):
            ch.wait_for_package_manager(ctx, "apt", poll=0.05)
    finally:
        holder.kill()
        holder.wait()
    # a pid file naming a dead process is not a lock
    (root / "var/run").mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (root / "var/run/yum.pid").write_text(f"{dead.pid}\n")
    assert ch.package_manager_busy(Executor(root, host_commands=True), "yum") is None
    (root / "var/run/yum.pid").write_text(f"{os.getpid()}\n")
    assert ch.package_manager_busy(Executor(root, host_commands=True), "yum") == \
        "/var/run/yum.pid"


# --------------------------------------------------------------------------- generated keys
made: List[str] = []


def fresh_key() -> str:
    made.append("-----BEGIN PRIVATE KEY-----\n" + secrets.token_hex(32) + "\n"
                "-----END PRIVATE KEY-----\n")
    return made[-1]


class Key(Recipe):
    id = "key"
    title = "A private key"

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        return [ch.Directory("/etc/ssl/private", 0o700),
                ch.GeneratedFile("/etc/ssl/private/mail.key", fresh_key, "(a key)", mode=0o600)]


def test_a_key_killed_before_its_write_is_resumed_with_the_same_bytes(target_root, tmp_path,
                                                                      tree):
    before = tree(target_root)
    state = tmp_path / "state"
    made.clear()
    killed_in(target_root, state, Key(), "write_atomic")
    entry = on_disk(state).journal[-1]
    rec = entry["record"]
    copy = state / "backups" / rec["new_copy"]
    assert copy.read_text() == made[0]
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert made[0] not in (state / "session.yaml").read_text()
    assert made[0] not in (state / "journal.log").read_text()
    # the killed write left its temp copy of the key next to the target
    stray = target_root / "etc/ssl/private/.mw-abcd1234"
    stray.write_text(made[0])
    with Session.open(state) as s2:
        e = make_engine(target_root, s2, [Key()])
        assert e.apply()[0].status == "applied"
        key = (target_root / "etc/ssl/private/mail.key").read_text()
        assert key == made[0]  # the journaled key, not a new one
        assert ch.sha256(key.encode()) == rec["sha_after"]
        assert not stray.exists()
        assert not copy.exists()  # done: the pending copy of the key is gone
        res = e.rollback()
        assert res.errors == [], res.errors
    assert tree(target_root) == before


def test_a_finished_key_leaves_no_copy_in_the_backups(target_root, tmp_path):
    state = tmp_path / "state"
    with Session.open(state) as s:
        make_engine(target_root, s, [Key()]).apply()
        assert not [n for n in os.listdir(state / "backups") if "-new-" in n]


def test_rollback_removes_stray_temp_files_next_to_journaled_paths(target_root, tmp_path,
                                                                   tree):
    before = tree(target_root)
    state = tmp_path / "state"
    killed_in(target_root, state, Key(), "write_atomic")
    stray = target_root / "etc/ssl/private/.mw-k3y_tmp9"
    stray.write_text("secret")
    keep = target_root / "etc/ssl/private/.mw-notours"  # not a write_atomic temp name
    keep.write_text("x")
    with Session.open(state) as s2:
        res = make_engine(target_root, s2, [Key()]).rollback()
        assert res.errors == []
    assert not stray.exists() and keep.exists()
    assert any("/etc/ssl/private is not empty" in w for w in res.warnings)  # keep is there
    # the pending key copy went with the undo
    assert not [n for n in os.listdir(state / "backups") if "-new-" in n]
    keep.unlink()
    (target_root / "etc/ssl/private").rmdir()
    (target_root / "etc/ssl").rmdir()
    assert tree(target_root) == before


def test_interrupted_write_journal_holds_no_key(target_root, tmp_path):
    state = tmp_path / "state"
    made.clear()
    killed_in(target_root, state, Key(), "write_atomic")
    data = yaml.safe_load((state / "session.yaml").read_text())
    assert made[0] not in repr(data)
