"""The mail queue (command palette: "Mail queue"): a table of the queued messages, the
message behind a row on Enter, and flush / hold / release / delete, each after a
confirmation. The work is :mod:`wizard.mailqueue`'s, in a thread worker; the screen only
shows. Without a real target (dry run, rehearsal) there is no queue to read, and it says so.
"""

from __future__ import annotations

import time
from typing import Any, Callable, List, Optional

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from wizard import mailqueue as mq
from wizard.errors import CommandFailed, MailwizardError

from .context import WizardContext
from .widgets import ConfirmModal, ErrorModal, TextModal, WizardHeader

NO_TARGET = ("There is no mail system to look at in a dry run or a rehearsal: run "
             "mailwizard on the server itself to see its queue.")


class QueueScreen(Screen[None]):
    """The queue of the target's Postfix. Dismisses with None (Esc)."""

    HELP_TITLE = "Mail queue"
    HELP = ("The messages Postfix holds: waiting for delivery (active), deferred after a "
            "failed attempt (with the reason the other side or the network gave), or on "
            "hold. Enter shows the highlighted message's envelope and headers (b: with "
            "the body). f asks Postfix to try every deferred message now (F: only this "
            "one); h puts a message on hold, u releases it, d deletes it for good. Every "
            "action asks first. The same from a shell: mailwizard queue --help.")

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("r", "refresh", "Refresh"),
        Binding("enter", "show", "Show", show=False),
        Binding("b", "show(True)", "With body", show=False),
        Binding("f", "flush", "Flush"),
        Binding("F", "flush_one", "Flush this", show=False),
        Binding("h", "hold", "Hold"),
        Binding("u", "release", "Release"),
        Binding("d", "delete", "Delete"),
    ]

    def __init__(self, ctx: WizardContext, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.ctx = ctx
        self.clock = clock
        self.messages: List[mq.QueuedMessage] = []
        self.error = ""

    @property
    def readable(self) -> bool:
        return not (self.ctx.dry_run or self.ctx.rehearsal)

    def compose(self) -> ComposeResult:
        yield WizardHeader()
        yield Static("Reading the queue...", id="queue-summary")
        table: DataTable[Any] = DataTable(id="queue-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("ID", "Queue", "Age", "Size")
        table.add_column("From", width=22)
        table.add_column("To")
        yield table
        yield Static("", id="queue-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Mail queue"
        self.query_one(DataTable).focus()
        self.action_refresh()

    # ------------------------------------------------------------------ reading
    def action_refresh(self) -> None:
        if not self.readable:
            self._set_summary(NO_TARGET)
            return
        self._set_summary("Reading the queue...")
        self._read()

    @work(thread=True, exclusive=True, exit_on_error=False, group="queue-read")
    def _read(self) -> None:
        try:
            messages = mq.read_queue(self.ctx.executor)
            error = ""
        except MailwizardError as exc:
            messages, error = [], str(exc)
        self.app.call_from_thread(self._show, messages, error)

    def _show(self, messages: List[mq.QueuedMessage], error: str) -> None:
        was = self.selected()
        self.messages, self.error = messages, error
        now = self.clock()
        table = self.query_one(DataTable)
        table.clear()
        for m in messages:
            rcpts = ", ".join(r.address for r in m.recipients) or "-"
            table.add_row(m.queue_id, m.queue, mq.fmt_age(m.age(now)), mq.fmt_size(m.size),
                          Text(m.sender or "<>"), Text(rcpts), key=m.queue_id)
        ids = [m.queue_id for m in messages]
        if was is not None and was.queue_id in ids:  # the cursor stays on its message
            table.move_cursor(row=ids.index(was.queue_id))
        if error:
            self._set_summary(f"Cannot read the queue: {error}")
        elif not messages:
            self._set_summary("The mail queue is empty. r reads it again.")
        else:
            s = mq.summarise(messages, now)
            parts = ", ".join(f"{n} {q}" for q, n in sorted(s.by_queue.items()))
            self._set_summary(f"{s.total} message(s): {parts}; the oldest waits for "
                              f"{mq.fmt_age(s.oldest_age)}. Enter shows one.")
        self._update_detail()
        self.refresh_bindings()  # Enter, h, u, d: shown once there is a message to act on

    def _set_summary(self, text: str) -> None:
        self.query_one("#queue-summary", Static).update(Text(text))

    def selected(self) -> Optional[mq.QueuedMessage]:
        table = self.query_one(DataTable)
        if not self.messages or table.cursor_row < 0 or table.cursor_row >= len(self.messages):
            return None
        return self.messages[table.cursor_row]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._update_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_show()

    def _update_detail(self) -> None:
        m = self.selected()
        text = ""
        if m is not None:
            text = f"{m.queue_id}: {m.reason}" if m.reason else \
                f"{m.queue_id}: no delivery attempt has failed yet"
        self.query_one("#queue-detail", Static).update(Text(text))

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> Optional[bool]:
        if action in ("show", "flush_one", "hold", "release", "delete"):
            return self.selected() is not None and self.readable
        if action == "flush":
            return self.readable
        return True

    def action_back(self) -> None:
        self.dismiss(None)

    def action_show(self, body: bool = False) -> None:
        m = self.selected()
        if m is not None and self.readable:
            self._postcat(m.queue_id, body)

    @work(thread=True, exclusive=True, exit_on_error=False, group="queue-show")
    def _postcat(self, qid: str, body: bool) -> None:
        try:
            text = mq.show_message(self.ctx.executor, qid, body)
        except MailwizardError as exc:
            self.app.call_from_thread(self._show_error, "Cannot show the message",
                                      str(exc))
            return
        title = f"Message {qid}" + (" (with body)" if body else " (envelope and headers)")
        self.app.call_from_thread(self._show_text, title, text)

    # Modals are built on the UI thread (call_from_thread): a screen made in a worker thread
    # fails on Python 3.9, its asyncio parts want the thread's event loop and a worker has none.
    def _show_text(self, title: str, text: str) -> None:
        self.app.push_screen(TextModal(title, text))

    def _show_error(self, title: str, *lines: str) -> None:
        self.app.push_screen(ErrorModal(title, *lines))

    def action_flush(self) -> None:
        self._ask("flush", None, "Try every deferred message now?",
                  "Postfix's queue manager retries them at once (postqueue -f).")

    def action_flush_one(self) -> None:
        m = self.selected()
        if m is not None:
            self._ask("flush", m.queue_id, f"Try {m.queue_id} now?", _describe(m))

    def action_hold(self) -> None:
        m = self.selected()
        if m is not None:
            self._ask("hold", m.queue_id, f"Put {m.queue_id} on hold?",
                      _describe(m) + "\nIt stays in the queue, untried, until released.")

    def action_release(self) -> None:
        m = self.selected()
        if m is not None:
            self._ask("release", m.queue_id, f"Release {m.queue_id}?", _describe(m))

    def action_delete(self) -> None:
        m = self.selected()
        if m is not None:
            self._ask("delete", m.queue_id, f"Delete {m.queue_id} for good?",
                      _describe(m) + "\nThe message is lost: nobody is told.")

    def _ask(self, action: str, qid: Optional[str], question: str, detail: str) -> None:
        def answered(yes: Optional[bool]) -> None:
            if yes:
                self._act(action, qid)

        self.app.push_screen(ConfirmModal(question, detail), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="queue-act")
    def _act(self, action: str, qid: Optional[str]) -> None:
        try:
            said = mq.act(self.ctx.executor, action, qid)
        except CommandFailed as exc:
            self.app.call_from_thread(self._show_error, f"{action.capitalize()} failed",
                                      f"{' '.join(exc.argv)} failed.", exc.output)
            return
        except MailwizardError as exc:
            self.app.call_from_thread(self._show_error, f"{action.capitalize()} failed",
                                      str(exc))
            return
        what = f"{action} {qid}" if qid else action
        self.app.call_from_thread(self.notify, said or "Postfix took it.", title=f"Done: {what}")
        self.app.call_from_thread(self.action_refresh)


def _describe(m: mq.QueuedMessage) -> str:
    rcpts = ", ".join(r.address for r in m.recipients) or "-"
    text = f"{m.queue} message from {m.sender or '<>'} to {rcpts}, {mq.fmt_size(m.size)} bytes"
    return text + (f"\nReason: {m.reason}" if m.reason else "")
