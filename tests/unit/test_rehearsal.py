"""The rehearsal: files real in a scratch root, commands recorded and answered, checks that need
the running system reported as not checked, and nothing outside the scratch directory touched
(apply all, verify, rollback and resume run under a guard that fails any write elsewhere and
any process or network connection)."""

from __future__ import annotations

import builtins
import io
import os
import socket
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from treeutil import snapshot_tree

from recipes import all_recipes
from wizard.answers import demo_answers_path, load_answers
from wizard.engine import Engine
from wizard.errors import ExecutorError, UsageError
from wizard.events import StepInterrupted
from wizard.executor import (
    REHEARSAL_PREFIX,
    NotCheckedInRehearsal,
    RehearsalExecutor,
    SimulatedSystem,
)
from wizard.executor import process as process_mod
from wizard.platforms import STOCK_DIR, get_platform
from wizard.rehearsal import PACE_VARIABLE, open_scratch, rehearsal_pace
from wizard.run import apply_and_verify
from wizard.session import Session

DEMO = load_answers(demo_answers_path())


# --------------------------------------------------------------------------- the guard
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


@pytest.fixture
def confined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[List[str]]:
    """Fail any write outside ``tmp_path``, any process started and any network
    connection; yields the list of refusals (a refusal also raises where it happens)."""
    allowed = str(tmp_path.resolve())
    refused: List[str] = []

    def inside(path: Any) -> bool:
        if isinstance(path, int):
            return True  # an open descriptor: checked when it was opened
        p = os.path.realpath(os.path.abspath(os.fspath(path)))
        return p == allowed or p.startswith(allowed + os.sep)

    def refuse(what: str) -> None:
        refused.append(what)
        raise AssertionError(f"rehearsal escaped its scratch directory: {what}")

    def wrap_path(name: str, count: int = 1, first: int = 0) -> None:
        real = getattr(os, name)

        def guarded(*args: Any, **kwargs: Any) -> Any:
            for p in args[first:count]:
                if not inside(p):
                    refuse(f"os.{name}({p!r})")
            return real(*args, **kwargs)

        monkeypatch.setattr(os, name, guarded)

    for name in ("mkdir", "rmdir", "unlink", "remove", "chmod", "chown", "lchown", "utime",
                 "truncate", "mkfifo", "mknod"):
        wrap_path(name)
    for name in ("replace", "rename", "link"):
        wrap_path(name, 2)
    wrap_path("symlink", 2, first=1)  # where the link is made, not what it says

    real_open = os.open

    def guarded_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & _WRITE_FLAGS and not inside(path):
            refuse(f"os.open({path!r}, writing)")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    real_io_open = io.open

    def guarded_io_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(c in mode for c in "wax+") and not inside(file):
            refuse(f"open({file!r}, {mode!r})")
        return real_io_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(io, "open", guarded_io_open)
    monkeypatch.setattr(builtins, "open", guarded_io_open)

    def no_process(*args: Any, **kwargs: Any) -> Any:
        refuse(f"a process: {args[:1]!r}")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    monkeypatch.setattr(process_mod, "run_sh", no_process)
    monkeypatch.setattr(os, "fork", no_process)
    monkeypatch.setattr(os, "posix_spawn", no_process)

    def no_network(*args: Any, **kwargs: Any) -> Any:
        refuse(f"a network connection: {args[1:2]!r}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "sendto", no_network)
    yield refused


def host_etc() -> Dict[str, Tuple[int, int, int]]:
    """Name -> (size, mtime, mode) of everything directly in this machine's /etc."""
    out = {}
    for entry in os.scandir("/etc"):
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        out[entry.name] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return out


# --------------------------------------------------------------------------- scratch
def test_scratch_starts_as_the_platforms_stock_files(tmp_path: Path) -> None:
    rocky = get_platform("rocky9")
    sc = open_scratch(rocky, tmp_path / "scratch")
    assert sc.created
    for rel in ("etc/postfix/main.cf", "etc/postfix/master.cf", "etc/dovecot/dovecot.conf"):
        assert (sc.root / rel).read_bytes() == (STOCK_DIR / rocky.stock / rel).read_bytes()
    assert (sc.root / "run/systemd/system").is_dir()
    assert "postfix:x:" in (sc.root / "etc/passwd").read_text()
    again = open_scratch(rocky, tmp_path / "scratch")
    assert not again.created and again.root == sc.root
    with pytest.raises(UsageError, match="another platform"):
        open_scratch(get_platform("debian12"), tmp_path / "scratch")
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not a rehearsal"):
        open_scratch(rocky, other)
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def test_a_rehearsal_never_works_on_the_real_root() -> None:
    with pytest.raises(ExecutorError, match="never works on /"):
        RehearsalExecutor("/", SimulatedSystem(get_platform("debian12")))


# --------------------------------------------------------------------------- executor
def _executor(tmp_path: Path, platform: str = "debian12") -> Tuple[RehearsalExecutor, List[str]]:
    sc = open_scratch(get_platform(platform), tmp_path / "scratch")
    lines: List[str] = []
    sc.executor.on_output = lines.append
    return sc.executor, lines


def test_files_are_written_for_real_in_the_scratch_root(tmp_path: Path,
                                                        confined: List[str]) -> None:
    ex, _ = _executor(tmp_path)
    ex.write_atomic("/etc/postfix/extra.cf", b"x = 1\n", 0o640, 0, 0)
    assert (ex.root / "etc/postfix/extra.cf").read_bytes() == b"x = 1\n"
    # a link in the scratch root pointing at the host's /etc stays inside the root
    os.symlink("/etc", ex.root / "etc/hostetc")
    ex.write_atomic("/etc/hostetc/mailwizard-probe", b"inside\n", 0o644, 0, 0)
    assert (ex.root / "etc/mailwizard-probe").read_bytes() == b"inside\n"
    ex.write_atomic("/../../../etc/mailwizard-probe2", b"inside\n", 0o644, 0, 0)
    assert (ex.root / "etc/mailwizard-probe2").exists()
    assert not Path("/etc/mailwizard-probe").exists()
    assert confined == []


def test_commands_are_recorded_and_answered_never_run(tmp_path: Path,
                                                      confined: List[str]) -> None:
    ex, lines = _executor(tmp_path)
    assert ex.which("postconf") is None  # no mail software on a fresh server
    assert not ex.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\\n",
                       "postfix"], quiet=True).ok
    assert ex.run(["apt-get", "install", "-y", "-q", "-o", "Dpkg::Options::=--force-confold",
                   "postfix", "dovecot-core"]).ok
    assert ex.which("postconf") == "/usr/bin/postconf" and ex.which("doveadm") is not None
    res = ex.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\\n", "postfix"],
                 quiet=True)
    assert res.ok and res.stdout.split()[:2] == ["postfix", "ii"]
    assert not ex.run(["systemctl", "is-active", "--quiet", "postfix"], quiet=True).ok
    ex.run(["systemctl", "start", "postfix"])
    assert ex.run(["systemctl", "is-active", "--quiet", "postfix"], quiet=True).ok
    # an unknown probe says "not yet" (as in a dry run); an unknown command succeeds
    assert not ex.run(["test", "-e", "/etc/x"], quiet=True).ok
    assert ex.run(["newaliases"]).ok
    # the config checkers run before a reload have nothing to report
    assert ex.run(["postfix", "check"], quiet=True).ok
    shown = [f"{REHEARSAL_PREFIX}apt-get install -y -q -o Dpkg::Options::=--force-confold "
             "postfix dovecot-core", f"{REHEARSAL_PREFIX}systemctl start postfix",
             f"{REHEARSAL_PREFIX}newaliases"]
    assert lines == shown  # probes are not shown, like a real run's quiet commands
    log = (tmp_path / "scratch/commands.log").read_text().splitlines()
    assert log == [x[len(REHEARSAL_PREFIX):] for x in shown]
    # the state survives a restart
    again = open_scratch(get_platform("debian12"), tmp_path / "scratch").executor
    assert again.which("postconf") is not None
    assert again.run(["systemctl", "is-active", "--quiet", "postfix"], quiet=True).ok
    assert confined == []


def test_a_password_given_on_input_is_never_recorded(tmp_path: Path) -> None:
    ex, lines = _executor(tmp_path)
    ex.run(["chpasswd"], input="alice:s3cret-Pw\n")
    log = (tmp_path / "scratch/commands.log").read_text()
    assert log == "chpasswd\n"
    assert "s3cret" not in repr(ex.recorded) + repr(lines) + log
    # run quiet, as UserGroup and SetPassword do: still a change that succeeds, never a
    # probe answered "not yet"
    assert ex.run(["chpasswd"], input="alice:s3cret-Pw\n", quiet=True, check=True).ok


def test_account_tools_edit_the_scratch_files_and_undo_byte_for_byte(
        tmp_path: Path, confined: List[str]) -> None:
    ex, _ = _executor(tmp_path)
    (ex.root / "etc/skel/Maildir/new").mkdir(parents=True)
    before = snapshot_tree(ex.root)
    assert ex.run(["useradd", "-m", "-s", "/usr/sbin/nologin", "carol"]).ok
    assert ex.users()["carol"][2] == "/home/carol"
    assert (ex.root / "home/carol/Maildir/new").is_dir()
    assert ex.run(["usermod", "-a", "-G", "mail", "carol"]).ok
    assert "carol" in ex.groups()["mail"][1]
    assert not ex.run(["useradd", "carol"]).ok  # exists already
    assert ex.run(["gpasswd", "-d", "carol", "mail"]).ok
    assert ex.run(["userdel", "-r", "carol"]).ok
    assert ex.run(["groupadd", "-r", "vmail"]).ok and "vmail" in ex.groups()
    assert ex.run(["groupdel", "vmail"]).ok
    assert snapshot_tree(ex.root) == before
    assert confined == []


def test_checks_never_get_a_made_up_answer(tmp_path: Path) -> None:
    ex, _ = _executor(tmp_path)
    ex.run(["systemctl", "start", "postfix"])
    with ex.checking():
        with pytest.raises(NotCheckedInRehearsal):
            ex.run(["systemctl", "is-active", "--quiet", "postfix"], quiet=True)
        with pytest.raises(NotCheckedInRehearsal):
            ex.daemon_pid("/run/dovecot/master.pid", ["dovecot"])
        assert ex.read_text("/etc/postfix/main.cf")  # files are fine to read
    assert ex.run(["systemctl", "is-active", "--quiet", "postfix"], quiet=True).ok


# --------------------------------------------------------------------------- the whole flow
def _engine(sc_dir: Path, platform: str) -> Tuple[Engine, Session, Path]:
    sc = open_scratch(get_platform(platform), sc_dir)
    session = Session.open(sc.state_dir)
    engine = Engine(DEMO, get_platform(platform), sc.executor, session=session,
                    recipes=all_recipes())
    session.bind(platform, str(sc.root), DEMO.to_dict())
    return engine, session, sc.root


@pytest.mark.parametrize("platform", ["rocky9", "debian12"])
def test_apply_verify_rollback_and_resume_touch_nothing_outside(
        tmp_path: Path, confined: List[str], platform: str) -> None:
    etc_before = host_etc()
    scratch = tmp_path / "scratch"
    sc = open_scratch(get_platform(platform), scratch)
    fresh = snapshot_tree(sc.root)

    # apply all, stopped after the fourth step as a Ctrl+C would
    engine, session, root = _engine(scratch, platform)
    done: List[str] = []

    def stop_after_four(progress: Any) -> None:
        done.append(progress.result.step)
        if len(done) == 4:
            engine.cancelled = True

    with pytest.raises(StepInterrupted):
        apply_and_verify(engine, None, verify_each=False, on_progress=stop_after_four)
    session.close()

    # restart: a new executor and session over the same scratch directory resume it
    engine, session, root = _engine(scratch, platform)
    assert len(done) == 4
    assert all(session.step_status(s) in ("applied", "skipped") for s in done)
    rest = [r.id for r in engine.select(None)][4:]
    assert all(session.step_status(s) == "pending" for s in rest)
    # step by step, each one's "before" kept: the last that changes files is rolled back below
    before: Dict[str, Dict[str, Tuple]] = {}
    for step in rest:
        before[step] = snapshot_tree(root)
        run = apply_and_verify(engine, [step], verify_each=False)
        assert run.failed is None and not run.stopped_before_checks, run.failed
    now = snapshot_tree(root)
    after = [before[s] for s in rest[1:]] + [now]
    last = [s for s, b, a in zip(rest, (before[s] for s in rest), after) if b != a][-1]
    assert all(session.step_status(s) in ("applied", "skipped", "verified") for s in rest)
    assert (root / "etc/postfix/main.cf").read_bytes() != (
        STOCK_DIR / get_platform(platform).stock / "etc/postfix/main.cf").read_bytes()

    # verify: file checks really pass; whatever needs the running system is not checked
    checks = engine.verify()
    everything = [c for cs in checks.values() for c in cs]
    assert any(c.ok is True for c in checks["certificate"])
    # each check says for itself: main.cf values pass, the daemon's answers are not checked
    basics = {c.name: c for c in checks["postfix-basics"]}
    assert basics["main.cf myhostname"].ok is True
    assert basics["port 25 answers"].not_checked and basics["postfix check"].not_checked
    whole = [step for step, cs in checks.items() if any(c.name == f"{step} checks" for c in cs)]
    assert set(whole) <= {"services", "epel", "dkim"}, whole
    unchecked = [c for c in everything if c.not_checked]
    assert unchecked and all(c.ok is None and c.status == "SKIP" for c in unchecked)
    assert all("not checked in a rehearsal" in c.detail for c in unchecked)
    assert not any(c.ok is False for c in everything)
    assert session.step_status("services") == "applied"  # never "verified" on faith
    assert session.step_status("certificate") == "verified"

    # roll back one step, then everything: byte for byte, the scratch root is what it was
    # before that step, then the fresh server again
    assert snapshot_tree(root) != before[last]
    res = engine.rollback([last])
    assert res.errors == [] and res.warnings == [] and res.undone > 0
    assert session.step_status(last) == "rolled-back"
    assert snapshot_tree(root) == before[last]
    res = engine.rollback()
    assert res.errors == [] and res.warnings == []
    session.close()
    assert snapshot_tree(root) == fresh
    assert confined == []
    assert host_etc() == etc_before


@pytest.mark.parametrize("value, pace", [("", 0.0), ("0.5", 0.5), ("x", 0.0), ("-3", 0.0),
                                         ("1e9", 10.0), ("nan", 0.0)])
def test_the_pace_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str,
                                             pace: float) -> None:
    monkeypatch.setenv(PACE_VARIABLE, value)
    assert rehearsal_pace() == pace
