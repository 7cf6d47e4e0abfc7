"""Pilot tests of the rehearsal: in a dry run the keys that would change something (a, v, A,
c) say what a dry run is and offer the rehearsal; agreeing switches the app to a scratch
copy, where apply, verify and rollback run for real and the header and banner say
REHEARSAL in words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ui_recipes import MOTD, test_recipes
from uikit import FROZEN_MACHINE, log_shows, run_async, settle, text_of

from screens.answers import AnswersScreen
from screens.app import make_app
from screens.rehearsal import DRY_RUN_NOTE
from screens.step import StepScreen
from screens.steps import StepListScreen
from screens.summary import SummaryScreen
from screens.welcome import WelcomeScreen
from screens.widgets import REHEARSAL_TITLE, ConfirmModal
from wizard.executor import DryRunExecutor
from wizard.platforms import get_platform
from wizard.rehearsal import open_scratch
from wizard.target import open_rehearsal

SIZE = (80, 24)


def notifications(app: Any) -> str:
    return "\n".join(n.message for n in app._notifications)


async def to_step_list(pilot: Any) -> None:
    await pilot.press("s")
    await pilot.pause()
    assert isinstance(pilot.app.screen, AnswersScreen)
    await pilot.press("ctrl+n")
    await settle(pilot)
    assert isinstance(pilot.app.screen, StepListScreen)


def with_postfix(scratch: Path, platform: str = "debian12") -> None:
    """A scratch copy whose server has Postfix already (the test steps do not install it,
    and a fresh server has no newaliases)."""
    system = open_scratch(get_platform(platform), scratch).executor.system
    system.packages.add("postfix")
    system.save()


def dry_app(tmp_path: Path, scratch: Path) -> Any:
    root = tmp_path / "dry-root"
    root.mkdir()
    return make_app(answers="demo", platform="debian12", executor=DryRunExecutor(root),
                    recipes=test_recipes(), machine=FROZEN_MACHINE, rehearsal_dir=scratch)


@run_async
async def test_apply_all_in_a_dry_run_offers_the_rehearsal_and_switches(tmp_path: Path) -> None:
    scratch = tmp_path / "rehearsal"
    with_postfix(scratch)
    app = dry_app(tmp_path, scratch)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await to_step_list(pilot)
            steps = app.screen
            assert steps.check_action("apply_all", ()) is True  # never a silent key
            await pilot.press("A")
            await pilot.pause()
            modal = app.screen
            assert isinstance(modal, ConfirmModal)
            assert modal.question == "Rehearse: apply for real in a scratch copy?"
            assert str(scratch) in modal.detail and "Debian 12" in modal.detail
            assert DRY_RUN_NOTE in notifications(app)
            assert not (scratch / "state").exists()  # nothing before the admin agrees
            await pilot.press("y")
            await settle(pilot)

            steps = app.screen
            assert isinstance(steps, StepListScreen)
            assert app.ctx.rehearsal and not app.ctx.dry_run and app.ctx.session is not None
            assert app.title == REHEARSAL_TITLE
            assert "REHEARSAL" in text_of(steps.query_one("#rehearsal-banner"))
            assert steps.title == REHEARSAL_TITLE
            assert not steps.query("#dry-run-banner")
            assert (scratch / "root/etc/postfix/main.cf").is_file()

            await pilot.press("A")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmModal)
            assert "remaining step(s)" in app.screen.question
            await pilot.press("y")
            await settle(pilot)
            assert app.ctx.session.step_status("test-hostname") == "verified"
            assert "myhostname = mail.example.com" in (
                scratch / "root/etc/postfix/main.cf").read_text()
            assert (scratch / "root" / MOTD.lstrip("/")).is_file()
            assert (scratch / "commands.log").read_text() == "newaliases\n"
            log = await log_shows(pilot, steps, "rehearsal: would run newaliases", "#steps-log")
            assert "rehearsal: would run newaliases" in log
            assert "mailwizard rollback --rehearse --platform debian12" in \
                app.ctx.rollback_hint()
    finally:
        for s in app.opened_sessions:
            s.close()


@run_async
async def test_a_v_and_c_in_a_dry_run_offer_it_too(tmp_path: Path) -> None:
    scratch = tmp_path / "rehearsal"
    app = dry_app(tmp_path, scratch)
    async with app.run_test(size=SIZE) as pilot:
        await to_step_list(pilot)
        await pilot.press("enter")
        await pilot.pause()
        step = app.screen
        assert isinstance(step, StepScreen)
        assert "a rehearses them" in text_of(step.query_one("#step-status"))
        for key in ("a", "v"):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, ConfirmModal), key
            await pilot.press("n")  # stay in the dry run
            await pilot.pause()
            assert app.screen is step and app.ctx.dry_run
        await pilot.press("n", "n")
        await pilot.pause()
        assert isinstance(app.screen, SummaryScreen)
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SummaryScreen) and app.ctx.dry_run
    assert not scratch.exists()


@run_async
async def test_started_as_a_rehearsal_it_says_so_and_checks_honestly(tmp_path: Path) -> None:
    with_postfix(tmp_path / "rehearsal", "rocky9")
    target = open_rehearsal("rocky9", str(tmp_path / "rehearsal"))
    session = target.open_session()
    assert target.scratch is not None
    app = make_app(answers="demo", platform=target.platform, executor=target.executor,
                   session=session, dry_run=False, recipes=test_recipes(),
                   machine=FROZEN_MACHINE, root=target.root,
                   rehearsal_dir=target.scratch.directory)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            welcome = app.screen
            assert isinstance(welcome, WelcomeScreen)
            assert app.title == REHEARSAL_TITLE
            assert "REHEARSAL" in text_of(welcome.query_one("#rehearsal-banner"))
            assert "REHEARSAL on a scratch copy" in text_of(welcome.query_one("#welcome-target"))
            await to_step_list(pilot)
            await pilot.press("enter")
            await pilot.pause()
            await pilot.press("a")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmModal)
            await pilot.press("y")
            await settle(pilot)
            step = app.screen
            assert isinstance(step, StepScreen)
            assert session.step_status("test-hostname") == "verified"
            await pilot.press("3")  # the log tab (apply ended on the checks tab)
            log = await log_shows(pilot, step, "rehearsal: would run newaliases")
            assert "rehearsal: would run newaliases" in log
            await pilot.press("r")
            await pilot.pause()
            await pilot.press("y")
            await settle(pilot)
            assert session.step_status("test-hostname") == "rolled-back"
            assert "myhostname = mail.example.com" not in (
                target.root / "etc/postfix/main.cf").read_text()
    finally:
        session.close()
