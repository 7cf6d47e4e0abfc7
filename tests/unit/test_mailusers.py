"""``mailwizard user|alias ...`` on a temporary root: validation, answers, convergence, rollback.

The server: :func:`mailserver.applied_server` (the demo answers' maildir, aliases and
restrictions steps applied on a Debian 12 stock root)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterator, Tuple

import pytest
from allsteps import real_engine, real_steps
from fake_target import DEMO_ANSWERS, FakeTarget
from mailserver import PLATFORM, STEPS, Server, applied_server
from treeutil import snapshot_tree

from wizard import cli, mailusers, usercli
from wizard.answer_edits import AnswerEdit
from wizard.errors import AnswersError, SessionError, UsageError
from wizard.kept import kept_answers
from wizard.secret import Secret
from wizard.session import Session
from wizard.target import Target


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Tuple[Target, Session, Server]]:
    srv = applied_server(tmp_path)
    yield srv
    srv[1].close()


def _do(server: Tuple[Target, Session, Server], req: mailusers.Request) -> mailusers.Job:
    target, session, _ex = server
    job = mailusers.prepare(target, session, real_steps(), req)
    assert mailusers.run(job, verify=False).result.status == "applied"
    return job


def _rollback(server: Tuple[Target, Session, Server], step: str) -> None:
    target, session, _ex = server
    engine = real_engine(DEMO_ANSWERS, PLATFORM, target.executor, session=session)
    res = engine.rollback([step])
    assert not res.errors and res.undone > 0


def _converged(server: Tuple[Target, Session, Server]) -> None:
    """The session's answers, applied again by the whole engine, change nothing."""
    target, session, _ex = server
    answers = target.load_answers(None)
    engine = real_engine(answers, PLATFORM, target.executor, session=session)
    results = engine.apply(STEPS)
    assert [(r.step, r.status, r.changed) for r in results] == [
        (s, "applied", 0) for s in STEPS]


def test_user_add_then_rollback_is_byte_equal(server) -> None:
    target, session, ex = server
    before = snapshot_tree(target.root)
    job = _do(server, mailusers.Request("user add", "carol", password=Secret("correct horse")))
    assert job.step_id == "user-add-1"
    assert set(job.affected) == {"maildir", "restrictions"}  # accounts + sender login map
    assert "carol" in target.executor.users()
    assert (target.root / "home/carol/Maildir/new").is_dir()
    assert "carol@example.com" in (target.root / "etc/postfix/sender_logins").read_text()
    # the password went to chpasswd's input, never a command line, session or kept answers
    assert (["chpasswd"], "carol:correct horse\n") in ex.inputs
    assert not any("correct horse" in " ".join(a) for a, _ in ex.inputs)
    for f in target.state_dir.rglob("*"):
        if f.is_file() and not f.name.startswith("0"):
            assert b"correct horse" not in f.read_bytes(), f
    assert {"name": "carol", "create": True} in session.answers["users"]
    kept = kept_answers(target.state_dir)
    assert kept is not None and {"name": "carol", "create": True} in kept["users"]
    _converged(server)
    _rollback(server, job.step_id)
    assert snapshot_tree(target.root) == before
    assert all(u["name"] != "carol" for u in session.answers["users"])


def test_alias_add_remove_and_rollback(server) -> None:
    target, session, _ex = server
    before = snapshot_tree(target.root)
    job = _do(server, mailusers.Request("alias add", "sales", ("alice",)))
    assert "aliases" in job.affected
    text = (target.root / "etc/aliases").read_text()
    assert any(line.startswith("sales:") and "alice" in line for line in text.splitlines())
    assert session.answers["aliases"]["sales"] == ["bob", "alice"]
    job2 = _do(server, mailusers.Request("alias add", "help@example.net", ("bob",)))
    assert job2.step_id == "alias-add-2"
    assert "help@example.net" in (target.root / "etc/postfix/virtual").read_text()
    _converged(server)
    # the older change first: its sender login map was rewritten by the newer one, so the
    # whole-file restore refuses, and its answers entry stays
    engine = real_engine(DEMO_ANSWERS, PLATFORM, target.executor, session=session)
    res = engine.rollback([job.step_id])
    assert res.errors and "sender_logins" in res.errors[0]
    assert session.answers["aliases"]["sales"] == ["bob", "alice"]
    # newest first works, and each rollback puts only its own entry back
    _rollback(server, job2.step_id)
    assert "help@example.net" not in session.answers["virtual_aliases"]
    assert session.answers["aliases"]["sales"] == ["bob", "alice"]
    _rollback(server, job.step_id)
    assert snapshot_tree(target.root) == before
    assert session.answers["aliases"]["sales"] == ["bob"]


def test_user_passwd_changes_shadow_and_rolls_back(server) -> None:
    target, session, _ex = server
    before = snapshot_tree(target.root)
    job = _do(server, mailusers.Request("user passwd", "bob", password=Secret("new secret 1")))
    assert job.edit is None
    assert "bob:HASH(12)" in (target.root / "etc/shadow").read_text()
    _rollback(server, job.step_id)
    assert snapshot_tree(target.root) == before


def test_user_remove_keeps_the_mail_unless_asked(server) -> None:
    target, session, _ex = server
    _do(server, mailusers.Request("user add", "carol", password=Secret("correct horse")))
    mail = target.root / "home/carol/Maildir/new/1.msg"
    mail.write_text("hello")
    before = snapshot_tree(target.root)
    job = mailusers.prepare(target, session, real_steps(),
                            mailusers.Request("user remove", "carol"))
    notes = [p.note for sp in job.plans for p in sp.previews if p.title.startswith("remove")]
    assert notes and "stay" in notes[0]
    assert mailusers.run(job, verify=False).result.status == "applied"
    assert "carol" not in target.executor.users() and mail.read_text() == "hello"
    _rollback(server, job.step_id)
    assert snapshot_tree(target.root) == before
    job = _do(server, mailusers.Request("user remove", "carol", delete_mail=True))
    assert not mail.exists()
    _rollback(server, job.step_id)
    assert snapshot_tree(target.root) == before


def test_user_remove_waits_for_the_kicked_sessions(server, monkeypatch) -> None:
    """doveadm kick returns before the IMAP processes exit; userdel refuses a busy account
    (status 8) meanwhile: it is tried again, and gives up with userdel's own error when the
    account stays busy."""
    from wizard.changes import mailboxes
    from wizard.executor.scripted import FakeCommand

    target, session, ex = server
    _do(server, mailusers.Request("user add", "carol", password=Secret("correct horse")))
    real = ex.script["userdel"]
    busy = FakeCommand(8, "", "userdel: user carol is currently used by process 4467\n")
    left = [2]

    def userdel(argv, executor):
        if left[0]:
            left[0] -= 1
            return busy
        return real(argv, executor)  # type: ignore[operator]

    ex.script["userdel"] = userdel
    job = mailusers.prepare(target, session, real_steps(),
                            mailusers.Request("user remove", "carol"))
    assert mailusers.run(job, verify=False).result.status == "applied"
    assert [c for c in ex.calls if c[0] == "userdel"][-3:] == [["userdel", "carol"]] * 3
    assert "carol" not in target.executor.users()
    _rollback(server, job.step_id)
    assert "carol" in target.executor.users()

    ex.script["userdel"] = lambda argv, executor: busy  # busy for good
    monkeypatch.setattr(mailboxes.RemoveUser, "busy_wait", 0.3)
    job = mailusers.prepare(target, session, real_steps(),
                            mailusers.Request("user remove", "carol"))
    outcome = mailusers.run(job, verify=False).result
    assert outcome.status == "failed" and "currently used by process" in str(outcome.error)
    assert "carol" in target.executor.users()


@pytest.mark.parametrize("req, field", [
    (mailusers.Request("user add", "Bad Name", password=Secret("long enough")), "name"),
    (mailusers.Request("user add", "eve\n", password=Secret("long enough")), "name"),
    (mailusers.Request("user add", "eve;rm", password=Secret("long enough")), "name"),
    (mailusers.Request("user add", "eve", password=Secret("two\nlines here")), "password"),
    (mailusers.Request("user add", "eve", password=Secret("short")), "password"),
    (mailusers.Request("user add", "eve"), "password"),
    (mailusers.Request("user add", "alice", password=Secret("long enough")), "name"),
    (mailusers.Request("user passwd", "bob", password=Secret("x\ry long pw")), "password"),
    (mailusers.Request("user remove", "alice"), "admin_user"),
    (mailusers.Request("user remove", "nobody"), "name"),
    (mailusers.Request("alias add", "x|y", ("bob",)), "name"),
    (mailusers.Request("alias add", "ops", ("|/bin/sh",)), "aliases.ops"),
    (mailusers.Request("alias add", "ops", ("/etc/passwd",)), "aliases.ops"),
    (mailusers.Request("alias add", "ops", ("bob\nroot: evil",)), "targets"),
    (mailusers.Request("alias add", "ops", ("ghost",)), "aliases.ops"),
    (mailusers.Request("alias add", "x@elsewhere.org", ("bob",)),
     "virtual_aliases.x@elsewhere.org"),
    (mailusers.Request("alias add", "info", ("info",)), "aliases"),
    (mailusers.Request("alias remove", "nosuch"), "name"),
])
def test_bad_requests_change_nothing(server, req, field) -> None:
    target, session, _ex = server
    before = snapshot_tree(target.root)
    answers = dict(session.answers)
    with pytest.raises(AnswersError) as err:
        mailusers.prepare(target, session, real_steps(), req)
    assert field in [f for f, _ in err.value.errors], err.value.errors
    assert snapshot_tree(target.root) == before and session.answers == answers
    assert "edits" not in session.data


def test_user_remove_refuses_an_alias_target(server) -> None:
    target, session, _ex = server
    _do(server, mailusers.Request("user add", "carol", password=Secret("correct horse")))
    _do(server, mailusers.Request("alias add", "ops", ("carol",)))
    with pytest.raises(AnswersError) as err:
        mailusers.prepare(target, session, real_steps(), mailusers.Request("user remove",
                                                                           "carol"))
    assert "aliases.ops" in [f for f, _ in err.value.errors]


def test_refused_before_the_install(tmp_path: Path) -> None:
    ft = FakeTarget.stock(tmp_path, PLATFORM)
    session = Session.open(tmp_path / "state")
    session.bind(PLATFORM.id, str(ft.root), DEMO_ANSWERS.to_dict())
    target = Target(PLATFORM, ft.root, Server(ft.root), tmp_path / "state")
    with pytest.raises(SessionError, match="not applied"):
        mailusers.prepare(target, session, real_steps(),
                          mailusers.Request("alias add", "ops", ("bob",)))
    session.close()


def test_answer_edit_revert_keeps_other_entries() -> None:
    raw = {"users": [{"name": "a", "create": True}], "aliases": {"x": ["a"]}}
    e1 = AnswerEdit("users", "b", None, {"name": "b", "create": True})
    e2 = AnswerEdit("aliases", "x", ["a"], ["a", "b"])
    both = e2.apply(e1.apply(raw))
    assert e1.revert(both) == {"users": [{"name": "a", "create": True}],
                               "aliases": {"x": ["a", "b"]}}
    assert raw == {"users": [{"name": "a", "create": True}], "aliases": {"x": ["a"]}}


def test_cli_password_never_from_argv_and_newline_kept_for_the_validator(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = cli.build_parser().parse_args(["user", "add", "carol", "hunter2hunter2"])
    with pytest.raises(UsageError, match="one NAME"):
        usercli.request_from(args)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"first\nsecond\n")))
    args = cli.build_parser().parse_args(["user", "add", "carol", "--password-stdin"])
    req = usercli.request_from(args)
    assert req.password is not None and "\n" in req.password.reveal()  # refused later
    pw_file = tmp_path / "pw"
    pw_file.write_bytes(b"good password\n")
    args = cli.build_parser().parse_args(["user", "passwd", "bob", "--password-file",
                                          str(pw_file)])
    req = usercli.request_from(args)
    assert req.password is not None and req.password.reveal() == "good password"
    assert "good password" not in repr(req)
    with pytest.raises(UsageError, match="TARGET"):
        usercli.request_from(cli.build_parser().parse_args(["alias", "add", "ops"]))
    assert cli.main(["plan", "stray"]) == 2
