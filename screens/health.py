"""Health: the findings of ``mailwizard check`` on the server, grouped, worst first.

Reached from the command palette ("Health check"). The check runs in the app's worker
(:func:`wizard.health.collect.check_engine`); ``r`` runs it again; the table's cursor row is
explained under it (what was seen, what to do). Escape goes back."""

from __future__ import annotations

from typing import Any, Callable, List, Optional

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from wizard.health import Finding, Report

from .common import show_error
from .messages import TaskDone, TaskFailed
from .results import Move, Result
from .widgets import WizardHeader

STATE_STYLE = {"CRITICAL": "bold white on red", "WARNING": "bold black on yellow",
               "UNKNOWN": "bold white on magenta", "OK": "green"}


def summary_text(report: Optional[Report], running: bool) -> Text:
    if running:
        return Text("Checking the server (services, certificates, DNS, queue, log, disk, "
                    "drift)...", style="italic")
    if report is None:
        return Text("No check yet: r runs it.", style="italic")
    text = Text()
    text.append(f" {report.state} ", style=STATE_STYLE[report.state])
    c = report.counts()
    text.append(f"  {c['CRITICAL']} critical, {c['WARNING']} warning, {c['UNKNOWN']} "
                f"unknown, {c['OK']} ok; exit {report.exit_code}; "
                f"{report.checked_at[11:16]} UTC")
    return text


def finding_text(f: Optional[Finding]) -> Text:
    if f is None:
        return Text("")
    text = Text()
    text.append(f"{f.name}\n", style="bold")
    if f.detail:
        text.append(f.detail + "\n")
    if f.hint and f.state != "OK":
        text.append("-> " + f.hint, style="italic")
    return text


class HealthScreen(Screen[Result]):
    """The health report; dismisses with BACK."""

    HELP_TITLE = "Health check"
    HELP = ("What 'mailwizard check' sees on this server: the steps' own checks, the "
            "listening ports, the certificate each TLS port serves (warning under 21 days "
            "left, critical under 7), the DNS records and reverse DNS against what "
            "mailwizard expects, the block lists, the mail queue, failed logins and rejects "
            "of the last 24 hours, free disk space, and the files mailwizard wrote that "
            "were edited since. Worst first; the line under the table explains the "
            "highlighted row. The same report, for cron or a monitoring system: "
            "mailwizard check (exit 0 ok, 1 warning, 2 critical, 3 unknown), --json, "
            "--mail-to.")

    BINDINGS = [
        Binding("r", "refresh", "Check again"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, run: Callable[[], Report]) -> None:
        super().__init__()
        self.run_check = run
        self.report: Optional[Report] = None
        self.running = False
        self.rows: List[Finding] = []

    def compose(self) -> ComposeResult:
        yield WizardHeader()
        with Vertical(id="health-body"):
            yield Static(summary_text(None, True), id="health-summary")
            table: DataTable[Any] = DataTable(id="health-table", cursor_type="row",
                                              zebra_stripes=False)
            yield table
            yield Static("", id="health-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#health-table", DataTable)
        table.add_columns("State", "Group", "Check")
        table.focus()
        self.action_refresh()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> Optional[bool]:
        if action == "refresh":
            return not self.running
        return True

    def action_refresh(self) -> None:
        if self.running:
            return
        if self.app.start_task("health", self.run_check, self):  # type: ignore[attr-defined]
            self.running = True
            self.query_one("#health-summary", Static).update(summary_text(None, True))
            self.refresh_bindings()

    def action_back(self) -> None:
        self.dismiss(Result(Move.BACK))

    def on_task_done(self, message: TaskDone) -> None:
        if message.kind != "health":
            return
        self.running = False
        self.show(message.result)  # the app then refreshes the keys (a task ended)

    def on_task_failed(self, message: TaskFailed) -> None:
        if message.kind != "health":
            return
        self.running = False
        self.query_one("#health-summary", Static).update(summary_text(self.report, False))
        self.refresh_bindings()  # now: the error modal will be on top when the app's comes
        show_error(self, message)

    def show(self, report: Report) -> None:
        self.report = report
        self.rows = report.ordered()
        table = self.query_one("#health-table", DataTable)
        table.clear()
        for f in self.rows:
            table.add_row(Text(f" {f.state} ", style=STATE_STYLE[f.state]), f.group,
                          f.name + (f": {f.detail}" if f.detail else ""))
        self.query_one("#health-summary", Static).update(summary_text(report, False))
        self.query_one("#health-detail", Static).update(
            finding_text(self.rows[0] if self.rows else None))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        i = event.cursor_row
        self.query_one("#health-detail", Static).update(
            finding_text(self.rows[i] if 0 <= i < len(self.rows) else None))
