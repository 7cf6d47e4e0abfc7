"""Welcome: what the wizard does, the target platform, and an existing session's progress.

Dismisses with NEXT (a new run or resume: the answers form comes next) or QUIT.
"Start over" and "Roll back everything" are done here, behind a confirmation.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Optional

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Static

from .common import StyledOnMount, show_error
from .context import WizardContext, session_summary
from .messages import TaskDone, TaskFailed
from .results import Move, Result
from .widgets import (
    ConfirmModal,
    DryRunBanner,
    ErrorModal,
    KeysFooter,
    RehearsalBanner,
    WizardHeader,
)
from .widgets.styled import WizardButton

if TYPE_CHECKING:  # the first screen imports neither the answers model nor the engine
    from wizard.answers import Answers
    from wizard.engine import RollbackResult

WHAT = """\
mailwizard turns this server into a mail server: Postfix receives and sends mail, \
Dovecot lets your users read it (IMAPS/POP3S), and no password travels unencrypted.

 1. You answer a few questions: host name, users, certificate, block lists.
 2. Each step explains what it does and shows every change first: file diffs
    and the exact commands.
 3. A step changes the system only when you apply it; then it is checked,
    and it can be rolled back. Ctrl+C is always safe."""


class WelcomeScreen(StyledOnMount, Screen[Result]):
    """The first screen."""

    HELP_TITLE = "Welcome"
    HELP = (
        "The start. It says which system mailwizard is about to configure, whether this is a "
        "dry run (nothing is changed) and whether an earlier session exists. Start (or resume) "
        "goes to the answers; start over forgets an unfinished session's answers; roll back all "
        "undoes every change a previous run made, newest first.")
    TITLE = "mailwizard"
    SUB_TITLE = "Welcome"

    BINDINGS = [
        Binding("s", "start", "Start/resume"),
        Binding("o", "start_over", "Start over"),
        Binding("r", "rollback_all", "Roll back all"),
        Binding("q", "quit_app", "Quit", show=False),
    ]

    def __init__(self, ctx: WizardContext) -> None:
        super().__init__()
        self.ctx = ctx

    # ------------------------------------------------------------------ state
    @property
    def has_session(self) -> bool:
        s = self.ctx.session
        return s is not None and s.exists and bool(s.steps() or s.journal)

    @property
    def has_changes(self) -> bool:
        s = self.ctx.session
        return s is not None and bool(s.entries())

    def check_action(self, action: str, parameters: tuple) -> Optional[bool]:  # type: ignore[type-arg]
        if action == "start_over":
            return self.has_session
        if action == "rollback_all":
            return self.has_changes
        return True

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield WizardHeader()
        if self.ctx.dry_run:
            yield DryRunBanner(self.ctx.dry_run_reason)
        elif self.ctx.rehearsal:
            yield RehearsalBanner()
        with VerticalScroll(id="welcome-body"):
            yield Static("Set up a secure Postfix + Dovecot mail server, step by step",
                         id="welcome-title")
            yield Static(WHAT, id="welcome-what")
            yield Static(self._target_text(), id="welcome-target")
            yield Static(self._session_text(), id="welcome-session")
        with Horizontal(id="welcome-buttons"):
            yield WizardButton(self._start_label(), id="start", variant="primary", compact=True)
            yield WizardButton("Start over (o)", id="start-over", compact=True)
            yield WizardButton("Roll back everything (r)", id="rollback-all", variant="error",
                         compact=True)
            yield WizardButton("Quit (q)", id="quit", compact=True)
        yield KeysFooter()

    def _start_label(self) -> str:
        return "Resume (s)" if self.has_session else "Start (s)"

    def _target_text(self) -> Text:
        ctx = self.ctx
        p = ctx.platform
        text = Text()
        text.append("Target:   ", style="bold")
        text.append(f"{p.name} ({p.id})")
        if ctx.dry_run:
            seen = ctx.machine.platform_name or "unknown"
            text.append(f" - previewed only; this machine is {seen}", style="italic")
        elif ctx.rehearsal:
            text.append(" - REHEARSAL on a scratch copy; nothing on this machine changes",
                        style="italic")
        else:
            text.append(" - detected on this machine")
        if str(ctx.root) != "/" and not ctx.dry_run:
            text.append(f"\nRoot:     {ctx.root}")
        text.append("\nSession:  ", style="bold")
        if ctx.dry_run or ctx.session is None:
            text.append("none (a dry run keeps no journal)")
        else:
            text.append(str(ctx.session.dir))
        return text

    def _session_text(self) -> Text:
        s = self.ctx.session
        if s is None or not self.has_session:
            return Text("")
        text = Text()
        text.append("A previous session was found", style="bold yellow")
        text.append(f" (started {s.data.get('created', '?')}, "
                    f"updated {s.data.get('updated', '-')}):\n")
        text.append(session_summary(s))
        text.append("\nResume continues where it stopped; start over forgets the session "
                    "(changes stay); roll back undoes every change, newest first.",
                    style="dim")
        return text

    def on_mount(self) -> None:
        self.refresh_session()
        self.query_one("#start", Button).focus()

    def refresh_session(self) -> None:
        self.query_one("#welcome-session", Static).update(self._session_text())
        self.query_one("#start", Button).label = self._start_label()
        for bid, show in (("#start-over", self.has_session),
                          ("#rollback-all", self.has_changes)):
            for button in self.query(bid):
                button.display = show
        self.refresh_bindings()

    # ------------------------------------------------------------------ actions
    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"start": self.action_start, "start-over": self.action_start_over,
                   "rollback-all": self.action_rollback_all, "quit": self.action_quit_app}
        action = actions.get(event.button.id or "")
        if action is not None:
            action()

    def action_start(self) -> None:
        if getattr(self.app, "busy", None):
            self.notify("Wait for the rollback to finish.")
            return
        self.dismiss(Result(Move.NEXT))

    def action_quit_app(self) -> None:
        self.app.action_request_quit()  # type: ignore[attr-defined]

    def action_start_over(self) -> None:
        s = self.ctx.session
        if s is None:
            return
        applied = len(s.entries())
        detail = ("The session's journal is forgotten. "
                  + (f"{applied} change(s) it made stay on the system and can then no longer "
                     "be rolled back by mailwizard: roll back everything first to undo them."
                     if applied else "No change of it is still applied."))
        self.app.push_screen(ConfirmModal("Start over with a new session?", detail,
                                          yes="Start over"), callback=self._do_start_over)

    def _do_start_over(self, yes: Optional[bool]) -> None:
        if not yes or self.ctx.session is None:
            return
        self.ctx.session.reset()
        self.ctx.load()  # fresh_raw (done by the preload unless this came first)
        self.ctx.set_raw(copy.deepcopy(self.ctx.fresh_raw))
        self.ctx.steps.clear()
        self.refresh_session()
        self.notify("The session was reset.", title="Start over")

    def action_rollback_all(self) -> None:
        s = self.ctx.session
        if s is None or not s.entries():
            return
        entries = s.entries()
        lines = [f"[{e['step']}] {e['desc']}" for e in reversed(entries)][:30]
        more = len(entries) - len(lines)
        detail = "\n".join(lines) + (f"\n... and {more} more" if more > 0 else "")
        self.app.push_screen(
            ConfirmModal(f"Undo all {len(entries)} change(s), newest first?", detail,
                         yes="Roll back"), callback=self._do_rollback_all)

    def _session_answers(self) -> Answers:
        from wizard.answers import Answers, parse_answers
        from wizard.errors import AnswersError

        ctx = self.ctx
        if ctx.answers is not None:
            return ctx.answers
        if ctx.session is not None and ctx.session.answers:
            try:
                return parse_answers(ctx.session.answers)
            except AnswersError:
                pass
        # rollback reads only the journal; the engine still wants some answers
        return Answers(hostname=ctx.machine.hostname or "localhost.localdomain",
                       domain="localdomain", admin_user="root")

    def _do_rollback_all(self, yes: Optional[bool]) -> None:
        if not yes:
            return
        ctx = self.ctx
        answers = self._session_answers()

        def task() -> RollbackResult:
            engine = ctx.engine or ctx.make_engine(answers)
            return engine.rollback()

        self.app.start_task("rollback-all", task, self)  # type: ignore[attr-defined]
        self.notify("Rolling back...", title="Rollback")

    def on_task_done(self, message: TaskDone) -> None:
        if message.kind != "rollback-all":
            return
        res: RollbackResult = message.result
        self.refresh_session()
        lines = [f"Undid {res.undone} change(s)."]
        lines += [f"warning: {w}" for w in res.warnings]
        lines += [f"error: {e}" for e in res.errors]
        if res.errors:
            self.app.push_screen(ErrorModal("The rollback left errors", "\n".join(lines)))
        else:
            self.notify("\n".join(lines), title="Rolled back")

    def on_task_failed(self, message: TaskFailed) -> None:
        if message.kind == "rollback-all":
            self.refresh_session()
            show_error(self, message)

