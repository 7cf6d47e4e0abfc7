"""Users and aliases (command palette: "Users and aliases"): the mail users and aliases of the
session's answers, and the same changes as ``mailwizard user|alias ...``.

The admin picks an action, fills in the name (and the targets or the password), and Ctrl+N
shows the plan (validated exactly as on the command line, errors named by field); applying it
is one step of the session (``user-add-3``) that ``mailwizard rollback --step`` undoes. The
work is :mod:`wizard.mailusers`, run in the app's worker. The screen dismisses True when it
changed something (the app then plans the steps again with the new answers).
"""

from __future__ import annotations

import io
from typing import Any, Dict, List, Optional, Tuple

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Checkbox, DataTable, Footer, Input, Select, Static

from wizard.errors import AnswersError, MailwizardError
from wizard.mailusers import VERBS, Job, Outcome, Request, prepare, run
from wizard.report import print_plan
from wizard.secret import Secret
from wizard.target import Target

from .context import WizardContext
from .messages import TaskDone, TaskFailed
from .widgets import ConfirmModal, ErrorModal, WizardHeader

#: error field (from the validators) -> the input that shows it
FIELD_INPUTS = {"name": "#users-name", "targets": "#users-targets",
                "password": "#users-password"}


def rows(answers: Optional[Dict[str, Any]]) -> List[Tuple[str, str, str]]:
    """(kind, name, details) for the users, local aliases and virtual aliases."""
    a = answers or {}
    out: List[Tuple[str, str, str]] = []
    for u in a.get("users") or []:
        name = u.get("name", "") if isinstance(u, dict) else str(u)
        made = isinstance(u, dict) and u.get("create")
        admin = " (admin)" if name == a.get("admin_user") else ""
        out.append(("user", name, ("created by mailwizard" if made else "existing account")
                    + admin))
    for kind, key in (("alias", "aliases"), ("virtual", "virtual_aliases")):
        for name, targets in (a.get(key) or {}).items():
            shown = targets if isinstance(targets, list) else [targets]
            out.append((kind, str(name), ", ".join(str(t) for t in shown)))
    return out


class UsersScreen(Screen[bool]):
    """List and change the mail users and aliases."""

    HELP_TITLE = "Users and aliases"
    HELP = ("The mail users and aliases of this server, as the session's answers hold them. "
            "Choose an action, fill in the name (a user, a local alias, an address or "
            "@domain of a virtual alias domain), the targets (separated by spaces) or the "
            "password, then Ctrl+N shows the plan; applying it is one step of the session "
            "that 'mailwizard rollback --step ID' undoes. 'user remove' keeps the home and "
            "its mail unless 'delete the mail too' is ticked.")
    BINDINGS = [
        Binding("ctrl+n", "preview", "Preview"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, ctx: WizardContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.changed = False

    def compose(self) -> ComposeResult:
        yield WizardHeader()
        yield Static(self._intro(), id="users-intro")
        table: DataTable[str] = DataTable(id="users-table", cursor_type="row", zebra_stripes=True)
        yield table
        with Horizontal(classes="users-row"):
            yield Select([(v, v) for v in VERBS], value=VERBS[0], allow_blank=False,
                         id="users-action")
            yield Input(placeholder="name or alias", id="users-name")
        with Horizontal(classes="users-row"):
            yield Input(placeholder="targets (alias)", id="users-targets")
            yield Input(placeholder="password (user add/passwd)", password=True,
                        id="users-password")
        yield Checkbox("delete the mail too (user remove)", id="users-delete-mail")
        yield Static("", id="users-errors")
        yield Footer()

    def _intro(self) -> str:
        if self.ctx.session is None:
            return ("A dry run changes nothing: users and aliases change a server (or a "
                    "rehearsal's scratch copy).")
        return "Mail users and aliases (the session's answers). Ctrl+N: preview a change."

    def on_mount(self) -> None:
        table = self.query_one("#users-table", DataTable)
        table.add_columns("kind", "name", "delivers to / notes")
        self._fill()
        self.query_one("#users-action", Select).focus()

    def _fill(self) -> None:
        table = self.query_one("#users-table", DataTable)
        table.clear()
        session = self.ctx.session
        for kind, name, details in rows(session.answers if session is not None else None):
            table.add_row(kind, name, details)

    def check_action(self, action: str, parameters: Tuple[object, ...]) -> Optional[bool]:
        if action == "preview":
            return self.ctx.session is not None and self.app.busy is None  # type: ignore[attr-defined]
        return True

    # ------------------------------------------------------------------ request
    def request(self) -> Request:
        verb = str(self.query_one("#users-action", Select).value)
        name = self.query_one("#users-name", Input).value
        targets = tuple(self.query_one("#users-targets", Input).value.split())
        pw = self.query_one("#users-password", Input).value
        delete = self.query_one("#users-delete-mail", Checkbox).value
        wants_pw = verb in ("user add", "user passwd")
        return Request(verb, name, targets if verb.startswith("alias") else (),
                       Secret(pw) if pw and wants_pw else None,
                       delete and verb == "user remove")

    def show_errors(self, errors: List[Tuple[str, str]]) -> None:
        for sel in FIELD_INPUTS.values():
            self.query_one(sel, Input).remove_class("-invalid")
        for field, _msg in errors:
            if field in FIELD_INPUTS:
                self.query_one(FIELD_INPUTS[field], Input).add_class("-invalid")
        text = Text()
        for field, msg in errors:
            text.append(f"{field}: ", style="bold red")
            text.append(msg + "\n")
        self.query_one("#users-errors", Static).update(text)

    def action_preview(self) -> None:
        ctx = self.ctx
        session = ctx.session
        if session is None:
            return
        req = self.request()
        target = Target(ctx.platform, ctx.root, ctx.executor,
                        ctx.state_dir or session.dir)
        self.show_errors([])
        self.app.start_task(  # type: ignore[attr-defined]
            "plan", lambda: prepare(target, session, ctx.recipe_list(), req), self)

    def action_back(self) -> None:
        self.dismiss(self.changed)

    # ------------------------------------------------------------------ results
    def on_task_done(self, message: TaskDone) -> None:
        if message.kind == "plan":
            job: Job = message.result
            buf = io.StringIO()
            if job.edit is not None:
                buf.write(job.edit.describe() + "\n\n")
            print_plan(job.plans, buf, True, self.ctx.platform, False)
            self.app.push_screen(
                ConfirmModal(f"Apply {job.request.verb} {job.request.name} as step "
                             f"{job.step_id}?", buf.getvalue(), yes="Apply", no="Cancel"),
                callback=lambda yes: self._confirmed(job, bool(yes)))
        elif message.kind == "apply":
            self._applied(message.result)

    def _confirmed(self, job: Job, yes: bool) -> None:
        if yes:
            self.app.start_task("apply", lambda: run(job), self)  # type: ignore[attr-defined]

    def _applied(self, outcome: Outcome) -> None:
        res = outcome.result
        if res.status != "applied":
            self.app.push_screen(ErrorModal("The change failed and was undone",
                                            res.error, res.output))
            return
        self.changed = True
        self._fill()
        self.query_one("#users-password", Input).value = ""
        bad = [c for c in outcome.checks if c.ok is False]
        self.notify(f"Recorded as step {res.step}: 'mailwizard rollback --step {res.step}' "
                    "undoes it." + (f" {len(bad)} check(s) failed." if bad else ""),
                    title="Done", severity="warning" if bad else "information", timeout=10)

    def on_task_failed(self, message: TaskFailed) -> None:
        err = message.error
        if isinstance(err, AnswersError):
            self.show_errors(list(err.errors))
        elif isinstance(err, MailwizardError):
            self.app.push_screen(ErrorModal(err.title, str(err)))
        else:
            self.app.push_screen(ErrorModal("Internal error", repr(err)))
