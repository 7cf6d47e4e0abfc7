"""The App routes the screens' results (screens/results.py): which screen each Result leads
to, the step list kept across steps and the summary, and a step list that is not on top
(a modal over it) leaving the modal alone."""

from __future__ import annotations

from typing import Any

from textual.widgets import OptionList
from uikit import FROZEN_MACHINE, run_async, settle, walk_recipes

from screens.answers import AnswersScreen
from screens.app import make_app
from screens.results import Move, Result
from screens.step import StepScreen
from screens.steps import StepListScreen
from screens.summary import SummaryScreen
from screens.widgets import ConfirmModal

SIZE = (80, 24)


async def _steps(pilot: Any) -> StepListScreen:
    await pilot.press("s")
    await pilot.pause()
    await pilot.press("ctrl+n")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, StepListScreen)
    return screen


@run_async
async def test_step_results_lead_to_the_next_step_the_summary_and_back() -> None:
    app = make_app(answers="demo", recipes=walk_recipes(), machine=FROZEN_MACHINE)
    async with app.run_test(size=SIZE) as pilot:
        steps = await _steps(pilot)
        last = len(app.ctx.plans) - 1
        assert last >= 1
        steps.query_one(OptionList).highlighted = last
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, StepScreen) and app.screen.index == last
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, StepScreen) and app.screen.index == last - 1
        await pilot.press("n", "n")  # the step after the last one is the summary
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is steps  # the same list, not a new one
        assert steps.query_one(OptionList).highlighted == last
        assert app.screen_stack.count(steps) == 1
        await pilot.press("a")  # the answers, then a new list for them
        await settle(pilot)
        assert isinstance(app.screen, AnswersScreen)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, StepListScreen) and app.screen is not steps
        assert not steps.is_attached  # the old list is gone


@run_async
async def test_the_step_list_opens_nothing_under_a_modal() -> None:
    # apply all can finish (and open the failed step) while a modal is shown: the modal
    # stays, with no step screen pushed over or instead of it
    app = make_app(answers="demo", recipes=walk_recipes(), machine=FROZEN_MACHINE)
    async with app.run_test(size=SIZE) as pilot:
        steps = await _steps(pilot)
        modal = ConfirmModal("Stop and quit?", "", yes="Stop")
        app.push_screen(modal)
        await pilot.pause()
        steps._open(0, tab="log")
        await settle(pilot)
        assert app.screen is modal
        assert not any(isinstance(s, StepScreen) for s in app.screen_stack)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is steps


@run_async
async def test_routing_methods_map_each_result() -> None:
    app = make_app(answers="demo", recipes=walk_recipes(), machine=FROZEN_MACHINE)
    async with app.run_test(size=SIZE) as pilot:
        await _steps(pilot)
        last = len(app.ctx.plans) - 1
        await app.screen.dismiss(Result(Move.OPEN_STEP, step=1, tab="changes"))
        await settle(pilot)
        step = app.screen
        assert isinstance(step, StepScreen) and step.index == 1
        assert step.query_one("TabbedContent").active == "changes"  # type: ignore[attr-defined]
        step.dismiss(Result(Move.SKIP, step=last))
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen)
