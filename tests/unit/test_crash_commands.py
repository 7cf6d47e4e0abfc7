"""Crash safety: a command interrupted in flight stays ``started``; its probe decides.

Ctrl-C (KeyboardInterrupt), a timeout or a kill inside useradd, apt or a probed command must
not mark the change "failed, nothing to undo": resume re-checks it, rollback undoes it when
it took effect.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_target import dpkg_query, make_engine, make_root

from wizard import changes as ch
from wizard.answers import demo_answers_path, load_answers
from wizard.engine import StepInterrupted
from wizard.executor import FakeCommand, ScriptedExecutor
from wizard.recipe import Recipe
from wizard.session import Session

ANSWERS = load_answers(demo_answers_path())


class Accounts:
    """useradd/userdel on the root's /etc/passwd; useradd may be interrupted after its work."""

    def __init__(self, root: Path, interrupt: str = "") -> None:
        self.root = root
        self.interrupt = interrupt  # "", "ctrl-c" or "timeout"
        self.original = (root / "etc/passwd").read_text()

    def useradd(self, argv, ex):  # type: ignore[no-untyped-def]
        p = self.root / "etc/passwd"
        p.write_text(p.read_text() + f"{argv[-1]}:x:1500:1500::/home/{argv[-1]}:/bin/bash\n")
        if self.interrupt == "ctrl-c":
            raise KeyboardInterrupt
        if self.interrupt == "timeout":
            return FakeCommand(124, "", "timed out after 120 s")
        return FakeCommand(0)

    def userdel(self, argv, ex):  # type: ignore[no-untyped-def]
        (self.root / "etc/passwd").write_text(self.original)
        return FakeCommand(0)

    def script(self):  # type: ignore[no-untyped-def]
        return {"useradd": self.useradd, "userdel": self.userdel}


class AddUser(Recipe):
    id = "users"
    title = "Users"

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        return [ch.FileWrite("/etc/mw.conf", "a\n"), ch.UserGroup(user="carol")]


def test_ctrl_c_in_useradd_keeps_the_entry_started_and_rollback_deletes_the_user(
        target_root, tmp_path, tree):
    before = tree(target_root)
    acc = Accounts(target_root, interrupt="ctrl-c")
    state = tmp_path / "state"
    with Session.open(state) as s:
        with pytest.raises(KeyboardInterrupt) as info:
            make_engine(target_root, s, [AddUser()],
                        ScriptedExecutor(target_root, acc.script())).apply()
        assert isinstance(info.value, StepInterrupted) and not info.value.graceful
        assert info.value.change == "create user carol"
    with Session.open(state) as s2:
        assert [e["state"] for e in s2.journal] == ["done", "started"]
        assert (target_root / "etc/mw.conf").exists()  # the finished change was kept
        assert s2.step_status("users") == "interrupted"
        ex = ScriptedExecutor(target_root, acc.script())
        res = make_engine(target_root, s2, [AddUser()], ex).rollback()
        assert res.errors == []
        assert ["userdel", "-r", "carol"] in ex.calls  # the probe saw carol: undone
    assert tree(target_root) == before


def test_ctrl_c_in_useradd_then_resume_does_not_add_the_user_twice(target_root, tmp_path):
    acc = Accounts(target_root, interrupt="ctrl-c")
    state = tmp_path / "state"
    with Session.open(state) as s:
        with pytest.raises(KeyboardInterrupt):
            make_engine(target_root, s, [AddUser()],
                        ScriptedExecutor(target_root, acc.script())).apply()
    acc.interrupt = ""
    with Session.open(state) as s2:
        ex = ScriptedExecutor(target_root, acc.script())
        assert make_engine(target_root, s2, [AddUser()], ex).apply()[0].status == "applied"
        assert not any(c[0] == "useradd" for c in ex.calls)
        assert [e["state"] for e in s2.journal] == ["done", "done"]
        assert s2.step_status("users") == "applied"


def test_a_timed_out_useradd_that_did_its_work_is_undone_with_the_step(target_root,
                                                                       tmp_path, tree):
    before = tree(target_root)
    acc = Accounts(target_root, interrupt="timeout")
    with Session.open(tmp_path / "state") as s:
        ex = ScriptedExecutor(target_root, acc.script())
        res = make_engine(target_root, s, [AddUser()], ex).apply()
        assert res[0].status == "failed" and "timed out" in res[0].error
        assert ["userdel", "-r", "carol"] in ex.calls
        assert [e["state"] for e in s.journal] == ["undone", "undone"]
    assert tree(target_root) == before


def test_a_failed_useradd_that_did_nothing_is_not_undone(target_root, tmp_path):
    with Session.open(tmp_path / "state") as s:
        ex = ScriptedExecutor(target_root, {"useradd": FakeCommand(9, "", "useradd: boom")})
        res = make_engine(target_root, s, [AddUser()], ex).apply()
        assert res[0].status == "failed"
        assert not any(c[0] == "userdel" for c in ex.calls)
        assert [e["state"] for e in s.journal] == ["undone", "failed"]


class Probed(Recipe):
    id = "probed"
    title = "A probed command"

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        return [ch.Command(["ufw", "allow", "25/tcp"], unless=["ufw-has", "25/tcp"],
                           undo=["ufw", "delete", "allow", "25/tcp"])]


def firewall(rules: set, interrupt: bool):  # type: ignore[no-untyped-def]
    def allow(argv, ex):  # type: ignore[no-untyped-def]
        rules.add(argv[-1])
        if interrupt:
            raise KeyboardInterrupt
        return FakeCommand(0)

    def has(argv, ex):  # type: ignore[no-untyped-def]
        return FakeCommand(0 if argv[-1] in rules else 1)

    def delete(argv, ex):  # type: ignore[no-untyped-def]
        rules.discard(argv[-1])
        return FakeCommand(0)

    return {"ufw allow": allow, "ufw-has": has, "ufw delete allow": delete}


def interrupt_probed(target_root, state, rules):  # type: ignore[no-untyped-def]
    """Apply Probed() and stop it with Ctrl-C inside its command; return the journal."""
    with Session.open(state) as s:
        with pytest.raises(KeyboardInterrupt):
            make_engine(target_root, s, [Probed()],
                        ScriptedExecutor(target_root, firewall(rules, True))).apply()
        return list(s.journal)


def test_an_interrupted_probed_command_is_rechecked_on_resume(target_root, tmp_path):
    rules: set = set()
    state = tmp_path / "state"
    journal = interrupt_probed(target_root, state, rules)
    assert journal[0]["state"] == "started"
    assert journal[0]["record"]["unless"] == ["ufw-has", "25/tcp"]
    with Session.open(state) as s2:
        ex = ScriptedExecutor(target_root, firewall(rules, False))
        assert make_engine(target_root, s2, [Probed()], ex).apply()[0].status == "applied"
        assert ["ufw", "allow", "25/tcp"] not in ex.calls  # the probe said it was done
        assert s2.journal[0]["state"] == "done"


def test_an_interrupted_probed_command_is_undone_by_rollback(target_root, tmp_path):
    rules: set = set()
    state = tmp_path / "state"
    interrupt_probed(target_root, state, rules)
    with Session.open(state) as s2:
        res = make_engine(target_root, s2, [Probed()],
                          ScriptedExecutor(target_root, firewall(rules, False))).rollback()
        assert res.errors == [] and res.undone == 1
    assert rules == set()


def test_an_interrupted_command_that_did_not_run_is_not_undone(target_root, tmp_path):
    rules: set = set()
    with Session.open(tmp_path / "state") as s:
        s.start_entry("probed", 0, "command", "run ufw allow 25/tcp", s.next_key(),
                      {"argv": ["ufw", "allow", "25/tcp"],
                       "undo": ["ufw", "delete", "allow", "25/tcp"],
                       "unless": ["ufw-has", "25/tcp"], "creates": None, "after_files": []},
                      "Command")
        ex = ScriptedExecutor(target_root, firewall(rules, False))
        res = make_engine(target_root, s, [Probed()], ex).rollback()
        assert res.errors == [] and res.undone == 0
        assert not any(c[:2] == ["ufw", "delete"] for c in ex.calls)
        assert s.journal[0]["state"] == "failed"


def test_rollback_of_a_started_install_purges_only_what_got_installed(tmp_path, tree):
    root = make_root(tmp_path / "root")
    before = tree(root)
    installed: set = set()

    def install(argv, ex):  # type: ignore[no-untyped-def]
        installed.add("postfix")  # dovecot-core never got installed: Ctrl-C
        ex.path("/etc/postfix").mkdir()
        ex.path("/etc/postfix/main.cf").write_text("package file\n")
        raise KeyboardInterrupt

    def purge(argv, ex):  # type: ignore[no-untyped-def]
        installed.difference_update(argv)
        ex.path("/etc/postfix/main.cf").unlink()
        return FakeCommand(0)

    class Install(Recipe):
        id = "packages"
        title = "Packages"

        def plan(self, ctx):  # type: ignore[no-untyped-def]
            return [ch.Packages("apt", install=["postfix", "dovecot-core"])]

    script = {"dpkg-query -W": dpkg_query(installed), "apt-get install": install,
              "apt-get purge": purge, "dpkg-query -S": FakeCommand(1, "")}
    state = tmp_path / "state"
    with Session.open(state) as s:
        with pytest.raises(KeyboardInterrupt):
            make_engine(root, s, [Install()], ScriptedExecutor(root, script)).apply()
        assert s.journal[0]["state"] == "started"
    with Session.open(state) as s2:
        ex = ScriptedExecutor(root, script)
        res = make_engine(root, s2, [Install()], ex).rollback()
        assert res.errors == [] and res.undone == 1
        assert ["apt-get", "purge", "-y", "-q", "--auto-remove", "postfix"] in ex.calls
    assert installed == set()
    assert tree(root) == before
