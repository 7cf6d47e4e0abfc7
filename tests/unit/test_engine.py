"""Engine + session: journal, resume after a crash, rollback, lock, failure handling."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import List

import pytest
from fake_target import make_engine

from wizard import changes as ch
from wizard.answers import demo_answers_path, load_answers
from wizard.engine import Engine
from wizard.errors import LockHeld
from wizard.executor import Executor
from wizard.recipe import Recipe
from wizard.session import Session

ANSWERS = load_answers(demo_answers_path())


class Basics(Recipe):
    id = "basics"
    title = "Basics"

    def plan(self, ctx):
        return [
            ch.PostfixParams({"myhostname": ctx.answers.hostname, "inet_interfaces": "all"}),
            ch.Directory("/etc/mw", 0o750),
            ch.FileWrite("/etc/mw/a.conf", "a\n", mode=0o640),
            ch.FileWrite("/etc/mw/b.conf", "b\n"),
        ]


class More(Recipe):
    id = "more"
    title = "More"

    def plan(self, ctx):
        return [ch.PostfixParams({"mydomain": ctx.answers.domain}),
                ch.Command(["sh", "-c", 'echo x >> "$MW_ROOT/count"'], creates="/count")]


class Failing(Recipe):
    id = "failing"
    title = "Fails half way"

    def plan(self, ctx):
        return [ch.PostfixParams({"relay_domains": ""}),
                ch.FileWrite("/etc/mw/c.conf", "c\n"),
                ch.Command(["sh", "-c", "echo broken >&2; exit 1"])]


@pytest.fixture
def setup(target_root: Path, tmp_path: Path):
    main = target_root / "etc/postfix/main.cf"
    main.parent.mkdir(parents=True)
    main.write_text("#myhostname = host.domain.tld\ninet_interfaces = localhost\n")
    state = tmp_path / "state"
    return target_root, state


def engine(root: Path, session: Session, recipes: List[Recipe], ex=None) -> Engine:
    return make_engine(root, session, recipes, ex, platform="rocky9")


def test_apply_reapply_unchanged_and_full_rollback(setup, tree):
    root, state = setup
    before = tree(root)
    with Session.open(state) as s:
        e = engine(root, s, [Basics(), More()])
        results = e.apply()
        assert [r.status for r in results] == ["applied", "applied"]
        assert results[0].changed == 4
        assert (root / "count").read_text() == "x\n"
        again = e.apply()
        assert [(r.changed, r.unchanged) for r in again] == [(0, 4), (0, 2)]
        assert (root / "count").read_text() == "x\n"  # the ledger: not run twice
        res = e.rollback()
        assert not res.errors
    after = tree(root)
    after.pop("count")  # the command had no undo: its output stays, as documented
    assert after == before


def test_session_file_is_private_and_has_no_secrets(setup):
    root, state = setup
    with Session.open(state) as s:
        s.bind("rocky9", str(root), ANSWERS.to_dict())
        engine(root, s, [Basics()]).apply()
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(state / "session.yaml").st_mode) == 0o600
    for f in (state / "backups").iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600


def test_single_step_rollback_keeps_other_steps(setup):
    root, state = setup
    with Session.open(state) as s:
        e = engine(root, s, [Basics(), More()])
        e.apply()
        e.rollback(["basics"])
        text = (root / "etc/postfix/main.cf").read_text()
        assert "mydomain = example.com" in text
        assert "inet_interfaces = localhost" in text and "myhostname = mail" not in text
        assert not (root / "etc/mw").exists()
        assert s.step_status("basics") == "rolled-back"
        assert s.step_status("more") == "applied"


def test_failed_step_is_undone_and_reported(setup, tree):
    root, state = setup
    with Session.open(state) as s:
        e = engine(root, s, [Basics(), Failing(), More()])
        results = e.apply()
        assert [r.status for r in results] == ["applied", "failed"]
        assert "broken" in results[1].error
        assert not (root / "etc/mw/c.conf").exists()
        assert "relay_domains" not in (root / "etc/postfix/main.cf").read_text()
        assert (root / "etc/mw/a.conf").exists()  # the earlier step stays applied
        assert s.step_status("failing") == "failed"


class CrashingExecutor(Executor):
    """Dies (like a dropped SSH session) on the n-th file write, before writing."""

    def __init__(self, root, crash_on: int) -> None:
        super().__init__(root, host_commands=True)
        self.writes = 0
        self.crash_on = crash_on

    def write_atomic(self, *a, **kw):
        self.writes += 1
        if self.writes == self.crash_on:
            raise SystemExit("simulated crash")
        return super().write_atomic(*a, **kw)


def test_resume_after_crash_between_two_changes(setup, tree):
    root, state = setup
    before = tree(root)
    s = Session.open(state)
    e = engine(root, s, [Basics()], ex=CrashingExecutor(root, crash_on=2))
    with pytest.raises(SystemExit):
        e.apply()
    s.close()  # the process died: the lock is released by the kernel
    # the journal says: change 0 done, change 2 (a.conf) started and unfinished
    with Session.open(state) as s2:
        assert [e_["state"] for e_ in s2.journal] == ["done", "done", "started"]
        assert not (root / "etc/mw/a.conf").exists()
        e2 = engine(root, s2, [Basics()])
        res = e2.apply()
        assert res[0].status == "applied"
        assert [e_["state"] for e_ in s2.journal] == ["done", "done", "done", "done"]
        assert len(s2.journal) == 4  # nothing applied twice
        assert (root / "etc/mw/a.conf").read_text() == "a\n"
        assert stat.S_IMODE((root / "etc/mw/a.conf").stat().st_mode) == 0o640
        e2.rollback()
    assert tree(root) == before


def test_crash_after_write_before_journal_done_is_finished_not_redone(setup, tree):
    root, state = setup
    before = tree(root)
    s = Session.open(state)
    e = engine(root, s, [Basics()])
    original_finish = s.finish_entry
    calls = {"n": 0}

    def dying_finish(entry, state_="done"):
        calls["n"] += 1
        if calls["n"] == 1:
            raise SystemExit("crash right after the write")
        return original_finish(entry, state_)

    s.finish_entry = dying_finish  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        e.apply()
    s.close()
    with Session.open(state) as s2:
        assert s2.journal[0]["state"] == "started"
        assert "myhostname = mail.example.com" in (root / "etc/postfix/main.cf").read_text()
        e2 = engine(root, s2, [Basics()])
        e2.apply()
        assert len(s2.journal) == 4
        e2.rollback()
    assert tree(root) == before


def test_lock_refuses_a_second_wizard(tmp_path):
    with Session.open(tmp_path / "st"):
        with pytest.raises(LockHeld, match="another mailwizard"):
            Session.open(tmp_path / "st")
    Session.open(tmp_path / "st").close()  # free again


def test_session_written_after_every_change(setup):
    root, state = setup
    seen = []
    with Session.open(state) as s:
        orig = s.save

        def spy():
            orig()
            seen.append(len((state / "session.yaml").read_text()))

        s.save = spy  # type: ignore[method-assign]
        engine(root, s, [Basics()]).apply()
    assert len(seen) >= 8  # start + done for each of 4 changes, plus the step status


def test_plan_is_pure(setup, tree):
    root, state = setup
    before = tree(root)
    e = make_engine(root, None, [Basics(), More()], platform="rocky9")
    plans = e.plan()
    assert [p.id for p in plans] == ["basics", "more"]
    # the second step's preview sees the first step's edit of main.cf
    diff = plans[1].previews[0].diff
    assert " myhostname = mail.example.com" in diff and "+mydomain = example.com" in diff
    assert tree(root) == before
