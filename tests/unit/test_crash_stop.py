"""Graceful stop, ``status`` of an interrupted step, and a plan that a crash cannot shift."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest
from fake_target import make_engine

from recipes.aliases import AliasesRecipe
from recipes.common import map_build
from wizard import changes as ch
from wizard import cli
from wizard.answers import demo_answers_path, load_answers
from wizard.engine import StepFinished, StepInterrupted
from wizard.executor import Executor, FakeCommand, ScriptedExecutor
from wizard.platforms import get_platform
from wizard.recipe import Recipe
from wizard.session import Session

ANSWERS = load_answers(demo_answers_path())


class Three(Recipe):
    id = "three"
    title = "Three files"

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        return [ch.FileWrite("/etc/one", "1\n"), ch.Command(["stop-now"]),
                ch.FileWrite("/etc/two", "2\n"), ch.FileWrite("/etc/three", "3\n")]


class After(Recipe):
    id = "after"
    title = "A later step"

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        return [ch.FileWrite("/etc/later", "x\n")]


def test_cancel_stops_at_the_next_boundary_and_keeps_the_steps_changes(target_root,
                                                                       tmp_path, tree,
                                                                       capsys):
    before = tree(target_root)
    state = tmp_path / "state"
    holder: dict = {}

    def stop(argv, ex):  # type: ignore[no-untyped-def]
        holder["engine"].cancelled = True  # what the SIGTERM/SIGHUP handler does
        return FakeCommand(0)

    events: list = []
    with Session.open(state) as s:
        e = make_engine(target_root, s, [Three(), After()],
                        ex=ScriptedExecutor(target_root, {"stop-now": stop}), events=events)
        holder["engine"] = e
        with pytest.raises(StepInterrupted) as info:
            e.apply()
        assert info.value.graceful and info.value.step == "three"
        assert info.value.change == "write /etc/two"
    assert (target_root / "etc/one").read_text() == "1\n"  # not undone
    assert not (target_root / "etc/two").exists() and not (target_root / "etc/later").exists()
    assert any(isinstance(ev, StepFinished) and ev.status == "interrupted" for ev in events)
    with Session.open(state, lock=False) as s2:  # what the next process reads
        assert s2.step_status("three") == "interrupted"
        assert s2.steps()["three"]["change"] == "write /etc/two"
        assert [x["state"] for x in s2.journal] == ["done", "done"]
    assert cli.main(["status", "--state-dir", str(state)]) == 0
    out = capsys.readouterr().out
    assert "three" in out and "interrupted" in out and "stopped at: write /etc/two" in out
    # a re-run resumes: the finished changes are not done again
    with Session.open(state) as s3:
        ex = ScriptedExecutor(target_root, {"stop-now": FakeCommand(0)})
        res = make_engine(target_root, s3, [Three(), After()], ex=ex).apply()
        assert [r.status for r in res] == ["applied", "applied"]
        assert ["stop-now"] not in ex.calls
        assert len(s3.journal) == 5
        assert s3.step_status("three") == "applied" and "change" not in s3.steps()["three"]
        assert make_engine(target_root, s3, [Three(), After()], ex=ex).rollback().errors == []
    assert tree(target_root) == before


def test_status_names_a_change_interrupted_in_flight(target_root, tmp_path, capsys):
    state = tmp_path / "state"
    s = Session.open(state)

    class Dies(Executor):
        def write_atomic(self, *a, **kw):  # type: ignore[no-untyped-def]
            raise SystemExit("killed")

    with pytest.raises(SystemExit):
        make_engine(target_root, s, [Three()], ex=Dies(target_root, host_commands=True)).apply()
    s.close()
    assert cli.main(["status", "--state-dir", str(state)]) == 0
    out = capsys.readouterr().out
    assert "interrupted in flight: [three] write /etc/one" in out


# --------------------------------------------------------------------------- plan stability
def test_map_snapshot_is_planned_whether_or_not_the_map_exists(target_root):
    ex = Executor(target_root, host_commands=True)
    view = ch.View(ex, get_platform("debian12"), use_stock=False)
    fresh = map_build(view, ["newaliases"], "/etc/aliases", "/etc/aliases.db",
                      source_changes=False)
    (target_root / "etc/aliases.db").write_bytes(b"db")
    built = map_build(view, ["newaliases"], "/etc/aliases", "/etc/aliases.db",
                      source_changes=False)
    assert [type(c) for c in fresh.before] == [type(c) for c in built.before] == [ch.Snapshot]
    assert fresh.before[0].needed and not built.before[0].needed
    assert built.before[0].preview(view).changed is False


def aliases_root(root: Path) -> None:
    (root / "etc/aliases").write_text("postmaster: root\n")
    (root / "etc/postfix").mkdir()
    (root / "etc/postfix/main.cf").write_text("alias_maps = hash:/etc/aliases\n")


def test_killed_in_newaliases_resumes_instead_of_refusing(target_root, tmp_path, tree):
    """The issue's "the plan changed since the interrupted run": newaliases built the .db
    and was killed before "done"; the resumed plan must still line up."""
    aliases_root(target_root)
    before = tree(target_root)
    state = tmp_path / "state"
    runs = {"n": 0}

    def newaliases(argv, ex):  # type: ignore[no-untyped-def]
        runs["n"] += 1
        ex.path("/etc/aliases.db").write_bytes(b"db%d" % runs["n"])
        if runs["n"] == 1:
            raise SystemExit("killed in newaliases")
        return FakeCommand(0)

    s = Session.open(state)
    with pytest.raises(SystemExit):
        make_engine(target_root, s, [AliasesRecipe()],
                    ex=ScriptedExecutor(target_root, {"newaliases": newaliases})).apply()
    s.close()
    with Session.open(state) as s2:
        e = make_engine(target_root, s2, [AliasesRecipe()],
                        ex=ScriptedExecutor(target_root, {"newaliases": newaliases}))
        res = e.apply()
        assert res[0].status == "applied", res[0].error
        assert runs["n"] == 2  # the interrupted rebuild ran again
        assert e.rollback().errors == []
    assert tree(target_root) == before


def test_killed_between_the_aliases_edit_and_newaliases_still_rebuilds(target_root, tmp_path):
    aliases_root(target_root)
    (target_root / "etc/aliases.db").write_bytes(b"old db")
    state = tmp_path / "state"
    s = Session.open(state)
    e = make_engine(target_root, s, [AliasesRecipe()],
                    ex=ScriptedExecutor(target_root, {"newaliases": FakeCommand(0)}))
    finish = s.finish_entry
    seen = {"n": 0}

    def die_after_second(entry, state_="done"):  # type: ignore[no-untyped-def]
        finish(entry, state_)
        seen["n"] += 1
        if seen["n"] == 2:  # snapshot and aliases edit done: killed at the boundary
            raise SystemExit("killed")

    s.finish_entry = die_after_second  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        e.apply()
    s.close()
    with Session.open(state) as s2:
        ex = ScriptedExecutor(target_root, {"newaliases": FakeCommand(0)})
        assert make_engine(target_root, s2, [AliasesRecipe()], ex=ex).apply()[0].status == \
            "applied"
        assert ["newaliases"] in ex.calls  # the .db is rebuilt for the edited source


class Shifty(Recipe):
    """Plans one change more until /etc/marker exists (a plan a crash can shift)."""

    id = "shifty"
    title = "Shifty"

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        out: List[ch.Change] = []
        if not ctx.view.exists("/etc/marker"):
            out.append(ch.Directory("/etc/mwdir", 0o755))
        return out + [ch.FileWrite("/etc/marker", "m\n"), ch.FileWrite("/etc/last", "l\n")]


def test_resume_matches_entries_by_type_and_description(target_root, tmp_path, tree):
    before = tree(target_root)
    state = tmp_path / "state"

    class DiesOnSecondWrite(Executor):
        n = 0

        def write_atomic(self, *a, **kw):  # type: ignore[no-untyped-def]
            DiesOnSecondWrite.n += 1
            if DiesOnSecondWrite.n == 2:
                raise SystemExit("killed")
            return super().write_atomic(*a, **kw)

    s = Session.open(state)
    with pytest.raises(SystemExit):
        make_engine(target_root, s, [Shifty()],
                    ex=DiesOnSecondWrite(target_root, host_commands=True)).apply()
    s.close()
    with Session.open(state) as s2:
        assert s2.journal[-1]["change"] == 2 and s2.journal[-1]["state"] == "started"
        e = make_engine(target_root, s2, [Shifty()])
        res = e.apply()
        assert res[0].status == "applied", res[0].error
        assert (target_root / "etc/last").read_text() == "l\n"
        assert e.rollback().errors == []
    assert tree(target_root) == before


def test_resume_still_refuses_a_started_change_no_longer_planned(target_root, tmp_path):
    with Session.open(tmp_path / "state") as s:
        s.start_entry("shifty", 1, "file", "write /etc/gone", s.next_key(),
                      {"path": "/etc/gone"}, "FileWrite")
        res = make_engine(target_root, s, [Shifty()]).apply()
        assert res[0].status == "failed" and "plan changed" in res[0].error


class StopsLast(Recipe):
    id = "stops-last"
    title = "Asks to stop in its last change"

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        return [ch.FileWrite("/etc/one", "1\n"), ch.Command(["stop-now"])]


def test_cancel_after_a_steps_last_change_stops_before_the_next_step(target_root, tmp_path):
    holder: dict = {}

    def stop(argv, ex):  # type: ignore[no-untyped-def]
        holder["engine"].cancelled = True
        return FakeCommand(0)

    with Session.open(tmp_path / "state") as s:
        e = make_engine(target_root, s, [StopsLast(), After()],
                        ex=ScriptedExecutor(target_root, {"stop-now": stop}))
        holder["engine"] = e
        with pytest.raises(StepInterrupted) as info:
            e.apply()
        assert info.value.step == "after" and info.value.change == ""
        assert s.step_status("stops-last") == "applied"
        assert s.step_status("after") == "pending"
    assert not (target_root / "etc/later").exists()


class KeyAndCert(Recipe):
    """Like the certificate step: the key is made while planning (unless one exists) and the
    certificate is planned from it."""

    id = "keycert"
    title = "Key and certificate"
    made = 0

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        key = ctx.view.read_text("/etc/mw.key")
        if key is None:
            KeyAndCert.made += 1
            key = f"key number {KeyAndCert.made}\n"
        return [ch.FileWrite("/etc/mw.key", key, mode=0o600),
                ch.FileWrite("/etc/mw.crt", f"certificate for {key}")]


def test_resume_plans_the_rest_against_what_the_resumed_changes_wrote(target_root, tmp_path):
    state = tmp_path / "state"

    class Dies(Executor):
        def write_atomic(self, *a, **kw):  # type: ignore[no-untyped-def]
            raise SystemExit("killed")

    s = Session.open(state)
    with pytest.raises(SystemExit):
        make_engine(target_root, s, [KeyAndCert()], ex=Dies(target_root,
                                                               host_commands=True)).apply()
    s.close()
    with Session.open(state) as s2:
        e = make_engine(target_root, s2, [KeyAndCert()])
        assert e.apply()[0].status == "applied"
    key = (target_root / "etc/mw.key").read_text()
    assert key == "key number 1\n"  # the journaled key, although the resume planned a new one
    assert (target_root / "etc/mw.crt").read_text() == f"certificate for {key}"


def test_a_signal_during_rollback_stops_between_two_undos(target_root, tmp_path, tree):
    before = tree(target_root)
    state = tmp_path / "state"
    with Session.open(state) as s:
        ex = ScriptedExecutor(target_root, {"stop-now": FakeCommand(0)})
        make_engine(target_root, s, [Three()], ex=ex).apply()
    with Session.open(state) as s:
        e = make_engine(target_root, s, [Three()])
        undo_one = e._undo_one

        def undo_then_signal(ctx, entry, force):  # type: ignore[no-untyped-def]
            out = undo_one(ctx, entry, force)
            e.cancelled = True  # what the CLI's SIGTERM handler does
            return out

        e._undo_one = undo_then_signal  # type: ignore[method-assign]
        res = e.rollback()
        assert res.stopped and res.undone == 1 and res.steps == []
        assert s.step_status("three") != "rolled-back"
    assert not (target_root / "etc/three").exists()
    assert (target_root / "etc/two").read_text() == "2\n"  # the rest waits for the next run
    with Session.open(state) as s:  # running rollback again finishes the job
        res = make_engine(target_root, s, [Three()]).rollback()
        assert not res.stopped and not res.errors and res.steps == ["three"]
    assert tree(target_root) == before
