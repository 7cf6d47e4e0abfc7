"""The Health screen at 80x24 (Pilot and snapshot): findings worst first, the highlighted
row explained, r checks again, Escape goes back; the palette offers it, and a dry run says
why there is nothing to check."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

from ui_recipes import test_recipes
from uikit import FROZEN_MACHINE, run_async, settle, steady, text_of

from screens.app import MailWizardApp, make_app
from screens.health import HealthScreen
from wizard.executor import DryRunExecutor
from wizard.health import Finding, Report

SIZE = (80, 24)


def fixed_report() -> Report:
    r = Report("mail.example.com", checked_at="2026-12-02T17:00:00+00:00")
    r.findings = [
        Finding("services", "port 25 (SMTP)", "OK", "listening"),
        Finding("certificates", "certificate on port 993", "WARNING",
                "mail.example.com, expires 2026-12-12 (9 days left)",
                "renew it (warning under 21 days, critical under 7)"),
        Finding("services", "port 993 (IMAPS)", "CRITICAL", "127.0.0.1:993: Connection "
                "refused", "is the service running and listening on this address?"),
        Finding("drift", "/etc/postfix/main.cf edited since apply", "WARNING",
                "step postfix-basics; mailwizard's settings changed: smtpd_helo_required",
                "keep it if the edit is yours"),
        Finding("dns", "DNS DMARC _dmarc.example.com TXT", "OK", "published"),
        Finding("queue", "oldest queued message", "OK", "the queue is empty"),
    ]
    return r


class Runner:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Report:
        self.calls += 1
        return fixed_report()


def _app(tmp_path: Path) -> MailWizardApp:
    root = tmp_path / "empty-root"
    root.mkdir()
    return make_app(answers="demo", platform="rocky9", executor=DryRunExecutor(root),
                    recipes=test_recipes(), machine=FROZEN_MACHINE)


async def open_health(pilot: Any, runner: Runner) -> HealthScreen:
    await settle(pilot)
    screen = HealthScreen(runner)
    pilot.app.push_screen(screen)
    await settle(pilot)
    for _ in range(100):
        if screen.report is not None:
            break
        await pilot.pause(0.05)
    await pilot.pause()
    return screen


@run_async
async def test_worst_first_detail_refresh_and_back(tmp_path: Path) -> None:
    app = _app(tmp_path)
    runner = Runner()
    async with app.run_test(size=SIZE) as pilot:
        under = app.screen
        screen = await open_health(pilot, runner)
        assert runner.calls == 1
        states: List[str] = [f.state for f in screen.rows]
        assert states == ["CRITICAL", "WARNING", "WARNING", "OK", "OK", "OK"]
        # within a state by group: certificates before drift
        assert [f.group for f in screen.rows[1:3]] == ["certificates", "drift"]
        summary = text_of(screen.query_one("#health-summary"))
        assert "CRITICAL" in summary and "1 critical, 2 warning, 0 unknown, 3 ok" in summary
        detail = screen.query_one("#health-detail")
        assert "port 993 (IMAPS)" in text_of(detail)
        assert "-> is the service running" in text_of(detail)
        await pilot.press("down")
        await pilot.pause()
        assert "9 days left" in text_of(detail)
        await pilot.press("r")
        await settle(pilot)
        assert runner.calls == 2
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is under


@run_async
async def test_palette_offers_it_and_a_dry_run_says_why_not(tmp_path: Path) -> None:
    app = _app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Health check" in titles
        app._show_health()
        await pilot.pause()
        assert not isinstance(app.screen, HealthScreen)
        assert any("running server" in str(n.message) for n in app._notifications)


def test_health_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Any) -> None:
        await open_health(pilot, Runner())
        await steady(pilot)

    assert snap_compare(_app(tmp_path), terminal_size=SIZE, run_before=run_before)
