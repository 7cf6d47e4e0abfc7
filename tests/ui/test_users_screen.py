"""The Users and aliases screen (command palette) at 80x24, keyboard only: the same validation
errors as the command line, named by field; the plan before anything changes; the change
applied as one step of the session."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Tuple

from allsteps import real_steps
from mailserver import PLATFORM, Server, applied_server
from uikit import FROZEN_MACHINE, run_async, settle, steady

from screens.app import MailWizardApp, make_app
from screens.users import UsersScreen
from screens.widgets import ConfirmModal
from wizard.session import Session
from wizard.target import Target

SIZE = (80, 24)


def _app(tmp_path: Path) -> Tuple[MailWizardApp, Target, Session, Server]:
    target, session, ex = applied_server(tmp_path)
    app = make_app(platform=PLATFORM, executor=ex, session=session, dry_run=False,
                   recipes=real_steps(), machine=FROZEN_MACHINE, root=target.root)
    app.ctx.state_dir = target.state_dir
    return app, target, session, ex


async def _open_users(pilot: Any) -> None:
    """Ctrl+P, "Users and aliases", Enter."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    for ch in "Users and":
        await pilot.press("space" if ch == " " else ch)
    await pilot.pause(0.3)
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(pilot.app.screen, UsersScreen)


async def _type(pilot: Any, text: str) -> None:
    for ch in text:
        await pilot.press("space" if ch == " " else ch)


@run_async
async def test_users_screen_validates_previews_and_applies(tmp_path: Path) -> None:
    app, target, session, _ex = _app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _open_users(pilot)
        screen = pilot.app.screen
        names = [str(screen.query_one("#users-table").get_row_at(i)[1])
                 for i in range(screen.query_one("#users-table").row_count)]
        assert {"alice", "bob", "info", "sales@example.net"} <= set(names)
        # action "user add" is selected; Tab to the name
        await pilot.press("tab")
        await _type(pilot, "Bad")
        await pilot.press("ctrl+n")
        await settle(pilot)
        errors = str(screen.query_one("#users-errors").render())
        assert "name:" in errors and "password:" in errors
        assert screen.query_one("#users-name").has_class("-invalid")
        assert "Bad" not in "".join(target.executor.users())
        screen.query_one("#users-name").value = ""
        await _type(pilot, "carol")
        await pilot.press("tab", "tab")  # the targets, then the password
        await _type(pilot, "correct horse")
        await pilot.press("ctrl+n")
        await settle(pilot)
        modal = pilot.app.screen
        assert isinstance(modal, ConfirmModal)
        assert "create user carol" in modal.detail and "user-add-1" in modal.question
        assert "carol" not in target.executor.users()  # nothing before the answer
        await pilot.press("y")
        await settle(pilot)
        assert pilot.app.screen is screen
        assert "carol" in target.executor.users()
        assert {"name": "carol", "create": True} in session.answers["users"]
        assert screen.query_one("#users-password").value == ""
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, UsersScreen)
    session.close()


def test_users_screen_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    app, _target, session, _ex = _app(tmp_path)

    async def run_before(pilot: Any) -> None:
        await _open_users(pilot)
        await pilot.press("tab")
        await _type(pilot, "Bad")
        await pilot.press("ctrl+n")
        await settle(pilot)
        await steady(pilot)

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    finally:
        session.close()
