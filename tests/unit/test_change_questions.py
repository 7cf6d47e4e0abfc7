"""The engine asks a change what it needs to know (never ``isinstance``): here, whether
applying it installs software, after which the engine gathers the target's facts again."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from wizard import changes as ch
from wizard.answers import demo_answers_path, load_answers
from wizard.engine import Engine
from wizard.executor import Executor
from wizard.platforms import get_platform
from wizard.recipe import Facts, Recipe
from wizard.session import Session

ANSWERS = load_answers(demo_answers_path())


class InstallsByHand(ch.Command):
    """A change that is no Packages but installs software (say, a vendor's script)."""

    installs_software = True


class Step(Recipe):
    id = "step"
    title = "One step"

    def __init__(self, changes: List[ch.Change]) -> None:
        self.changes = changes

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        return list(self.changes)


def test_only_packages_install_software_among_the_core_types() -> None:
    assert {name for name, cls in ch.CHANGE_TYPES.items() if cls.installs_software} == {
        "Packages"}


@pytest.mark.parametrize("change, refreshed", [
    (InstallsByHand(["true"]), 1),
    (ch.Command(["true"]), 0),
])
def test_the_engine_refreshes_facts_when_a_change_says_it_installs(
        change: ch.Change, refreshed: int, target_root: Path, tmp_path: Path) -> None:
    with Session.open(tmp_path / "state") as s:
        e = Engine(ANSWERS, get_platform("rocky9"), Executor(target_root, host_commands=True),
                   session=s, recipes=[Step([change])], facts=Facts())
        calls: List[int] = []
        e.refresh_facts = lambda: calls.append(1)  # type: ignore[method-assign]
        [result] = e.apply()
        assert result.status == "applied" and result.changed == 1
        assert len(calls) == refreshed
