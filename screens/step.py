"""One step: why (the guide, our summary, where the guide is outdated), the preview of its
changes, apply with a live log, the checks afterwards, rollback and skip.

All work goes through the engine in the app's worker (``MailWizardApp.start_task``); the
screen only shows what comes back.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import RichLog, Static, TabbedContent, TabPane

from wizard.checks import CheckResult, failed_count
from wizard.engine import RollbackResult, StepPlan, StepResult
from wizard.guides import named
from wizard.platforms import Platform
from wizard.run import apply_and_verify

from .common import StyledOnMount, show_error
from .context import WizardContext
from .messages import EngineEvent, OutputLine, TaskDone, TaskFailed
from .rehearsal import offer_rehearsal
from .render import checks_text, event_line, failure_lines, first_line, output_line
from .results import Move, Result
from .widgets import (
    ConfirmModal,
    DiffView,
    DryRunBanner,
    KeysFooter,
    RehearsalBanner,
    StepProgress,
    WizardHeader,
)

TABS = ("why", "changes", "log", "checks")


def why_text(sp: StepPlan, platform: Platform) -> Text:
    r = sp.recipe
    text = Text()
    if r.guide:
        text.append("Follows: ", style="bold")
        text.append(named(r.guide) + "\n\n")
    text.append(r.summary or "(no description)")
    text.append("\n")
    notes = r.outdated_for(platform)
    if notes:
        text.append("\nWhere the guide is outdated, and what we do instead:\n",
                    style="bold yellow")
        for note in notes:
            text.append(f" * {note}\n")
    if r.touches:
        text.append("\nTouches: ", style="bold")
        text.append(", ".join(r.touches) + "\n")
    if r.optional:
        text.append("\nThis step is optional: k skips it.\n", style="italic")
    if not sp.enabled:
        text.append("\nTurned off in the answers: nothing to do.\n", style="italic")
    if sp.error:
        text.append(f"\nCannot plan this step: {sp.error}\n", style="bold red")
    return text


class StepScreen(StyledOnMount, Screen[Result]):
    """The step at ``index`` of the plan; ``n``, ``k`` and ``p`` show the next or previous
    step in the same screen (:meth:`show_step`). Dismisses with NEXT or SKIP past the last
    step (the summary) or BACK (Escape: the step list), its own index in ``Result.step``."""

    HELP_TITLE = "One step"
    HELP = (
        "One step in four tabs: 1 why (what the step does, the guide it follows and where that "
        "guide is outdated), 2 changes (every file diff and command, before anything happens), "
        "3 log (each command and its output, as it runs) and 4 checks (what was verified "
        "after). a applies the step and checks it, v checks again, r undoes the step's changes "
        "byte for byte, k skips an optional step, n and p move to the next and previous step.")
    TITLE = "mailwizard"
    AUTO_FOCUS = None  # on_mount focuses the shown tab's content (no restyle on the way)

    BINDINGS = [
        Binding("a", "apply", "Apply"),
        Binding("v", "verify", "Verify"),
        Binding("r", "rollback", "Roll back"),
        Binding("k", "skip", "Skip"),
        Binding("n", "next", "Next"),
        Binding("p", "previous", "Prev", show=False),
        Binding("escape", "back", "Steps"),
        # one footer entry for the four tab keys; help (?) lists each
        Binding("1", "tab('why')", "Tabs", key_display="1-4",
                tooltip="1 why, 2 changes, 3 log, 4 checks"),
        Binding("2", "tab('changes')", "Changes tab", show=False),
        Binding("3", "tab('log')", "Log tab", show=False),
        Binding("4", "tab('checks')", "Checks tab", show=False),
        Binding("q", "quit_app", "Quit", show=False),
    ]

    def __init__(self, ctx: WizardContext, index: int, tab: str = "why") -> None:
        super().__init__()
        self.ctx = ctx
        self.index = index
        self.initial_tab = tab
        self._log_empty = False

    @property
    def plan(self) -> StepPlan:
        return self.ctx.plans[self.index]

    @property
    def step_id(self) -> str:
        return self.plan.id

    @property
    def busy(self) -> bool:
        return bool(getattr(self.app, "busy", None))

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        sp = self.plan
        state = self.ctx.state(sp.id)
        self.sub_title = self._sub_title()
        yield WizardHeader()
        if self.ctx.dry_run:
            yield DryRunBanner(self.ctx.dry_run_reason)
        elif self.ctx.rehearsal:
            yield RehearsalBanner()
        yield StepProgress(id="step-progress")
        yield Static(self._title_text(), id="step-title")
        with TabbedContent(initial=self.initial_tab, id="step-tabs"):
            with TabPane("1 Why", id="why"):
                with VerticalScroll(id="why-scroll", can_focus=True):
                    yield Static(why_text(sp, self.ctx.platform), id="why-text")
            with TabPane(self._changes_label(), id="changes"):
                yield DiffView(*self._diff(), id="step-diff")
            with TabPane("3 Log", id="log"):
                yield RichLog(id="step-log", wrap=True, markup=False, min_width=20)
            with TabPane("4 Checks", id="checks"):
                with VerticalScroll(id="checks-scroll", can_focus=True):
                    yield Static(checks_text(state.checks), id="checks-text")
        yield Static("", id="step-status")
        yield KeysFooter()

    def _sub_title(self) -> str:
        return f"Step {self.index + 1} of {len(self.ctx.plans)}"

    def _changes_label(self) -> str:
        return f"2 Changes ({self.plan.changed})"

    def _diff(self) -> Tuple[List[Any], str]:
        """The previews the Changes tab shows, and what it says when there are none."""
        sp = self.plan
        return ((list(sp.previews), "Nothing to change.") if sp.enabled
                else ([], "Turned off in the answers."))

    def _title_text(self) -> Text:
        r = self.plan.recipe
        text = Text()
        text.append(f"{self.index + 1}. {r.title}", style="bold")
        if r.optional:
            text.append(" (optional)", style="italic")
        # one row: the guide the step follows is named in full on the Why tab
        return text

    def on_mount(self) -> None:
        self._opened(self.initial_tab)

    def _opened(self, tab: str) -> None:
        """What showing a step does once its widgets hold it: the dry run counts it as
        previewed, the log shows its lines, the status and keys follow it."""
        state = self.ctx.state(self.step_id)
        if self.ctx.dry_run and not state.local_status and self.plan.enabled:
            state.local_status = "previewed"
        log = self.query_one("#step-log", RichLog)
        log.clear()
        for line, style in state.log:
            log.write(Text(line, style=style))
        self._log_empty = not state.log
        if self._log_empty:
            log.write(Text(self._empty_log_text(), style="dim italic"))
        self._refresh_status()
        self._focus_tab(tab)

    async def show_step(self, index: int, tab: str = "why") -> None:
        """Show step ``index`` in this screen (n, p, k): the same widgets given the other
        step's text, previews, log and checks, which costs a fraction of building a new
        screen of them (issue 13: no key over 0.3 s)."""
        self.index = index
        sp = self.plan
        self.sub_title = self._sub_title()
        self.query_one("#step-title", Static).update(self._title_text())
        self.query_one("#why-text", Static).update(why_text(sp, self.ctx.platform))
        self.query_one("#why-scroll", VerticalScroll).scroll_home(animate=False)
        tabs = self.query_one(TabbedContent)
        tabs.get_tab("changes").label = self._changes_label()
        self.query_one("#checks-text", Static).update(
            checks_text(self.ctx.state(sp.id).checks))
        self.query_one("#checks-scroll", VerticalScroll).scroll_home(animate=False)
        await self.query_one("#step-diff", DiffView).show(*self._diff())
        self._opened(tab)

    def _refresh_status(self) -> None:
        ctx = self.ctx
        self.query_one(StepProgress).set_steps(ctx.statuses(), self.index, ctx.dry_run)
        self.query_one("#step-status", Static).update(self._status_text())
        self.refresh_bindings()

    def _status_text(self) -> Text:
        ctx, sp = self.ctx, self.plan
        state = ctx.state(sp.id)
        status = ctx.status(sp)
        busy = getattr(self.app, "busy", None)
        if busy in ("apply", "apply-all", "rollback", "verify"):
            words = {"apply": "Applying", "apply-all": "Applying", "rollback": "Rolling back",
                     "verify": "Checking"}
            return Text(f"{words[busy]}... (the Log tab shows each command; Ctrl+C stops "
                        "after the current change)", style="bold")
        if status == "off":
            return Text("Turned off in the answers: nothing to do. n goes to the next step.")
        if status == "error":
            return Text(f"Cannot plan: {sp.error}", style="bold red")
        if ctx.dry_run:
            return Text(f"Dry run: {sp.changed} change(s) previewed; a rehearses them on a "
                        "scratch copy; n for the next step.", style="yellow")
        if status == "failed":
            return Text(f"FAILED: {first_line(state.error) or 'see the log'}. This run's "
                        "changes were undone. 3 shows the output, r rolls back, a retries.",
                        style="bold red")
        if status in ("applied", "verified"):
            bad = failed_count(state.checks)
            if bad:
                return Text(f"Applied, but {bad} check(s) failed (tab 4). r rolls the step "
                            "back.", style="bold red")
            checked = " and checked" if state.checks is not None else ""
            return Text(f"Applied{checked}. n goes to the next step; r rolls it back.",
                        style="green")
        if status == "interrupted":
            where = ctx.session.step_note(sp.id) if ctx.session is not None else ""
            return Text(f"Interrupted ({where or 'stopped part way'}); its finished changes "
                        "were kept. a resumes the step, r rolls it back.", style="bold yellow")
        if status == "rolled-back":
            return Text(f"Rolled back. {sp.changed} change(s) to apply again (a).")
        if status == "skipped":
            return Text("Skipped. a applies it after all.")
        if sp.changed == 0:
            return Text("Nothing to change. a records the step as done and runs its checks.")
        return Text(f"Not applied yet: {sp.changed} change(s), see tab 2. a applies them.")

    def _focus_tab(self, tab: str) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = tab
        target = {"why": "#why-scroll", "changes": "#step-diff", "log": "#step-log",
                  "checks": "#checks-scroll"}[tab]
        self.query_one(target).focus()

    def _empty_log_text(self) -> str:
        if self.ctx.dry_run:
            return ("A dry run runs nothing, so this log stays empty. On the server (without "
                    "--dry-run) it shows every command of apply, verify and rollback with its "
                    "output, as it runs.")
        return ("Nothing has run in this step yet. Apply (a), verify (v) and roll back (r) "
                "write each command and its output here, as it runs.")

    def _log(self, line: str, style: str = "") -> None:
        self.ctx.state(self.step_id).log.append((line, style))
        log = self.query_one("#step-log", RichLog)
        if self._log_empty:  # the explanation gives way to the first real line
            log.clear()
            self._log_empty = False
        log.write(Text(line, style=style))

    # ------------------------------------------------------------------ bindings state
    def check_action(self, action: str, parameters: Tuple[Any, ...]) -> Optional[bool]:
        ctx, sp = self.ctx, self.plan
        if action == "apply":  # in a dry run: offers the rehearsal
            return None if not sp.enabled or sp.error or self.busy else True
        if action == "verify":
            return None if not sp.enabled or self.busy else True
        if action == "rollback":
            has = ctx.session is not None and bool(ctx.session.entries(step=sp.id))
            return None if ctx.dry_run or not has or self.busy else True
        if action == "skip":
            if not sp.recipe.optional:
                return False
            return None if self.busy else True
        if action in ("next", "previous", "back"):
            return None if self.busy else True
        return True

    # ------------------------------------------------------------------ actions
    def action_quit_app(self) -> None:
        self.app.action_request_quit()  # type: ignore[attr-defined]

    def action_tab(self, tab: str) -> None:
        if tab in TABS:
            self._focus_tab(tab)

    def _leave(self, move: Move) -> None:
        self.dismiss(Result(move, step=self.index))

    async def _next(self, move: Move) -> None:
        """The next step in this screen; after the last one the app shows the summary."""
        if self.index + 1 < len(self.ctx.plans):
            await self.show_step(self.index + 1)
        else:
            self._leave(move)

    async def action_next(self) -> None:
        await self._next(Move.NEXT)

    async def action_previous(self) -> None:
        if self.index > 0:  # the first step has none before it: p does nothing
            await self.show_step(self.index - 1)

    def action_back(self) -> None:
        self._leave(Move.BACK)

    async def action_skip(self) -> None:
        ctx, sp = self.ctx, self.plan
        if ctx.session is not None and ctx.session.entries(step=sp.id):
            self.notify("This step has changes applied: roll it back (r) before skipping it.",
                        severity="warning")
            return
        if ctx.session is not None and not ctx.dry_run:
            ctx.session.set_step(sp.id, "skipped")
        ctx.state(sp.id).local_status = "skipped"
        self.notify(f"Skipped {sp.recipe.title}.")
        await self._next(Move.SKIP)

    def action_apply(self) -> None:
        if self.ctx.dry_run:
            offer_rehearsal(self)
            return
        sp = self.plan
        changed = [pv for pv in sp.previews if pv.changed]
        detail = "\n".join(f"+ {pv.title}" for pv in changed) or "(no change is needed)"
        if getattr(self.app, "yes", False):
            self._do_apply(True)
            return
        self.app.push_screen(
            ConfirmModal(f"Apply '{sp.recipe.title}' now? {len(changed)} change(s):", detail,
                         yes="Apply"), callback=self._do_apply)

    def _do_apply(self, yes: Optional[bool]) -> None:
        if not yes:
            return
        ctx, step_id = self.ctx, self.step_id
        engine = ctx.engine
        assert engine is not None
        state = ctx.state(step_id)
        state.error = state.output = ""

        def task() -> Tuple[StepResult, Optional[List[CheckResult]], List[StepPlan]]:
            ctx.bind_session()
            run = apply_and_verify(engine, [step_id], verify_each=True)
            return run.results[0], run.checks.get(step_id), engine.plan()

        if self.app.start_task("apply", task, self):  # type: ignore[attr-defined]
            self._log(f"--- apply {step_id}", "bold")
            self._focus_tab("log")
            self._refresh_status()

    def action_verify(self) -> None:
        if self.ctx.dry_run:
            offer_rehearsal(self)
            return
        engine = self.ctx.engine
        assert engine is not None
        step_id = self.step_id

        def task() -> List[CheckResult]:
            return engine.verify([step_id]).get(step_id, [])

        if self.app.start_task("verify", task, self):  # type: ignore[attr-defined]
            self._refresh_status()

    def action_rollback(self) -> None:
        ctx, sp = self.ctx, self.plan
        assert ctx.session is not None
        entries = ctx.session.entries(step=sp.id)
        detail = "\n".join(f"- {e['desc']}" for e in reversed(entries))
        self.app.push_screen(
            ConfirmModal(f"Roll back '{sp.recipe.title}'? {len(entries)} change(s) are undone, "
                         "newest first:", detail, yes="Roll back"),
            callback=self._do_rollback)

    def _do_rollback(self, yes: Optional[bool]) -> None:
        if not yes:
            return
        engine = self.ctx.engine
        assert engine is not None
        step_id = self.step_id

        def task() -> Tuple[RollbackResult, List[StepPlan]]:
            res = engine.rollback([step_id])
            return res, engine.plan()

        if self.app.start_task("rollback", task, self):  # type: ignore[attr-defined]
            self._log(f"--- roll back {step_id}", "bold")
            self._focus_tab("log")
            self._refresh_status()

    # ------------------------------------------------------------------ worker messages
    def on_engine_event(self, message: EngineEvent) -> None:
        line = event_line(message.event)
        if line is not None:
            self._log(*line)

    def on_output_line(self, message: OutputLine) -> None:
        self._log(*output_line(message.line))

    async def on_task_done(self, message: TaskDone) -> None:
        ctx = self.ctx
        state = ctx.state(self.step_id)
        if message.kind == "apply":
            res, checks, plans = message.result
            ctx.plans = plans
            if res.status == "applied":
                state.checks = checks
                state.error = ""
                self._log(f"Applied: {res.changed} changed, {res.unchanged} unchanged.",
                          "bold green")
                self._update_checks()
                self._focus_tab("checks")
            else:
                state.error, state.output = res.error, res.output
                for line in failure_lines(res):
                    self._log(*line)
                self._focus_tab("log")
        elif message.kind == "verify":
            state.checks = message.result
            self._update_checks()
            self._focus_tab("checks")
        elif message.kind == "rollback":
            res, plans = message.result
            ctx.plans = plans
            state.checks = None
            self._log(f"Undid {res.undone} change(s).", "bold")
            for w in res.warnings:
                self._log(f"  warning: {w}", "yellow")
            for e in res.errors:
                self._log(f"  error: {e}", "bold red")
            self._update_checks()
        await self._refresh_changes()
        self._refresh_status()

    def on_task_failed(self, message: TaskFailed) -> None:
        text = "stopped by the admin" if message.cancelled else str(message.error)
        self._log(f"{message.kind} did not finish: {text}", "bold red")
        self.ctx.state(self.step_id).error = text
        self._refresh_status()
        show_error(self, message)

    def _update_checks(self) -> None:
        self.query_one("#checks-text", Static).update(
            checks_text(self.ctx.state(self.step_id).checks))

    async def _refresh_changes(self) -> None:
        """After an apply or rollback the previews differ: rebuild the Changes tab."""
        sp = self.plan
        pane = self.query_one("#changes", TabPane)
        await self.query_one("#step-diff", DiffView).remove()
        await pane.mount(DiffView(sp.previews if sp.enabled else [], id="step-diff",
                            empty="Nothing to change."))
        tabs = self.query_one(TabbedContent)
        tabs.get_tab("changes").label = f"2 Changes ({sp.changed})"
