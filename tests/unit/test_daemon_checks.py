"""Daemon checks read pid files and /proc: no procps tool, and a stale pid file is not a daemon.

The "daemons" are copies of ``sleep`` named like the daemon (so /proc shows that name), started
by the test on the host and killed by pid at the end: nothing listens, nothing is configured.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator, List

import pytest

from recipes._daemons import DOVECOT_PIDFILE, dovecot_running
from recipes.restrictions import postgrey_direct
from recipes.sasl import saslauthd_direct
from wizard import procs
from wizard.changes import BackupStore, ChangeContext, Service
from wizard.executor import Executor
from wizard.platforms import get_platform


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator:
    started: List[subprocess.Popen] = []

    def start(name: str) -> subprocess.Popen:
        exe = tmp_path / "bin" / name
        exe.parent.mkdir(exist_ok=True)
        if not exe.exists():
            shutil.copy(shutil.which("sleep") or "/bin/sleep", exe)
        proc = subprocess.Popen([str(exe), "60"])
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "usr/sbin").mkdir(parents=True)
    for tool in ("dovecot", "postgrey", "saslauthd"):
        (root / "usr/sbin" / tool).write_text("#!/bin/sh\nexit 0\n")
        os.chmod(root / "usr/sbin" / tool, 0o755)
    (root / "run/dovecot").mkdir(parents=True)
    return root


def _pidfile(root: Path, path: str, pid: int) -> None:
    p = root / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f"{pid}\n")


def test_dovecot_running_from_its_pid_file_without_any_tool(tmp_path: Path, spawn) -> None:
    root = _root(tmp_path)
    ex = Executor(root, host_commands=True)
    assert dovecot_running(ex) is False  # no pid file
    daemon = spawn("dovecot")
    _pidfile(root, DOVECOT_PIDFILE, daemon.pid)
    assert dovecot_running(ex) is True
    assert ex.history == []  # answered from /proc: no kill, no procps on the target
    daemon.kill()
    daemon.wait()
    assert dovecot_running(ex) is False


def test_a_stale_pid_file_naming_another_program_is_not_dovecot(tmp_path: Path,
                                                                  spawn) -> None:
    root = _root(tmp_path)
    ex = Executor(root, host_commands=True)
    other = spawn("sleep")  # the pid went to another program after dovecot died
    _pidfile(root, DOVECOT_PIDFILE, other.pid)
    assert dovecot_running(ex) is False
    _pidfile(root, DOVECOT_PIDFILE, os.getpid())  # nor is the wizard itself
    assert dovecot_running(ex) is False


@pytest.mark.parametrize("name,direct", [
    ("postgrey", postgrey_direct(get_platform("debian12"), 300)),
    ("saslauthd", saslauthd_direct(get_platform("rocky9"))),
])
def test_direct_services_run_and_stop_by_pid_file(tmp_path: Path, spawn, name: str,
                                                  direct) -> None:
    root = _root(tmp_path)
    ex = Executor(root, host_commands=True)
    ctx = ChangeContext(ex, get_platform("debian12"), BackupStore(tmp_path / "backups"))
    svc = Service(name, action="restart", direct=direct)
    pidfile = direct["pidfile"][0][0]
    assert direct["pidfile"][0][1:] == [name]
    assert not any("kill" in " ".join(c) for cmds in direct.values() for c in cmds)
    assert svc._running(ctx, "direct") is False
    bystander = spawn("sleep")
    _pidfile(root, pidfile, bystander.pid)  # stale: the pid is someone else's now
    assert svc._running(ctx, "direct") is False
    svc._do(ctx, "direct", "stop")  # must not signal the bystander
    time.sleep(0.2)
    assert bystander.poll() is None
    daemon = spawn(name)
    _pidfile(root, pidfile, daemon.pid)
    assert svc._running(ctx, "direct") is True
    svc._do(ctx, "direct", "stop")
    assert daemon.wait(timeout=10) == -signal.SIGTERM
    assert svc._running(ctx, "direct") is False
    assert ex.history == []


def test_zombies_and_garbage_are_not_running(tmp_path: Path) -> None:
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and procs.process_names(child.pid) is not None:
        time.sleep(0.02)  # exited, not reaped: a zombie
    assert procs.runs_as(child.pid, ["true"]) is False
    child.wait()
    for text in (None, "", "abc", "12 34", "-5", "1", "0", "99999999999", "123\n\n"):
        assert procs.read_pid(text) == (123 if text == "123\n\n" else None)
