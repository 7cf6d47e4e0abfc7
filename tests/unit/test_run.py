"""wizard.run: the one apply-and-verify path of the CLI (checks at the end) and the TUI
(checks right after each step): order, stop at a failure, skipped steps, stop requests."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from wizard import changes as ch
from wizard.answers import demo_answers_path, load_answers
from wizard.checks import CheckResult, failed, passed
from wizard.engine import Engine, StepInterrupted
from wizard.executor import Executor
from wizard.platforms import get_platform
from wizard.recipe import Facts, Recipe, VerifyContext
from wizard.run import ChecksStarting, Progress, StepDone, apply_and_verify, verify_steps
from wizard.session import Session

ANSWERS = load_answers(demo_answers_path())


class Writes(Recipe):
    """Writes /etc/mw/<id>; its check reports which of the run's files exist when it runs."""

    def __init__(self, step_id: str, enabled: bool = True) -> None:
        self.id = step_id
        self.title = step_id.title()
        self._enabled = enabled

    def enabled(self, answers):  # type: ignore[no-untyped-def]
        return self._enabled

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        return [ch.FileWrite(f"/etc/mw/{self.id}", f"{self.id}\n")]

    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        seen = [n for n in ("one", "two", "three") if ctx.executor.exists(f"/etc/mw/{n}")]
        return [passed(f"{self.id} written", ",".join(seen))]


class Breaks(Recipe):
    id = "breaks"
    title = "Breaks"

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        return [ch.FileWrite("/etc/mw/broken", "x\n"),
                ch.Command(["sh", "-c", "echo broken >&2; exit 1"])]

    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        return [failed("never", "checks of a failed step must not run")]


def make_engine(root: Path, session: Session, recipes: List[Recipe]) -> Engine:
    return Engine(ANSWERS, get_platform("debian12"), Executor(root, host_commands=True),
                  session=session, recipes=recipes, facts=Facts())


def test_verify_each_checks_every_step_right_after_it(target_root: Path, tmp_path: Path):
    progress: List[Progress] = []
    with Session.open(tmp_path / "state") as s:
        e = make_engine(target_root, s, [Writes("one"), Writes("two"), Writes("three")])
        run = apply_and_verify(e, verify_each=True, on_progress=progress.append)
        assert [r.status for r in run.results] == ["applied"] * 3
        assert [s.step_status(n) for n in ("one", "two", "three")] == ["verified"] * 3
    assert [type(p) for p in progress] == [StepDone] * 3
    done = [p for p in progress if isinstance(p, StepDone)]
    assert [(d.index, d.total, d.result.step) for d in done] == [
        (1, 3, "one"), (2, 3, "two"), (3, 3, "three")]
    # each step's checks ran before the next step was applied
    assert [d.checks[0].detail for d in done if d.checks] == ["one", "one,two", "one,two,three"]
    assert run.checks["one"][0].detail == "one"
    assert not run.checks_stopped and not run.stopped_before_checks


def test_checks_at_the_end_see_the_finished_system(target_root: Path, tmp_path: Path):
    progress: List[Progress] = []
    with Session.open(tmp_path / "state") as s:
        e = make_engine(target_root, s, [Writes("one"), Writes("two"), Writes("three")])
        run = apply_and_verify(e, verify_each=False, on_progress=progress.append)
    assert [type(p) for p in progress] == [StepDone, StepDone, StepDone, ChecksStarting]
    assert all(isinstance(p, ChecksStarting) or p.checks is None for p in progress)
    assert {k: v[0].detail for k, v in run.checks.items()} == {
        "one": "one,two,three", "two": "one,two,three", "three": "one,two,three"}


@pytest.mark.parametrize("verify_each", [True, False])
def test_the_run_stops_at_a_failed_step_and_skips_its_checks(target_root: Path,
                                                             tmp_path: Path,
                                                             verify_each: bool):
    with Session.open(tmp_path / "state") as s:
        e = make_engine(target_root, s, [Writes("one"), Breaks(), Writes("three")])
        run = apply_and_verify(e, verify_each=verify_each)
        assert [(r.step, r.status) for r in run.results] == [("one", "applied"),
                                                             ("breaks", "failed")]
        assert run.failed is not None and run.failed.step == "breaks"
        assert s.step_status("three") == "pending"
    assert not (target_root / "etc/mw/broken").exists()  # the failed step was undone
    assert not (target_root / "etc/mw/three").exists()
    assert list(run.checks) == (["one"] if verify_each else [])


def test_a_step_turned_off_is_recorded_as_skipped(target_root: Path, tmp_path: Path):
    with Session.open(tmp_path / "state") as s:
        e = make_engine(target_root, s, [Writes("one"), Writes("two", enabled=False)])
        run = apply_and_verify(e, ["two", "one"], verify_each=True)
        assert [(r.step, r.status) for r in run.results] == [("one", "applied"),
                                                             ("two", "skipped")]
        assert s.step_status("two") == "skipped"
    assert list(run.checks) == ["one"]


def test_a_stop_between_two_steps_raises_and_keeps_the_first(target_root: Path,
                                                            tmp_path: Path):
    with Session.open(tmp_path / "state") as s:
        e = make_engine(target_root, s, [Writes("one"), Writes("two")])

        def stop_after_first(p: Progress) -> None:
            e.cancelled = True  # what Ctrl+C or the CLI's signal handler does

        with pytest.raises(StepInterrupted):
            apply_and_verify(e, verify_each=True, on_progress=stop_after_first)
        assert s.step_status("one") == "verified" and s.step_status("two") == "pending"
    assert (target_root / "etc/mw/one").exists()
    assert not (target_root / "etc/mw/two").exists()


def test_a_stop_after_the_last_step_skips_the_final_checks(target_root: Path,
                                                           tmp_path: Path):
    with Session.open(tmp_path / "state") as s:
        e = make_engine(target_root, s, [Writes("one")])

        def stop(p: Progress) -> None:
            e.cancelled = True

        run = apply_and_verify(e, verify_each=False, on_progress=stop)
    assert run.stopped_before_checks and run.checks == {}
    assert [r.status for r in run.results] == ["applied"]


class StopsInItsChecks(Writes):
    """Its first check run is interrupted by a stop request (a signal in the CLI)."""

    engine: Engine
    stopped = False

    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        if not self.stopped:
            self.stopped = self.engine.cancelled = True
        return super().verify(ctx)


def test_a_stop_during_the_checks_ends_them_between_two_steps(target_root: Path,
                                                              tmp_path: Path):
    first = StopsInItsChecks("one")
    with Session.open(tmp_path / "state") as s:
        e = make_engine(target_root, s, [first, Writes("two")])
        first.engine = e
        run = apply_and_verify(e, verify_each=False)
        assert run.checks_stopped and list(run.checks) == ["one"]
        e.cancelled = False
        again = verify_steps(e)
    assert not again.checks_stopped and list(again.checks) == ["one", "two"]
