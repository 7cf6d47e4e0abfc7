"""The probe cache of a run: a read-only probe runs once while nothing changes; any write or
other command through the executor forgets every answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

import pytest

from wizard.errors import CommandFailed
from wizard.executor import CommandResult, Executor
from wizard.executor import root as root_mod
from wizard.executor.probecache import cacheable, read_only


@pytest.fixture()
def spawned(monkeypatch: pytest.MonkeyPatch) -> List[List[str]]:
    """The commands that really reach run_sh (each answers with a fresh counter)."""
    calls: List[List[str]] = []

    def fake(full: List[str], **_kw: Any) -> CommandResult:
        calls.append(list(full))
        code = 1 if full[:2] == ["postfix", "status"] else 0
        return CommandResult(list(full), code, f"answer {len(calls)}\n", "")

    monkeypatch.setattr(root_mod, "run_sh", fake)
    return calls


def test_nothing_is_cached_outside_the_block(tmp_path: Path, spawned: List[List[str]]) -> None:
    ex = Executor(tmp_path, host_commands=True)
    ex.run(["postfix", "check"], quiet=True)
    ex.run(["postfix", "check"], quiet=True)
    assert len(spawned) == 2


def test_a_probe_runs_once_until_something_changes(tmp_path: Path,
                                                   spawned: List[List[str]]) -> None:
    ex = Executor(tmp_path, host_commands=True)
    with ex.probe_cache():
        a = ex.run(["postfix", "check"], quiet=True)
        b = ex.run(["postfix", "check"], quiet=True)
        assert a.stdout == b.stdout == "answer 1\n" and len(spawned) == 1
        ex.write_atomic("/etc/x.cf", b"x\n", 0o644, 0, 0)  # a write forgets the answers
        assert ex.run(["postfix", "check"], quiet=True).stdout == "answer 2\n"
        ex.run(["doveconf", "-n"], quiet=True)
        ex.run(["postfix", "reload"])  # a change command forgets them too
        assert ex.run(["doveconf", "-n"], quiet=True).stdout == "answer 5\n"
        ex.run(["doveconf", "-n"], quiet=True)
        ex.set_meta("/etc/x.cf", mode=0o600)
        ex.run(["doveconf", "-n"], quiet=True)
        ex.makedirs("/etc/d")
        ex.run(["doveconf", "-n"], quiet=True)
        ex.remove("/etc/x.cf")
        ex.run(["doveconf", "-n"], quiet=True)
    assert [c for c in spawned if c == ["doveconf", "-n"]] == [["doveconf", "-n"]] * 5
    with ex.probe_cache():  # a new block starts empty
        ex.run(["doveconf", "-n"], quiet=True)
    assert len([c for c in spawned if c == ["doveconf", "-n"]]) == 6


def test_a_cached_failure_still_raises_when_checked(tmp_path: Path,
                                                    spawned: List[List[str]]) -> None:
    ex = Executor(tmp_path, host_commands=True)
    with ex.probe_cache():
        assert not ex.run(["postfix", "status"], quiet=True).ok
        with pytest.raises(CommandFailed):
            ex.run(["postfix", "status"], quiet=True, check=True)
    assert len(spawned) == 1


def test_commands_with_input_environment_or_output_are_not_cached(
        tmp_path: Path, spawned: List[List[str]]) -> None:
    ex = Executor(tmp_path, host_commands=True)
    with ex.probe_cache():
        for _ in range(2):
            ex.run(["postfix", "check"], quiet=True, input="x")
            ex.run(["postfix", "check"], quiet=True, env={"A": "1"})
            ex.run(["postfix", "check"])
    assert len(spawned) == 6


@pytest.mark.parametrize("argv", [
    ["postfix", "check"], ["postfix", "status"], ["doveconf", "-n"],
    ["doveconf", "-h", "mail_location", "protocols"], ["postconf", "-dh", "mail_version"],
    ["postconf", "-P"], ["postconf", "-M", "submission/inet"],
    ["postmap", "-q", "bob@example.test", "hash:/etc/postfix/virtual"],
    ["dpkg-query", "-W", "-f", "${Package}\\n", "postfix"], ["dovecot", "--version"]])
def test_read_only_probes_are_cacheable(argv: List[str]) -> None:
    assert cacheable(argv)


@pytest.mark.parametrize("argv", [
    ["postfix", "reload"], ["postfix", "start"], ["postconf", "-e", "a = b"],
    ["postconf", "-X", "a"], ["postconf", "-#", "a"], ["postconf", "myhostname=x"],
    ["postconf", "-P", "submission/inet/a=b"], ["postconf", "-M", "x/inet=x inet n"],
    ["postmap", "hash:/etc/postfix/virtual"], ["doveadm", "reload"], ["sh", "-c", "true"],
    ["dpkg-query"], []])
def test_commands_that_change_things_are_not(argv: List[str]) -> None:
    assert not cacheable(argv)


def test_a_lookup_of_many_keys_is_cached_for_its_input(tmp_path: Path,
                                                       spawned: List[List[str]]) -> None:
    ex = Executor(tmp_path, host_commands=True)
    argv = ["postmap", "-q", "-", "hash:/etc/postfix/virtual"]
    with ex.probe_cache():
        ex.run(["doveconf", "-n"], quiet=True)
        a = ex.run(argv, quiet=True, input="a@example.test\n")
        b = ex.run(argv, quiet=True, input="a@example.test\n")
        ex.run(argv, quiet=True, input="b@example.test\n")  # other keys: asked again
        ex.run(["doveconf", "-n"], quiet=True)  # the lookups forgot nothing
    assert a.stdout == b.stdout and len(spawned) == 3
    assert cacheable(argv, "x\n") and not cacheable(["postmap", "-q", "a", "b"], "x\n")
    assert not cacheable(["postmap", "-q", "-", "hash:/etc/x y"], "x\n")
    assert not cacheable(["postfix", "check"], "x\n")


def test_read_only_commands_run_each_time_and_keep_the_cache(
        tmp_path: Path, spawned: List[List[str]]) -> None:
    ex = Executor(tmp_path, host_commands=True)
    with ex.probe_cache():
        ex.run(["postfix", "status"], quiet=True)
        for argv in (["ss", "-ltnp"], ["hostname", "-f"], ["doveadm", "service", "status"],
                     ["grep", "-qsE", "^Socket[[:space:]]+x$", "/etc/opendkim.conf"]):
            assert read_only(argv) and not cacheable(argv)
            ex.run(argv, quiet=True)
            ex.run(argv, quiet=True)
            assert spawned.count(argv) == 2  # a fresh answer each time
        ex.run(["postfix", "status"], quiet=True)
        ex.run(["hostname", "-f"])  # not quiet: a command like any other
        ex.run(["postfix", "status"], quiet=True)
    assert spawned.count(["postfix", "status"]) == 2


@pytest.mark.parametrize("argv", [
    ["hostname", "mail.example.test"], ["hostname", "-F", "/etc/hostname"],
    ["ss", "-K", "dst", "1.2.3.4"], ["ss", "-ltnp", "state", "x"], ["grep", "-E", "x", "/f"],
    ["grep", "-q", "x"], ["grep", "-qs", "x", "relative"], ["grep", "-qs", "x", "/f", "-r"],
    ["doveadm", "stop"], ["sh", "-c", "grep -q x /f"], []])
def test_other_commands_are_not_read_only(argv: List[str]) -> None:
    assert not read_only(argv)
