"""The Mail queue and Mail log screens (Pilot, 80x24, keyboard only) on a scripted target:
palette entries, table, detail on Enter, actions behind a confirmation, filters, dry run,
hostile text."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest
from ui_recipes import test_recipes
from uikit import FROZEN_MACHINE, paused_until, run_async, settle, steady, until

from screens.app import MailWizardApp, make_app
from screens.maillog import LogScreen
from screens.queue import QueueScreen
from screens.widgets import ConfirmModal, TextModal
from wizard.executor import DryRunExecutor, FakeCommand, ScriptedExecutor

DATA = Path(__file__).resolve().parents[1] / "unit" / "maildata"
PQ = (DATA / "postqueue-j-3.7.jsonl").read_text() + (DATA / "postqueue-j-3.10.jsonl").read_text()
NOW = 1764673200.0  # 2026-12-02 11:00 UTC: the samples' time
SIZE = (80, 24)


@pytest.fixture
def utc() -> Iterator[None]:
    """Local time is UTC for the test (the log's times are shown in local time), and the
    machine's zone again afterwards."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def scripted(tmp_path: Path, script: Optional[Dict[str, object]] = None) -> ScriptedExecutor:
    root = tmp_path / "root"
    (root / "var/log").mkdir(parents=True)
    (root / "var/log/maillog").write_text((DATA / "maillog-el.log").read_text())
    return ScriptedExecutor(root, script if script is not None else {
        "postqueue -j": FakeCommand(0, PQ),
        "postcat": FakeCommand(0, "*** ENVELOPE RECORDS deferred/8F5061A005C ***\n"
                                  "message_size:            3255\nSubject: hello\n")})


def app_for(ex: Any, dry_run: bool = False) -> MailWizardApp:
    return make_app(answers="demo", platform="rocky9", executor=ex, dry_run=dry_run,
                    recipes=test_recipes(), machine=FROZEN_MACHINE)


async def open_queue(pilot: Any) -> QueueScreen:
    pilot.app.push_screen(QueueScreen(pilot.app.ctx, clock=lambda: NOW))
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, QueueScreen)
    return screen


def test_palette_offers_queue_and_log(tmp_path: Path) -> None:
    @run_async
    async def go() -> None:
        app = app_for(scripted(tmp_path))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert "Mail queue" in titles and "Mail log" in titles
            app.action_mail_queue()
            await settle(pilot)
            assert isinstance(app.screen, QueueScreen)
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert "Mail queue" not in titles
            # every footer key fits on the one 80-column row, left of the palette key
            from textual.widgets._footer import FooterKey

            def palette_shown() -> bool:
                return any(k.description == "palette" for k in app.screen.query(FooterKey))

            assert await until(pilot, palette_shown)
            shown = list(app.screen.query(FooterKey))
            palette = next(k for k in shown if k.description == "palette")
            assert max(k.region.right for k in shown if k is not palette) <= palette.region.x
            assert palette.region.right <= 80
            await pilot.press("escape")
            await settle(pilot)
            app.action_mail_log()
            await settle(pilot)
            assert isinstance(app.screen, LogScreen)
            assert await until(pilot, palette_shown)
            shown = list(app.screen.query(FooterKey))
            palette = next(k for k in shown if k.description == "palette")
            assert max(k.region.right for k in shown if k is not palette) <= palette.region.x
            await pilot.press("escape")
            await settle(pilot)
            assert not isinstance(app.screen, (QueueScreen, LogScreen))
    go()


def test_a_slow_queue_read_shows_the_message_keys_when_it_ends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """postqueue can take seconds on a big queue: the footer made before the read ends shows
    no Hold, Release or Delete (no message yet), and shows them once the messages are in."""
    import threading

    from textual.widgets._footer import FooterKey

    from wizard import mailqueue as mq

    gate = threading.Event()
    real = mq.read_queue

    def held(executor: Any) -> Any:
        gate.wait(20)
        return real(executor)

    monkeypatch.setattr(mq, "read_queue", held)

    def keys(app: Any) -> list:  # type: ignore[type-arg]
        return [k.description for k in app.screen.query(FooterKey)]

    @run_async
    async def go() -> None:
        app = app_for(scripted(tmp_path))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.push_screen(QueueScreen(app.ctx, clock=lambda: NOW))
            assert await paused_until(  # pauses only: the read is held
                pilot, lambda: isinstance(app.screen, QueueScreen) and "Refresh" in keys(app))
            assert "Hold" not in keys(app)
            gate.set()
            assert await until(pilot, lambda: "Hold" in keys(app)), keys(app)
            assert {"Release", "Delete"} <= set(keys(app))
    go()


def test_queue_table_detail_and_actions(tmp_path: Path) -> None:
    ex = scripted(tmp_path)

    @run_async
    async def go() -> None:
        app = app_for(ex)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_queue(pilot)
            from textual.widgets import DataTable, Static
            table = screen.query_one(DataTable)
            assert table.row_count == 3
            summary = str(screen.query_one("#queue-summary", Static).render())
            assert "3 message(s): 1 active, 1 deferred, 1 hold" in summary
            detail = str(screen.query_one("#queue-detail", Static).render())
            assert "Connection timed out" in detail
            await pilot.press("enter")
            assert await until(pilot, lambda: isinstance(app.screen, TextModal))
            assert isinstance(app.screen, TextModal) and "message_size" in app.screen.text
            assert ex.calls[-1] == ["postcat", "-e", "-h", "-q", "8F5061A005C"]
            await pilot.press("escape")
            await settle(pilot)
            # delete asks; n keeps the message
            await pilot.press("d")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            assert "Delete 8F5061A005C for good?" == app.screen.question
            await pilot.press("n")
            await settle(pilot)
            assert not any(c[0] == "postsuper" for c in ex.calls)
            await pilot.press("d")
            await settle(pilot)
            await pilot.press("y")
            assert await until(pilot, lambda: ex.calls[-1] == ["postqueue", "-j"]
                               and ["postsuper", "-d", "8F5061A005C"] in ex.calls)
            assert ["postsuper", "-d", "8F5061A005C"] in ex.calls
            assert ex.calls[-1] == ["postqueue", "-j"]  # read again after the action
            await pilot.press("down", "h")
            await settle(pilot)
            await pilot.press("y")
            await until(pilot, lambda: ex.calls[-2] == ["postsuper", "-h", "2FB9F1A0084"])
            assert ex.calls[-2] == ["postsuper", "-h", "2FB9F1A0084"]
            await pilot.press("down", "u", "y")
            await until(pilot, lambda: ex.calls[-2] == ["postsuper", "-H", "4dLqBv0Tm7z3Ck7"])
            assert ex.calls[-2] == ["postsuper", "-H", "4dLqBv0Tm7z3Ck7"]
            await pilot.press("f", "y")
            await until(pilot, lambda: ex.calls[-2] == ["postqueue", "-f"])
            assert ex.calls[-2] == ["postqueue", "-f"]
            await pilot.press("question_mark")
            await settle(pilot)
            assert "Help: Mail queue" in app.screen.plain()  # type: ignore[attr-defined]
    go()


def test_queue_errors_and_dry_run(tmp_path: Path) -> None:
    ex = scripted(tmp_path, {"postqueue -j": FakeCommand(
        69, "", "postqueue: fatal: Queue report unavailable - mail system is down")})

    @run_async
    async def go() -> None:
        app = app_for(ex)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_queue(pilot)
            from textual.widgets import Static
            text = str(screen.query_one("#queue-summary", Static).render())
            assert "Cannot read the queue" in text and "mail system is down" in text
            await pilot.press("d")
            await settle(pilot)
            assert app.screen is screen  # nothing selected: no question
        dry = DryRunExecutor(tmp_path / "root")
        app = app_for(dry, dry_run=True)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_queue(pilot)
            text = str(screen.query_one("#queue-summary", Static).render())
            assert "no mail system to look at in a dry run" in text
            await pilot.press("f")
            await settle(pilot)
            assert app.screen is screen and dry.recorded == []
    go()


def test_log_screen_filters_and_detail(tmp_path: Path, utc: None) -> None:
    ex = scripted(tmp_path)
    hostile = ("Dec  2 10:30:00 mail postfix/smtpd[9]: NOQUEUE: reject: RCPT from "
               "evil\x1b[2J[10.0.0.9]: 554 5.7.1 <x@y>: Relay access denied\x07; "
               "from=<a\x1b]0;t\x07@b> to=<x@y> proto=ESMTP helo=<h>\n")
    with open(ex.root / "var/log/maillog", "a") as f:
        f.write(hostile)

    @run_async
    async def go() -> None:
        app = app_for(ex)
        async with app.run_test(size=SIZE) as pilot:
            app.push_screen(LogScreen(app.ctx, clock=lambda: NOW))
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, LogScreen)
            from textual.widgets import DataTable, Static
            table = screen.query_one(DataTable)
            assert table.row_count == 5
            cells = [str(c) for r in range(table.row_count) for c in table.get_row_at(r)]
            assert not any("\x1b" in c or "\x07" in c for c in cells)
            assert any("\\x1b[2J" in c or "\\x1b]0;t\\x07" in c for c in cells)
            summary = str(screen.query_one("#log-summary", Static).render())
            assert "From /var/log/maillog." in summary and "1 delivered" in summary
            await pilot.press("k")  # delivered only
            await settle(pilot)
            assert table.row_count == 1 and screen.kind == "delivered"
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, TextModal))
            assert isinstance(app.screen, TextModal)
            assert "someone@example.org" in app.screen.text and "3A1B22C0D4" in app.screen.text
            await pilot.press("escape", "k", "k", "k", "k", "k")  # every kind again
            await settle(pilot)
            assert screen.kind is None and table.row_count == 5
            await pilot.press("slash")
            await pilot.press(*"bob", "enter")
            await settle(pilot)
            assert screen.address == "bob" and table.row_count == 1
            await pilot.press("slash", "ctrl+a", "ctrl+k", *"a b", "enter")
            await settle(pilot)
            assert screen.address == "bob"  # refused: not an address
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is screen
            await pilot.press("escape")
            await settle(pilot)
            assert not isinstance(app.screen, LogScreen)
    go()


# --------------------------------------------------------------------------- snapshots
def test_snapshot_queue(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Any) -> None:
        await open_queue(pilot)
        await steady(pilot)

    assert snap_compare(app_for(scripted(tmp_path)), terminal_size=SIZE,
                        run_before=run_before)


def test_snapshot_log(snap_compare: Any, tmp_path: Path, utc: None) -> None:
    app = app_for(scripted(tmp_path))

    async def run_before(pilot: Any) -> None:
        pilot.app.push_screen(LogScreen(pilot.app.ctx, clock=lambda: NOW))
        await settle(pilot)
        await steady(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
