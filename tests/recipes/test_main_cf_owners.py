"""Each main.cf parameter is set by one step only.

Two steps that both write a key hide each other: the later one silently wins, a change to the
earlier one has no effect, and a rollback of one step restores a value the other still wants.
Every recipe is planned for every platform, with every optional step on and each SASL backend,
against an empty root and the distribution's stock /etc; the keys each step's main.cf edits
set or remove are collected, and a key claimed by two steps fails the test by name.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

from recipes import all_recipes
from recipes._postfix import MAIN_CF
from wizard import changes as ch
from wizard.answers import OPTIONAL_STEPS, SASL_BACKENDS, Answers, demo_answers_path, load_answers
from wizard.executor import DryRunExecutor
from wizard.platforms import STOCK_DIR, get_platform, platform_ids
from wizard.recipe import PlanContext, gather_facts

DEMO = load_answers(demo_answers_path())


def all_on(backend: str) -> Answers:
    return replace(DEMO, steps=tuple((s, True) for s in OPTIONAL_STEPS),
                   sasl=replace(DEMO.sasl, backend=backend))


def main_cf_keys(root: Path, pid: str, answers: Answers) -> Dict[str, Set[str]]:
    """step id -> the main.cf keys its planned PostfixParams set or remove."""
    platform = get_platform(pid)
    ex = DryRunExecutor(root)
    facts = gather_facts(ex, platform, dry_run=True)
    view = ch.View(ex, platform)
    out: Dict[str, Set[str]] = {}
    for recipe in all_recipes():
        if not recipe.enabled_for(answers, platform):
            continue
        changes = recipe.plan(PlanContext(answers, platform, facts, view))
        for c in changes:
            c.preview(view)  # later steps plan against the files as earlier ones leave them
            if isinstance(c, ch.PostfixParams) and c.path == MAIN_CF:
                out.setdefault(recipe.id, set()).update(c.params, c.remove_names)
    return out


def shared_keys(owners: Dict[str, Set[str]]) -> List[Tuple[str, List[str]]]:
    """(key, steps) for every key that more than one step claims."""
    by_key: Dict[str, Set[str]] = {}
    for step, keys in owners.items():
        for key in keys:
            by_key.setdefault(key, set()).add(step)
    return sorted((k, sorted(s)) for k, s in by_key.items() if len(s) > 1)


def test_shared_keys_names_the_key_and_the_steps() -> None:
    owners = {"a": {"x", "y"}, "b": {"y"}, "c": {"z"}}
    assert shared_keys(owners) == [("y", ["a", "b"])]


@pytest.mark.parametrize("stock", [False, True], ids=["empty-root", "stock-etc"])
@pytest.mark.parametrize("pid", platform_ids())
def test_each_main_cf_key_is_owned_by_one_step(pid: str, stock: bool, tmp_path: Path) -> None:
    owners: Dict[str, Set[str]] = {}
    for backend in SASL_BACKENDS:
        root = tmp_path / backend
        root.mkdir()
        if stock:
            shutil.copytree(STOCK_DIR / get_platform(pid).stock / "etc", root / "etc")
        for step, keys in main_cf_keys(root, pid, all_on(backend)).items():
            owners.setdefault(step, set()).update(keys)
    assert "postfix-basics" in owners and "restrictions" in owners  # the probe sees the steps
    shared = shared_keys(owners)
    assert not shared, "main.cf keys set by more than one step: " + "; ".join(
        f"{key} by {' and '.join(steps)}" for key, steps in shared)
