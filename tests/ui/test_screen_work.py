"""Opening a screen does its work once (issue 13: no key over 0.3 s).

The footer shows the screen's keys from its first composition and is not composed again when
only whether a key is enabled changes (the plan done); the form's fields are styled when they
are mounted, not each time a class changes while they are being built. Each test counts the
work Textual would otherwise do, so it fails if the behaviour comes back."""

from __future__ import annotations

import gc
import threading
import traceback
from typing import Any, Dict, List

from textual.app import App
from textual.widgets import Input
from textual.widgets._footer import FooterKey
from textual.widgets._header import HeaderTitle
from ui_recipes import test_recipes
from uikit import FROZEN_MACHINE, footer_agrees, paused_until, preloaded, run_async, until

from screens.answers import AnswersScreen
from screens.app import make_app
from screens.help import HelpScreen
from screens.steps import StepListScreen
from screens.widgets import KeysFooter, StateCheckbox
from screens.widgets._header import TitleLine

SIZE = (80, 24)
#: Python's thresholds, put back after a test whose app changed them.
DEFAULT_THRESHOLD = gc.get_threshold()


class Recomposes:
    """Counts the footers composed again while it is active."""

    def __init__(self, monkeypatch: Any) -> None:
        self.footers: List[Any] = []
        real = KeysFooter.recompose

        async def recompose(footer: KeysFooter) -> None:
            self.footers.append(footer)
            await real(footer)

        monkeypatch.setattr(KeysFooter, "recompose", recompose)


async def ready(app: Any, pilot: Any) -> None:
    await preloaded(pilot)
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def demo_app() -> Any:
    return make_app(answers="demo", recipes=test_recipes(), machine=FROZEN_MACHINE)


async def open_form(app: Any, pilot: Any) -> AnswersScreen:
    """The answers form, opened from the welcome screen once the preload is done."""
    await ready(app, pilot)
    await pilot.press("s")
    await ready(app, pilot)
    form = app.screen
    assert isinstance(form, AnswersScreen)
    return form


def shown(screen: Any) -> List[Any]:
    """(key shown, description, dimmed) of each key of the screen's footer."""
    return [(k.key_display, k.description, k.has_class("-disabled"))
            for k in screen.query(FooterKey)]


@run_async
async def test_answers_footer_is_composed_once(monkeypatch: Any) -> None:
    app = demo_app()
    counted = Recomposes(monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot)
        keys = shown(form)
        assert ("^n", "Next", False) in keys and ("F1", "Help", False) in keys
        # ? types into a field, so the footer does not offer it on this screen
        assert not [k for k in keys if k[0] == "?"]
        assert counted.footers == []


@run_async
async def test_question_mark_still_opens_help_from_a_checkbox() -> None:
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot)
        form.query_one("#f-hostname", Input).focus()
        await pilot.press("end", "question_mark")
        await pilot.pause()
        assert form.query_one("#f-hostname", Input).value.endswith("?")
        form.query(StateCheckbox).first().focus()
        await pilot.press("question_mark")
        await ready(app, pilot)
        assert isinstance(app.screen, HelpScreen)


@run_async
async def test_the_step_keys_light_up_when_a_slow_plan_ends(monkeypatch: Any) -> None:
    """A plan that ends after the footer was made (a slow server) lights Enter, A, s and e:
    its end refreshes the keys, since the focus (the list) does not move then."""
    app = demo_app()
    gate = threading.Event()
    real = app.ctx.replan

    def held() -> Any:
        gate.wait(20)
        return real()

    monkeypatch.setattr(app.ctx, "replan", held)
    async with app.run_test(size=SIZE) as pilot:
        await open_form(app, pilot)
        await pilot.press("ctrl+n")
        steps = app.screen
        assert isinstance(steps, StepListScreen)
        # pauses only: the plan's worker is held
        assert await paused_until(pilot, lambda: ("⏎", "Open step", True) in shown(steps))
        assert not steps.planned
        gate.set()
        assert await until(pilot, lambda: ("⏎", "Open step", False) in shown(steps)), \
            shown(steps)
        assert steps.planned and ("s", "Summary", False) in shown(steps)
        assert footer_agrees(steps)


@run_async
async def test_plan_lights_the_step_keys_without_composing_the_footer(
        monkeypatch: Any) -> None:
    app = demo_app()
    counted = Recomposes(monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await open_form(app, pilot)
        steps_opened = []
        await pilot.press("ctrl+n")
        steps = app.screen
        assert isinstance(steps, StepListScreen)
        if not steps.planned:  # the footer made before the plan shows its keys dimmed
            steps_opened = shown(steps)
        await ready(app, pilot)
        assert steps.planned
        # the footer looks at its keys again after the refresh that follows the plan
        await until(pilot, lambda: ("⏎", "Open step", False) in shown(steps))
        keys = shown(steps)
        assert ("⏎", "Open step", False) in keys and ("s", "Summary", False) in keys
        if steps_opened:
            assert ("⏎", "Open step", True) in steps_opened
        assert counted.footers == []
        # and it works: Enter opens the highlighted step
        await pilot.press("enter")
        await ready(app, pilot)
        assert type(app.screen).__name__ == "StepScreen"


@run_async
async def test_form_fields_are_styled_once_mounted(monkeypatch: Any) -> None:
    detached: List[str] = []
    real = App.update_styles

    def update_styles(app: App[Any], node: Any, animate: bool = True) -> None:
        if not node.is_attached:
            detached.append(type(node).__name__)
        real(app, node, animate)

    monkeypatch.setattr(App, "update_styles", update_styles)
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot)
        await form.reveal()  # every section, user rows included
        await ready(app, pilot)
        assert detached == []
        # styled all the same: a field has the compact look and the form's own rules
        field = form.query_one("#f-hostname", Input)
        assert field.has_class("-textual-compact") and field.styles.border_top[0] == ""


class Layouts:
    """Counts, per screen, the layouts that moved, resized or showed a widget (a layout that
    changes nothing is cheap), and the layouts the header's title asks for when it is given a
    new title, while it is active."""

    def __init__(self, monkeypatch: Any) -> None:
        from textual._compositor import Compositor
        from textual.widget import Widget

        self.screens: List[Any] = []
        self.header_asks: List[str] = []
        real_reflow, real_refresh = Compositor.reflow, Widget.refresh

        def reflow(compositor: Any, parent: Any, size: Any) -> Any:
            hidden, shown, resized = result = real_reflow(compositor, parent, size)
            if shown or resized:
                self.screens.append(parent)
            return result

        def refresh(widget: Any, *regions: Any, **kwargs: Any) -> Any:
            if kwargs.get("layout") and isinstance(widget, HeaderTitle):
                stack = traceback.extract_stack(limit=6)[:-1]
                if any(f.name == "update" for f in stack):  # a new title, not a layout's
                    self.header_asks.append(" < ".join(f.name for f in stack))
            return real_refresh(widget, *regions, **kwargs)

        monkeypatch.setattr(Compositor, "reflow", reflow)
        monkeypatch.setattr(Widget, "refresh", refresh)

    def reset(self) -> None:
        del self.screens[:], self.header_asks[:]


@run_async
async def test_a_new_screen_is_laid_out_once(monkeypatch: Any) -> None:
    """The form's scroll area, a step's "why" pane and the step list (when its steps do not
    fit) have their scrollbar from the layout that shows them (all overflow at 80x24): a
    scrollbar appearing after it made every widget in them narrower, another layout of the
    whole screen. The header has its title when composed, and a title change asks for no
    layout."""
    from allsteps import real_steps

    app = make_app(answers="demo", recipes=real_steps() or test_recipes(),
                   machine=FROZEN_MACHINE)
    counted = Layouts(monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        counted.reset()
        form = await open_form(app, pilot)
        assert counted.screens.count(form) == 1, counted.screens
        title = form.query_one(TitleLine)
        assert str(title.content) == str(app.format_title(form.title or app.title,
                                                          form.sub_title or app.sub_title))
        counted.reset()
        await pilot.press("ctrl+n")
        await ready(app, pilot)
        steps = app.screen
        assert isinstance(steps, StepListScreen)
        # the screen shown with the plan running, then the list: its scrollbar came with it
        assert counted.screens.count(steps) == 2, counted.screens
        listed = steps.query_one("#steps-list")
        assert listed.show_vertical_scrollbar and listed.max_scroll_y > 0
        counted.reset()
        await pilot.press("enter")
        await ready(app, pilot)
        assert type(app.screen).__name__ == "StepScreen"
        assert counted.screens.count(app.screen) == 1, counted.screens
        app.screen.title = "another title"  # a step screen's title changes: repainted only
        await ready(app, pilot)
        assert "another title" in str(app.screen.query_one(TitleLine).content)
    assert counted.header_asks == []


@run_async
async def test_screens_follow_a_terminal_resize() -> None:
    """The layout a screen's own first layout makes is not done twice, but a terminal that
    changes size still lays every screen out again, the ones below included."""
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_form(app, pilot)
        await pilot.press("ctrl+n")
        await ready(app, pilot)
        steps = app.screen
        assert isinstance(steps, StepListScreen)
        for width, height in ((100, 30), (72, 20), SIZE):
            await pilot.resize_terminal(width, height)
            await ready(app, pilot)
            await pilot.pause(0.1)
            footer = steps.query_one(KeysFooter)
            assert footer.region.width == width and footer.region.y == height - 1
        await pilot.press("a")  # back to the form, below the list while it was open
        await ready(app, pilot)
        form = app.screen
        assert isinstance(form, AnswersScreen)
        assert form.query_one(KeysFooter).region.width == SIZE[0]


@run_async
async def test_the_walk_parses_no_css_after_the_first_screen(monkeypatch: Any) -> None:
    """The preload parses the CSS of the widgets the next screens mount (screens.warmcss):
    a key that opens the form, the step list, a step and its tabs, the help or the summary
    parses none (a widget class new to those screens belongs in ``later_widgets``)."""
    from allsteps import real_steps
    from textual.css.stylesheet import Stylesheet

    parses: List[str] = []
    real = Stylesheet.parse

    def parse(stylesheet: Stylesheet) -> None:
        parses.append(key)
        real(stylesheet)

    key = "start"
    app = make_app(answers="demo", recipes=real_steps() or test_recipes(),
                   machine=FROZEN_MACHINE)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        monkeypatch.setattr(Stylesheet, "parse", parse)
        for key in ("s", "ctrl+n", "down", "enter", "2", "3", "4", "1", "n", "p",
                    "question_mark", "escape", "escape", "s", "escape"):
            await pilot.press(key)
            await ready(app, pilot)
        assert isinstance(app.screen, StepListScreen)
    assert parses == []


@run_async
async def test_the_walk_has_no_full_garbage_collection() -> None:
    """After the preload, a walk through the screens (twice) runs no full collection of
    Python's garbage collector: with Python's default rule it ran three per walk, 15-100 ms
    each, each on the key that happened to trigger it."""
    from allsteps import real_steps

    full: List[int] = []

    def count(phase: str, info: Dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            full.append(1)

    app = make_app(answers="demo", recipes=real_steps() or test_recipes(),
                   machine=FROZEN_MACHINE)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        gc.callbacks.append(count)
        try:
            for _round in range(2):
                for key in ("s", "tab", "ctrl+n", "down", "enter", "2", "3", "4", "1", "n",
                            "p", "question_mark", "escape", "escape", "s", "pagedown",
                            "escape", "question_mark", "escape", "a"):
                    await pilot.press(key)
                    await ready(app, pilot)
        finally:
            gc.callbacks.remove(count)
            gc.set_threshold(*DEFAULT_THRESHOLD)
    assert full == []
