"""A whole apply killed right after a session write, then resumed or rolled back.

The real recipes run on a stock target root with scripted commands (the fake target of
``tests/recipes/fake_target.py``). The process "dies" right after the N-th durable session
write (as ``MAILWIZARD_FAULT_AT=N`` does in the e2e suite); then either a resumed apply
finishes and converges and its rollback restores the root byte for byte, or a rollback
straight after the kill does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes"))

from fake_target import FakeTarget, stock_root  # noqa: E402
from recipe_plans import steps_7_13  # noqa: E402
from test_apply_rollback import CASES  # noqa: E402
from treeutil import snapshot_tree as snapshot  # noqa: E402

from wizard.engine import Engine  # noqa: E402
from wizard.executor import ScriptedExecutor  # noqa: E402
from wizard.platforms import get_platform  # noqa: E402
from wizard.recipe import Facts  # noqa: E402
from wizard.session import Session  # noqa: E402

PID, ANSWERS, FIREWALL = CASES[5]  # debian12: cyrus, pam group, firewall, postgrey, virtual
POINTS = [1, 9, 20, 33, 47, 62]


class Killed(BaseException):
    """Not an Exception: the engine cannot catch it, as it cannot catch SIGKILL."""


def engine(root: Path, session: Session, fake: FakeTarget) -> Engine:
    p = get_platform(PID)
    facts = Facts(service_manager="direct", firewall=FIREWALL, selinux_enforcing=p.is_el)
    return Engine(ANSWERS, p, ScriptedExecutor(root, script=fake.script()), session=session,
                  recipes=steps_7_13(), facts=facts)


@pytest.mark.parametrize("after", ["resume", "rollback"])
@pytest.mark.parametrize("point", POINTS)
def test_killed_after_a_session_write(point: int, after: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    root = stock_root(tmp_path, get_platform(PID))
    before = snapshot(root)
    fake = FakeTarget(root)
    real_save = Session.save
    saves = {"n": 0}

    def dying_save(self: Session) -> None:
        real_save(self)
        saves["n"] += 1
        if saves["n"] == point:
            raise Killed

    monkeypatch.setattr(Session, "save", dying_save)
    s = Session.open(tmp_path / "state")
    with pytest.raises(Killed):
        engine(root, s, fake).apply()
    s.close()
    monkeypatch.setattr(Session, "save", real_save)
    with Session.open(tmp_path / "state") as s2:
        e = engine(root, s2, fake)
        if after == "resume":
            first = e.apply()
            assert all(r.status in ("applied", "skipped") for r in first), [
                (r.step, r.error) for r in first if r.status == "failed"]
            assert [(r.step, r.changed) for r in e.apply() if r.changed] == []
        res = e.rollback()
        assert res.errors == []
    assert snapshot(root) == before
    assert fake.fw_perm == set() and fake.overrides == set()
    backups = tmp_path / "state/backups"
    leftovers = [n for n in backups.glob("*-new-*")] if backups.exists() else []
    assert leftovers == []  # no pending copy (of a key) outlives the session's work
