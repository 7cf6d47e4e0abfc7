"""SVG snapshots of the main screens at 80x24 (machine, host name and recipes are frozen).

Update after an intended change: ``pytest tests/ui --snapshot-update``, then look at the SVGs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ui_recipes import test_recipes
from uikit import FROZEN_MACHINE, settle, steady

from screens.app import MailWizardApp, make_app
from wizard.executor import DryRunExecutor

SIZE = (80, 24)


async def planned(pilot: Any) -> None:
    """Wait until the step list has handled the plan worker's result (``planned``) and its
    footer shows the bindings that enables: under load the message can come a few frames
    after the worker ends, and the snapshot caught the footer with them still disabled."""
    for _ in range(400):
        if getattr(pilot.app.screen, "planned", False):
            break
        await pilot.pause(0.05)
    await pilot.pause()
    await pilot.pause()


def _app(tmp_path: Path, answers: Any = "demo") -> MailWizardApp:
    root = tmp_path / "empty-root"
    root.mkdir()
    return make_app(answers=answers, platform="rocky9", executor=DryRunExecutor(root),
                    recipes=test_recipes(), machine=FROZEN_MACHINE)


def test_welcome(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(_app(tmp_path), terminal_size=SIZE, run_before=steady)


def test_answers_prefilled(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Any) -> None:
        await pilot.press("s")
        await pilot.pause()
        await steady(pilot)

    assert snap_compare(_app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_answers_defaults_with_errors(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Any) -> None:
        await pilot.press("s", "ctrl+n")
        await pilot.pause()
        pilot.app.clear_notifications()
        await pilot.pause()
        await steady(pilot)

    assert snap_compare(_app(tmp_path, answers=None), terminal_size=SIZE,
                        run_before=run_before)


def test_step_list(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Any) -> None:
        await pilot.press("s", "ctrl+n")
        await settle(pilot)
        await planned(pilot)
        await steady(pilot)

    assert snap_compare(_app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_step_preview(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Any) -> None:
        await pilot.press("s", "ctrl+n")
        await settle(pilot)
        await planned(pilot)
        await pilot.press("enter", "2")
        await pilot.pause()
        await steady(pilot)

    assert snap_compare(_app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_summary(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Any) -> None:
        await pilot.press("s", "ctrl+n")
        await settle(pilot)
        await planned(pilot)
        await pilot.press("s")
        await pilot.pause()
        await steady(pilot)

    assert snap_compare(_app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_apply_all_done(snap_compare: Any, tmp_path: Path) -> None:
    """A real run on a temp root after A (apply all): statuses, outcome, the live log."""
    from uikit import MAIN_CF

    from wizard.executor import FakeCommand, ScriptedExecutor
    from wizard.session import Session

    root = tmp_path / "root"
    (root / "etc/postfix").mkdir(parents=True)
    (root / "etc/postfix/main.cf").write_text(MAIN_CF)
    session = Session.open(tmp_path / "state")
    app = make_app(answers="demo", platform="debian12",
                   executor=ScriptedExecutor(root, script={"newaliases": FakeCommand(0)}),
                   session=session, dry_run=False, recipes=test_recipes(),
                   machine=FROZEN_MACHINE, yes=True)

    async def run_before(pilot: Any) -> None:
        await pilot.press("s", "ctrl+n")
        await settle(pilot)
        await planned(pilot)
        await pilot.press("A")
        await settle(pilot)
        await steady(pilot)

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    finally:
        session.close()
