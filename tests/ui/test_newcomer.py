"""Issue 13's points a newcomer meets, at 80x24 with the keyboard only: help (? and F1),
the palette's app commands, one quit rule on every screen, answers kept for the next visit,
checkbox state without colour, the one-row step title naming no guide number alone, the Log
tab that says why it is empty, and the footer showing the tab keys, skip and help."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

import pytest
import yaml
from textual.widgets import Input, Static
from textual.widgets._footer import FooterKey
from ui_recipes import GreylistStep, HostnameStep, test_recipes
from uikit import FROZEN_MACHINE, log_shows, run_async, settle, text_of, until

from screens.answers import AnswersScreen
from screens.app import make_app
from screens.help import HelpScreen
from screens.step import StepScreen
from screens.steps import StepListScreen
from screens.summary import SummaryScreen
from screens.welcome import WelcomeScreen
from screens.widgets import ConfirmModal, StateCheckbox
from wizard.executor import DryRunExecutor
from wizard.kept import kept_answers, kept_path

SIZE = (80, 24)


def footer_keys(app: Any) -> List[str]:
    return [f"{k.key_display} {k.description}" for k in app.screen.query(FooterKey)]


def help_text(app: Any) -> str:
    screen = app.screen
    assert isinstance(screen, HelpScreen)
    return screen.plain()


async def quit_confirmed(pilot: Any, key: str) -> None:
    """``key`` asks before quitting (edited answers not kept); the admin says yes."""
    await pilot.press(key)
    await pilot.pause()
    assert isinstance(pilot.app.screen, ConfirmModal)
    await pilot.press("y")
    await pilot.pause()


async def to_steps(pilot: Any) -> None:
    await pilot.press("s")
    await pilot.pause()
    await pilot.press("ctrl+n")
    await settle(pilot)
    assert isinstance(pilot.app.screen, StepListScreen)


@run_async
async def test_help_opens_with_question_mark_and_f1_and_closes_with_escape() -> None:
    app = make_app(answers="demo", platform="debian12", recipes=test_recipes(),
                   machine=FROZEN_MACHINE)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        text = help_text(app)
        assert "Help: Welcome" in text and "roll back all" in text.lower()
        assert "Everywhere" in text and "Ctrl+P" in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)

        await to_steps(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, StepScreen)
        await pilot.press("f1")
        await pilot.pause()
        text = help_text(app)
        # every key of the step screen, the hidden ones too, and which are not available now
        for key in ("a ", "v ", "r ", "n ", "p ", "Esc", "1-4", "q "):
            assert key in text, key
        assert "1 why, 2 changes, 3 log, 4 checks" in text
        assert "(not now)" in text  # a dry run: apply is not available
        await pilot.press("q")  # q closes the help, it does not quit
        await pilot.pause()
        assert isinstance(app.screen, StepScreen)
    assert app.return_code is None


@run_async
async def test_answers_form_takes_f1_and_types_question_marks() -> None:
    app = make_app(answers="demo", platform="debian12", recipes=test_recipes(),
                   machine=FROZEN_MACHINE)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, AnswersScreen)
        assert "F1 Help" in footer_keys(app)
        field = app.screen.query_one("#f-hostname", Input)
        field.value = ""
        await pilot.press("question_mark", "q")
        await pilot.pause()
        assert field.value == "?q" and isinstance(app.screen, AnswersScreen)
        await pilot.press("f1")
        await pilot.pause()
        assert "Help: Answers" in help_text(app) and "Ctrl+Q" in help_text(app)


@run_async
async def test_footer_shows_tabs_skip_and_help_at_80_columns() -> None:
    recipes = [HostnameStep(), GreylistStep()]  # the second one is optional
    app = make_app(answers="demo", platform="debian12", recipes=recipes,
                   machine=FROZEN_MACHINE)
    async with app.run_test(size=SIZE) as pilot:
        await to_steps(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, StepScreen) and app.screen.plan.recipe.optional
        keys = footer_keys(app)
        assert {"1-4 Tabs", "k Skip", "? Help"} <= set(keys), keys
        # every footer key fits on the one 80-column row, left of the palette key
        shown = list(app.screen.query(FooterKey))
        palette = next(k for k in shown if k.description == "palette")
        right = max(k.region.right for k in shown if k is not palette)
        assert right <= palette.region.x and palette.region.right <= 80, keys


@run_async
async def test_palette_offers_open_step_n_and_help() -> None:
    app = make_app(answers="demo", platform="debian12", recipes=test_recipes(),
                   machine=FROZEN_MACHINE)
    async with app.run_test(size=SIZE) as pilot:
        await to_steps(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Help: keys and what this screen does" in titles
        opens = [t for t in titles if t.startswith("Open step ")]
        assert len(opens) == len(app.ctx.plans) >= 2
        second = next(c for c in app.get_system_commands(app.screen)
                      if c.title.startswith("Open step 2:"))
        second.callback()
        await settle(pilot)
        assert isinstance(app.screen, StepScreen) and app.screen.index == 1
        # from a step, another step; from the summary too
        first = next(c for c in app.get_system_commands(app.screen)
                     if c.title.startswith("Open step 1:"))
        first.callback()
        await settle(pilot)
        assert isinstance(app.screen, StepScreen) and app.screen.index == 0
        await pilot.press("escape", "s")
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen)
        again = next(c for c in app.get_system_commands(app.screen)
                     if c.title.startswith("Open step 2:"))
        again.callback()
        await settle(pilot)
        assert isinstance(app.screen, StepScreen) and app.screen.index == 1


@run_async
async def test_q_quits_from_every_screen_but_the_form() -> None:
    for path in (["q"], ["s", "ctrl+n", "q"], ["s", "ctrl+n", "enter", "q"],
                 ["s", "ctrl+n", "s", "q"]):
        app = make_app(answers="demo", platform="debian12", recipes=test_recipes(),
                       machine=FROZEN_MACHINE)
        async with app.run_test(size=SIZE) as pilot:
            for key in path:
                await pilot.press(key)
                await settle(pilot)
        assert app.return_code == 0, path  # nothing edited: no question


@run_async
async def test_quitting_with_edited_answers_that_are_not_kept_asks_first() -> None:
    app = make_app(answers="demo", platform="debian12", recipes=test_recipes(),
                   machine=FROZEN_MACHINE)  # a dry run without a state directory
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one("#f-domain", Input).value = "example.org"
        await pilot.pause()
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")  # stay
        await pilot.pause()
        assert isinstance(app.screen, AnswersScreen)
        await pilot.press("ctrl+n")  # used, but still not kept: the step list asks too
        await settle(pilot)
        await quit_confirmed(pilot, "q")
    assert app.return_code == 0


@run_async
async def test_an_edit_made_before_the_form_first_refreshes_counts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys typed ahead (a paste, a slow link) can reach the form before its first refresh:
    what it opened with is taken when it mounts, so such an edit still asks before quitting.
    Here nothing the form defers to after a refresh ever runs."""
    deferred: List[Any] = []

    def defer(self: Any, callback: Any, *args: Any, **kwargs: Any) -> bool:
        deferred.append(callback)
        return True

    monkeypatch.setattr(AnswersScreen, "call_after_refresh", defer)
    app = make_app(answers="demo", platform="debian12", recipes=test_recipes(),
                   machine=FROZEN_MACHINE)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, AnswersScreen) and deferred  # the form did defer work
        assert not form.edited()
        form.query_one("#f-domain", Input).value = "example.org"
        assert form.edited()
        await quit_confirmed(pilot, "ctrl+q")
    assert app.return_code == 0


@run_async
async def test_answers_are_kept_in_the_state_dir_and_offered_again(tmp_path: Path) -> None:
    from screens.app import MailWizardApp  # noqa: F401  (the app the entry point runs)

    state = tmp_path / "state"
    state.mkdir()  # a dry run keeps answers only in a state directory that exists
    app = make_app(answers="demo", platform="debian12", recipes=test_recipes(),
                   machine=FROZEN_MACHINE, executor=DryRunExecutor(str(tmp_path / "root")))
    app.ctx.state_dir = state
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one("#f-domain", Input).value = "example.org"
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("q")  # kept: no question
        await pilot.pause()
    assert app.return_code == 0
    kept = kept_answers(state)
    assert kept is not None and kept["domain"] == "example.org"
    text = kept_path(state).read_text()
    assert "password:" not in text and "secret" not in text  # secrets apart
    assert kept_path(state).stat().st_mode & 0o777 == 0o600
    assert yaml.safe_load(text) == kept

    # the next visit starts from them (run_app passes them as the form's content)
    again = make_app(platform="debian12", recipes=test_recipes(), machine=FROZEN_MACHINE,
                     raw_answers=kept)
    again.ctx.kept_loaded = True
    async with again.run_test(size=SIZE) as pilot:
        # the preload reads the answers, then greets
        assert await until(pilot, lambda: any("last visit" in str(n.message)
                                              for n in again._notifications))
        await pilot.press("s")
        await pilot.pause()
        assert again.screen.query_one("#f-domain", Input).value == "example.org"


@run_async
async def test_checkbox_state_reads_without_colour() -> None:
    from textual.app import App, ComposeResult

    class Boxes(App[None]):
        def compose(self) -> ComposeResult:
            yield StateCheckbox("on", True, id="on")
            yield StateCheckbox("off", False, id="off")

    app = Boxes()
    async with app.run_test(size=(40, 6)) as pilot:
        on, off = app.query_one("#on", StateCheckbox), app.query_one("#off", StateCheckbox)
        assert on._button.plain == "▐X▌" and off._button.plain == "▐ ▌"
        off.focus()
        await pilot.press("space")  # toggled from the keyboard: the glyph follows
        await pilot.pause()
        assert off.value and off._button.plain == "▐X▌"


@run_async
async def test_step_title_is_one_row_and_why_names_the_guide() -> None:
    app = make_app(answers="demo", platform="debian12", recipes=test_recipes(),
                   machine=FROZEN_MACHINE)
    async with app.run_test(size=SIZE) as pilot:
        await to_steps(pilot)
        await pilot.press("enter")
        await settle(pilot)
        title = app.screen.query_one("#step-title", Static)
        assert title.region.height == 1 and "Guide" not in text_of(title)
        await pilot.press("3")
        await pilot.pause()
        assert "A dry run runs nothing" in await log_shows(pilot, app.screen,
                                                           "A dry run runs nothing")


@run_async
async def test_summary_has_next_steps_and_dns_records() -> None:
    app = make_app(answers="demo", platform="debian12", recipes=test_recipes(),
                   machine=FROZEN_MACHINE)
    async with app.run_test(size=SIZE) as pilot:
        await to_steps(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, SummaryScreen)
        nxt = text_of(app.screen.query_one("#summary-next"))
        assert "This was a dry run" in nxt and "mailwizard dns --check" in nxt
        assert "swaks --to postmaster@example.com --server mail.example.com:587" in nxt
        assert "journalctl -u postfix" in nxt  # Debian: no /var/log/maillog
        assert "self-signed" in nxt  # the demo's certificate mode
        dns = text_of(app.screen.query_one("#summary-dns"))
        assert "MX" in dns and "_dmarc" in dns


def test_next_steps_follow_the_state_of_a_real_run(tmp_path: Path) -> None:
    from screens.next_steps import next_step_lines
    from wizard.session import Session

    app = make_app(answers="demo", platform="rocky9", recipes=test_recipes(),
                   machine=FROZEN_MACHINE, dry_run=False,
                   session=Session.open(tmp_path / "state"),
                   executor=DryRunExecutor(str(tmp_path / "root")))
    ctx = app.ctx
    ctx.answers = load_demo()
    ctx.make_engine(ctx.answers)
    ctx.replan()
    lines = "\n".join(next_step_lines(ctx))
    assert "dry run" not in lines
    assert "2 step(s) are not applied yet" in lines
    assert "/var/log/maillog" in lines and "mailwizard rollback" in lines
    ctx.session.close()  # type: ignore[union-attr]


def load_demo():  # type: ignore[no-untyped-def]
    from wizard.answers import demo_answers_path, load_answers

    return load_answers(demo_answers_path())


@run_async
async def test_palette_keys_opens_our_help_which_escape_closes() -> None:
    """Textual's own "Keys" panel (which Esc does not close) is not offered: typing "keys" in
    the palette finds the help screen, and Esc closes it; the palette's Quit asks first."""
    from textual.command import CommandPalette

    app = make_app(answers="demo", platform="debian12", recipes=test_recipes(),
                   machine=FROZEN_MACHINE)
    async with app.run_test(size=SIZE) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Keys" not in titles and titles.count("Quit") == 1, titles
        await pilot.press("ctrl+p")
        await settle(pilot)
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"keys")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen), app.screen
        assert not app.screen.query("HelpPanel") and not app.screen_stack[0].query("HelpPanel")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, WelcomeScreen)
        # the palette's Quit follows the one quit rule: with edited answers it asks
        await pilot.press("s")
        await settle(pilot)
        app.screen.query_one("#f-hostname", Input).value = "other.example.org"
        await settle(pilot)
        quit_cmd = next(c for c in app.get_system_commands(app.screen) if c.title == "Quit")
        quit_cmd.callback()
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, AnswersScreen) and app.return_code is None


async def _prompt_default(pilot: Any, key: str) -> str:
    """The path a save or export prompt offers (the prompt is closed again)."""
    from screens.widgets import PromptModal

    await pilot.press(key)
    await pilot.pause()
    modal = pilot.app.screen
    assert isinstance(modal, PromptModal)
    value = modal.query_one("#prompt-input", Input).value
    await pilot.press("escape")
    await pilot.pause()
    return value


@pytest.mark.parametrize("with_state_dir", [True, False])
@run_async
async def test_save_and_export_offer_the_state_dir_not_the_current_directory(
        with_state_dir: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cwd, home, state = tmp_path / "cwd", tmp_path / "home", tmp_path / "state"
    for d in (cwd, home, state):
        d.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("HOME", str(home))
    app = make_app(answers="demo", platform="debian12", recipes=test_recipes(),
                   machine=FROZEN_MACHINE)
    if with_state_dir:
        app.ctx.state_dir = state
    where = state if with_state_dir else home
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        assert await _prompt_default(pilot, "ctrl+s") == str(where / "mailwizard-answers.yaml")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, StepListScreen)
        assert await _prompt_default(pilot, "e") == str(
            where / "mailwizard-runbook-debian12.md")
    assert not any(cwd.iterdir())
