"""The mail log (command palette: "Mail log"): recent deliveries, deferrals, bounces, rejects
and failed logins, one row per message and outcome, newest first; Enter shows a row in full.
Filters: the kind (k cycles), the time span (s cycles) and an address (/ types one). The
reading and parsing is :mod:`wizard.logsource` / :mod:`wizard.maillog`'s, in a thread
worker; every string shown was made terminal-safe there.
"""

from __future__ import annotations

import time
from typing import Any, Callable, List, Optional, Tuple

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from wizard.errors import MailwizardError
from wizard.logsource import LogRead, recent_events
from wizard.maillog import KINDS, LogEvent, check_address, counts, select

from .context import WizardContext
from .widgets import TextModal, WizardHeader

SPANS: Tuple[Tuple[str, float], ...] = (("1h", 3600.0), ("24h", 86400.0),
                                        ("7d", 7 * 86400.0))
NO_TARGET = ("There is no mail log to read in a dry run or a rehearsal: run mailwizard on "
             "the server itself to see its log.")


def event_text(e: LogEvent) -> str:
    """Every field of an event, one per line (the detail view)."""
    rows = [("When", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.time))),
            ("What", e.kind + (f" ({e.status})" if e.status else "")),
            ("Queue id", e.queue_id), ("From", e.sender), ("To", ", ".join(e.recipients)),
            ("Relay", e.relay), ("Client", e.client), ("User", e.user),
            ("Program", e.service), ("Reason", e.reason)]
    return "\n".join(f"{k:<9} {v}" for k, v in rows if v)


class LogScreen(Screen[None]):
    """The target's recent mail log. Dismisses with None (Esc)."""

    HELP_TITLE = "Mail log"
    HELP = ("What the mail system did lately, from the journal, Postfix's maillog_file or "
            "the syslog file: each message's outcome (delivered, deferred with the reason, "
            "bounced), each refused connection or recipient (rejected: relay attempts, "
            "block lists, unknown users) and each failed login (SMTP AUTH, IMAP, POP3). "
            "k shows one kind after another, s changes the time span, / filters by "
            "an address or login name (Enter applies, empty clears). The same from a "
            "shell: mailwizard log --help.")

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("r", "refresh", "Refresh"),
        Binding("enter", "show", "Show", show=False),
        Binding("k", "next_kind", "Kind"),
        Binding("s", "next_span", "Span"),
        Binding("slash", "address", "Address", key_display="/"),
    ]

    def __init__(self, ctx: WizardContext, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.ctx = ctx
        self.clock = clock
        self.kind: Optional[str] = None
        self.span = 1  # 24h
        self.address: Optional[str] = None
        self.all_events: List[LogEvent] = []
        self.events: List[LogEvent] = []
        self.read: Optional[LogRead] = None

    @property
    def readable(self) -> bool:
        return not (self.ctx.dry_run or self.ctx.rehearsal)

    def compose(self) -> ComposeResult:
        yield WizardHeader()
        yield Static("Reading the log...", id="log-summary")
        yield Input(placeholder="address or login name, Enter applies, Esc returns",
                    id="log-address")
        table: DataTable[Any] = DataTable(id="log-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("When", "What")
        table.add_column("From", width=18)
        table.add_column("To / user", width=18)
        table.add_column("Why")
        yield table
        yield Static("", id="log-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Mail log"
        self.query_one("#log-address", Input).display = False
        self.query_one(DataTable).focus()
        self.action_refresh()

    # ------------------------------------------------------------------ reading
    def action_refresh(self) -> None:
        if not self.readable:
            self._summary(NO_TARGET)
            return
        self._summary("Reading the log...")
        self._load(SPANS[self.span][1])

    @work(thread=True, exclusive=True, exit_on_error=False, group="log-read")
    def _load(self, seconds: float) -> None:
        try:
            events, read = recent_events(self.ctx.executor, self.ctx.platform, seconds,
                                         now=self.clock())
        except (MailwizardError, OSError) as exc:
            events, read = [], LogRead(problems=[str(exc)])
        self.app.call_from_thread(self._loaded, events, read)

    def _loaded(self, events: List[LogEvent], read: LogRead) -> None:
        self.all_events, self.read = events, read
        self._fill()

    def _fill(self) -> None:
        self.events = list(reversed(select(self.all_events, self.address,
                                           [self.kind] if self.kind else None)))
        table = self.query_one(DataTable)
        table.clear()
        for e in self.events:
            who = ", ".join(e.recipients) if e.kind != "auth-failed" else (e.user or "?")
            table.add_row(time.strftime("%m-%d %H:%M", time.localtime(e.time)), e.kind,
                          Text(e.sender or ("-" if e.kind == "auth-failed" else "<>")),
                          Text(who or "-"), Text(e.reason or e.status))
        read = self.read or LogRead()
        c = counts(self.events)
        found = ", ".join(f"{n} {k}" for k, n in c.items() if n) or "nothing"
        where = "; ".join(read.sources) or "no log found"
        text = (f"Last {SPANS[self.span][0]}, {self.kind or 'every kind'}"
                f"{', about ' + self.address if self.address else ''}: {found}. "
                f"From {where}.")
        if read.problems:
            text += " " + "; ".join(read.problems) + "."
        self._summary(text)
        self._update_detail()
        self.refresh_bindings()  # Enter: shown once there is an event to open

    def _summary(self, text: str) -> None:
        self.query_one("#log-summary", Static).update(Text(text))

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> Optional[bool]:
        if action == "show":
            return bool(self.events)
        if action in ("next_kind", "next_span", "address", "refresh"):
            return self.readable
        return True

    def action_back(self) -> None:
        field = self.query_one("#log-address", Input)
        if field.display:
            field.display = False
            self.query_one(DataTable).focus()
            return
        self.dismiss(None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_show()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._update_detail()

    def _update_detail(self) -> None:
        row = self.query_one(DataTable).cursor_row
        text = ""
        if 0 <= row < len(self.events):
            e = self.events[row]
            where = e.relay or e.client
            text = (f"{e.queue_id + ': ' if e.queue_id else ''}{e.reason or e.status}"
                    f"{' (' + where + ')' if where else ''}")
        self.query_one("#log-detail", Static).update(Text(text))

    def action_show(self) -> None:
        row = self.query_one(DataTable).cursor_row
        if 0 <= row < len(self.events):
            e = self.events[row]
            self.app.push_screen(TextModal(f"{e.kind}: {e.queue_id or e.client}",
                                           event_text(e)))

    def action_next_kind(self) -> None:
        order: List[Optional[str]] = [None, *KINDS]
        self.kind = order[(order.index(self.kind) + 1) % len(order)]
        self._fill()

    def action_next_span(self) -> None:
        self.span = (self.span + 1) % len(SPANS)
        self.action_refresh()

    def action_address(self) -> None:
        field = self.query_one("#log-address", Input)
        field.display = True
        field.value = self.address or ""
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if value:
            try:
                check_address(value)
            except MailwizardError as exc:
                self.notify(str(exc), title="Not an address", severity="error")
                return
        self.address = value or None
        event.input.display = False
        self.query_one(DataTable).focus()
        self._fill()
