"""A whole apply killed right after a session write, then resumed or rolled back.

The real recipes run on a stock target root with scripted commands (the shared fake target,
``tests/fake_target.py``). The process "dies" right after the N-th durable session
write (as ``MAILWIZARD_FAULT_AT=N`` does in the e2e suite); then either a resumed apply
finishes and converges and its rollback restores the root byte for byte, or a rollback
straight after the kill does.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import List

import pytest
from fake_target import DEMO_ANSWERS, FakeTarget, make_engine
from treeutil import snapshot_tree as snapshot

from recipes.certificate import CertificateRecipe
from recipes.firewall import FirewallRecipe
from recipes.restrictions import RestrictionsRecipe
from recipes.sasl import SaslRecipe
from recipes.services import ServicesRecipe
from recipes.tls_dovecot import TlsDovecotRecipe
from recipes.tls_postfix import TlsPostfixRecipe
from wizard.engine import Engine
from wizard.recipe import Recipe
from wizard.session import Session

# debian12: cyrus, pam group, firewall, postgrey, virtual aliases
PID, FIREWALL = "debian12", None
ANSWERS = DEMO_ANSWERS.with_changes(
    sasl=replace(DEMO_ANSWERS.sasl, backend="cyrus", pam_group="mailusers"),
    steps=(("firewall", True), ("postgrey", True), ("virtual-aliases", True)))
POINTS = [1, 9, 20, 33, 47, 62]


def my_recipes() -> List[Recipe]:
    """Steps 7-13 (restrictions ... firewall)."""
    return [RestrictionsRecipe(), CertificateRecipe(), SaslRecipe(), TlsPostfixRecipe(),
            TlsDovecotRecipe(), ServicesRecipe(), FirewallRecipe()]


class Killed(BaseException):
    """Not an Exception: the engine cannot catch it, as it cannot catch SIGKILL."""


def engine(session: Session, fake: FakeTarget) -> Engine:
    return make_engine(fake.root, session, my_recipes(), fake.executor(), platform=PID,
                       answers=ANSWERS, facts=fake.facts(FIREWALL))


@pytest.mark.parametrize("after", ["resume", "rollback"])
@pytest.mark.parametrize("point", POINTS)
def test_killed_after_a_session_write(point: int, after: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeTarget.stock(tmp_path, PID)
    root = fake.root
    before = snapshot(root)
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
        engine(s, fake).apply()
    s.close()
    monkeypatch.setattr(Session, "save", real_save)
    with Session.open(tmp_path / "state") as s2:
        e = engine(s2, fake)
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
