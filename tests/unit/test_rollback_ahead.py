"""A rollback stops the daemons its run started side by side (OpenDKIM takes up to 5 s to
exit, Dovecot about 1 s), and each is gone before the entries the strict reverse order
undoes after it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Dict, List

from fake_target import make_engine

from wizard import changes as ch
from wizard.executor import FakeCommand, ScriptedExecutor
from wizard.recipe import Recipe
from wizard.session import Session


def _direct(name: str) -> Dict[str, List[List[str]]]:
    return {"start": [[f"{name}d", "start"]], "stop": [[f"{name}d", "stop"]],
            "status": [[f"{name}d", "status"]]}


class First(Recipe):
    id = "first"
    title = "First daemon"

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        return [ch.FileWrite("/etc/mw/a.conf", "a\n"),
                ch.Service("alpha", action="start", direct=_direct("alpha"))]


class Second(Recipe):
    id = "second"
    title = "Second daemon"

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        return [ch.Service("beta", action="start", direct=_direct("beta")),
                ch.FileWrite("/etc/mw/b.conf", "b\n")]


def test_daemons_of_the_run_stop_together_each_before_its_older_entries(
        target_root: Path, tmp_path: Path) -> None:
    running = {"alpha": False, "beta": False}
    both_stopping = threading.Barrier(2, timeout=5)  # one stop at a time never gets past it
    log: List[str] = []

    def daemon(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
        name, verb = argv[0][:-1], argv[1]
        if verb == "status":
            return FakeCommand(0 if running[name] else 3)
        if verb == "stop":
            log.append(f"stop {name}")
            both_stopping.wait()
        running[name] = verb == "start"
        return FakeCommand(0)

    ex = ScriptedExecutor(target_root, {"alphad": daemon, "betad": daemon})
    with Session.open(tmp_path / "state") as session:
        eng = make_engine(target_root, session, [First(), Second()], ex)
        assert all(r.status == "applied" for r in eng.apply())
        assert running == {"alpha": True, "beta": True}
        res = eng.rollback()
        assert not res.errors and res.undone == 4
        assert running == {"alpha": False, "beta": False}
        # once each: the in-order undo of each found its daemon stopped already
        assert sorted(log) == ["stop alpha", "stop beta"]
        assert not (target_root / "etc/mw/a.conf").exists()
        assert not (target_root / "etc/mw/b.conf").exists()
        assert all(e["state"] == "undone" for e in session.journal)


def test_a_daemon_that_ran_before_is_not_stopped_ahead(target_root: Path,
                                                       tmp_path: Path) -> None:
    rec = {"manager": "direct", "was_running": True, "was_enabled": True, "name": "alpha",
           "unit": "alpha", "status_unit": "alpha", "enable": True, "direct": _direct("alpha")}
    ex = ScriptedExecutor(target_root)
    ctx = ch.ChangeContext(ex, None, None)  # type: ignore[arg-type]
    assert ch.Service.undo_ahead(ctx, rec) is False
    assert ex.calls == []
    assert ch.FileWrite.undo_ahead(ctx, {}) is False
