"""The step list: every recipe with its status and number of changes; the wizard's hub.

Plans the steps in a worker when shown. Dismisses with OPEN_STEP (``Result.step``,
``Result.tab``), SUMMARY or ANSWERS; the App keeps this one screen (installed) and shows it
again when the admin comes back from a step or the summary, until the answers change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import LoadingIndicator, OptionList, RichLog, Static
from textual.widgets.option_list import Option

from wizard.checks import failed_count, summarize
from wizard.engine import StepPlan, StepResult, StepStarted
from wizard.run import Progress, StepDone, apply_and_verify

from .common import StyledOnMount, export_runbook, runbook_written, show_error
from .context import WizardContext
from .messages import EngineEvent, OutputLine, StepApplied, TaskDone, TaskFailed
from .rehearsal import offer_rehearsal
from .render import event_line, failure_lines, first_line, output_line
from .results import Move, Result
from .widgets import (
    ConfirmModal,
    DryRunBanner,
    KeysFooter,
    RehearsalBanner,
    StepProgress,
    WizardHeader,
    status_mark,
)

STATUS_WORDS = {
    "pending": "to do",
    "applied": "applied",
    "verified": "applied, checked",
    "failed": "FAILED",
    "rolled-back": "rolled back",
    "skipped": "skipped",
    "interrupted": "interrupted (a resumes)",
    "off": "off in the answers",
    "error": "CANNOT PLAN",
    "previewed": "previewed",
}


def _count(n: int, word: str) -> str:
    """``1 change``, ``4 changes``."""
    return f"{n} {word}{'s' if n != 1 else ''}"


def step_line(ctx: WizardContext, n: int, sp: StepPlan, width: int = 76,
              running: bool = False) -> Text:
    """``+  3. Postfix basics ........ applied, 4 changes`` for the list."""
    status = ctx.status(sp)
    mark, style = status_mark(status)
    title = sp.recipe.title + (" (optional)" if sp.recipe.optional else "")
    right = STATUS_WORDS.get(status, status)
    if sp.enabled and not sp.error and status in ("pending", "previewed", "rolled-back",
                                                  "failed"):
        right += f", {_count(sp.changed, 'change')}"
    bad = failed_count(ctx.state(sp.id).checks)
    if status in ("applied", "verified") and bad:
        right, style = f"applied, {_count(bad, 'check')} FAILED", "bold yellow"
    if running:
        mark, style, right = ">", "bold", "applying..."
    left = f" {n:2}. {title}"
    room = max(1, width - 2 - len(left) - len(right))
    text = Text()
    text.append(mark, style=style or None)
    text.append(left)
    text.append(" " * room)
    text.append(right, style=style or "dim")
    return text


def _changes(sp: StepPlan) -> str:
    if sp.error:
        return f"cannot plan yet ({first_line(sp.error)})"
    return _count(sp.changed, "change")


@dataclass
class ApplyAllRun:
    """Progress of one "apply all": the steps in order and what happened so far."""

    steps: List[str]
    titles: Dict[str, str]
    current: int = -1
    """Index into ``steps`` of the step being applied (or the last one)."""
    results: List[StepResult] = field(default_factory=list)
    failed_checks: Dict[str, int] = field(default_factory=dict)
    finished: bool = False
    stopped: str = ""
    """Why the run ended early (cancelled, an unexpected error), or ''."""

    @property
    def failed(self) -> Optional[StepResult]:
        return next((r for r in self.results if r.status != "applied"), None)

    @property
    def step_id(self) -> str:
        return self.steps[self.current] if 0 <= self.current < len(self.steps) else ""


class StepListScreen(StyledOnMount, Screen[Result]):
    """All steps; Enter opens one, A applies every remaining step in order."""

    HELP_TITLE = "Steps"
    HELP = (
        "Every step of the install, in the order it runs, with its state: planned, applied, "
        "checked, failed, rolled back, skipped or off. Enter opens a step (its reasons, the "
        "exact changes, the log and the checks). A applies every remaining step in order and "
        "checks the result; s shows the summary; e writes the runbook (every command, for doing "
        "it by hand); a goes back to the answers.")
    TITLE = "mailwizard"
    SUB_TITLE = "Steps"

    BINDINGS = [
        Binding("enter", "open", "Open step", priority=True),
        Binding("A", "apply_all", "Apply all", tooltip="Apply every remaining step in order"),
        Binding("s", "summary", "Summary"),
        Binding("e", "export", "Export runbook"),
        Binding("a", "answers", "Answers"),
        Binding("q", "quit_app", "Quit", show=False),
    ]

    def __init__(self, ctx: WizardContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.planned = bool(ctx.plans) and ctx.engine is not None
        self.run: Optional[ApplyAllRun] = None
        """The current or last "apply all" (its log is shown until the admin moves on)."""
        self._todo: List[str] = []

    def compose(self) -> ComposeResult:
        yield WizardHeader()
        if self.ctx.dry_run:
            yield DryRunBanner(self.ctx.dry_run_reason)
        elif self.ctx.rehearsal:
            yield RehearsalBanner()
        yield StepProgress(id="steps-progress")
        yield Static(self._intro(), id="steps-intro")
        yield LoadingIndicator(id="steps-loading")
        yield OptionList(id="steps-list")
        yield Static("", id="steps-detail")
        yield RichLog(id="steps-log", wrap=True, markup=False, min_width=20)
        yield KeysFooter()

    def _intro(self) -> Text:
        n = len(self.ctx.plans)
        run = self.run
        if run is not None:
            return self._run_text(run)
        if self.ctx.dry_run:
            return Text(f"{n} steps for {self.ctx.platform.name}. Open each to read why and "
                        "preview its changes.")
        return Text(f"{n} steps for {self.ctx.platform.name}. Open a step to preview and "
                    "apply it.")

    def _run_text(self, run: ApplyAllRun) -> Text:
        """Apply all's progress: step k of n and its title; at the end, the outcome."""
        total = len(run.steps)
        if not run.finished:
            k = max(run.current, 0)
            title = run.titles.get(run.step_id, "")
            text = Text(f"Applying step {k + 1} of {total}: {title}", style="bold")
            hint = " - Ctrl+C stops safely"
            if len(text) + len(hint) <= max(40, self.size.width - 2):
                text.append(hint, style="dim")
            return text
        applied = sum(1 for r in run.results if r.status == "applied")
        failed = run.failed
        if failed is not None:
            n = run.steps.index(failed.step) + 1
            return Text(f"Stopped at step {n} of {total}, {run.titles[failed.step]}: it failed "
                        f"and was undone; the {applied} step(s) before it stay applied.",
                        style="bold red")
        if run.stopped:
            return Text(f"Apply all stopped ({run.stopped}) after {applied} of {total} "
                        "step(s).", style="bold yellow")
        bad = sum(run.failed_checks.values())
        if bad:
            where = ", ".join(run.titles[s] for s in run.failed_checks)
            return Text(f"Applied {applied} of {total} step(s), but {bad} check(s) failed "
                        f"({where}): open the step, tab 4.", style="bold yellow")
        return Text(f"Applied and checked all {applied} step(s).", style="bold green")

    def on_mount(self) -> None:
        self.query_one("#steps-log").display = False
        if self.planned:
            self._show_plans()
        else:
            self.query_one("#steps-list").display = False
            self._plan()

    def replan(self) -> None:
        """Plan again: the answers changed under the list (the Users screen)."""
        self.planned = False
        self.query_one("#steps-list").display = False
        self._plan()

    def _plan(self) -> None:
        ctx = self.ctx
        answers = ctx.answers
        assert answers is not None

        def task() -> List[StepPlan]:
            ctx.make_engine(answers)
            return ctx.replan()

        self.app.start_task("plan", task, self)  # type: ignore[attr-defined]

    def on_task_done(self, message: TaskDone) -> None:
        if message.kind == "plan":
            self.planned = True
            # a resumed session opens where it stopped, not on step 1
            self._show_plans(highlight=self.ctx.resume_index())
        elif message.kind == "apply-all":
            self._apply_all_done(*message.result)
        elif message.kind == "runbook":
            runbook_written(self, message.result)

    def on_task_failed(self, message: TaskFailed) -> None:
        if message.kind == "plan":
            self.query_one("#steps-loading").display = False
            self.query_one("#steps-intro", Static).update(
                Text("The steps could not be planned: " + str(message.error), style="red"))
        elif message.kind == "apply-all" and self.run is not None:
            self.run.finished = True
            self.run.stopped = ("stopped by the admin" if message.cancelled
                                else f"error: {message.error}")
            self._log(f"Apply all did not finish: {self.run.stopped}", "bold red")
            self._show_plans()
            self.refresh_bindings()
        show_error(self, message)

    def _show_plans(self, highlight: Optional[int] = None) -> None:
        ctx = self.ctx
        self.query_one("#steps-loading").display = False
        self.query_one("#steps-intro", Static).update(self._intro())
        running = self._running_index()
        self.set_class(self.run is not None, "-running")
        self.query_one("#steps-detail").display = self.run is None
        self.query_one("#steps-log").display = self.run is not None
        ol = self.query_one("#steps-list", OptionList)
        ol.display = True
        self._scrollbar_from_the_start(ol, len(ctx.plans))
        old = ol.highlighted if highlight is None else highlight
        if running >= 0:
            old = running
        ol.clear_options()
        width = max(40, self.size.width - 4)
        ol.add_options([Option(step_line(ctx, n, sp, width, running=n - 1 == running),
                               id=sp.id)
                        for n, sp in enumerate(ctx.plans, 1)])
        if ctx.plans:
            ol.highlighted = min(old or 0, len(ctx.plans) - 1)
        ol.focus()
        self._progress()
        self._detail()

    def _scrollbar_from_the_start(self, ol: OptionList, rows: int) -> None:
        """Give the list its scrollbar in the layout that shows it when the steps cannot all
        fit: a scrollbar that appears after that layout narrows the list, and Textual lays
        the whole screen out again (issue 13). The room is the screen less what the other
        shown widgets take: their heights in the last layout, the intro's for the text it
        was just given."""
        if self.run is not None:  # apply all: the list is as high as its content (45% max)
            ol.styles.overflow_y = "auto"
            return
        intro = self.query_one("#steps-intro", Static)
        others = sum(w.outer_size.height for w in self.children
                     if w.display and w is not intro
                     and w.id not in ("steps-list", "steps-loading", "steps-log"))
        width = intro.content_size.width
        if width <= 0:  # not laid out yet: Textual's way (a scrollbar when needed)
            ol.styles.overflow_y = "auto"
            return
        others += (intro.get_content_height(self.size, self.size, width)
                   + intro.styles.gutter.height)
        scroll = rows > self.size.height - others
        ol.styles.overflow_y = "scroll" if scroll else "auto"
        ol.show_vertical_scrollbar = scroll  # as Textual does when mounting a "scroll" widget

    def _running_index(self) -> int:
        """Index in the plans of the step apply all is applying now, or -1."""
        run = self.run
        if run is None or run.finished or not run.step_id:
            return -1
        return self._index_of(run.step_id)

    def _index_of(self, step_id: str) -> int:
        return next((n for n, sp in enumerate(self.ctx.plans) if sp.id == step_id), -1)

    def _progress(self) -> None:
        ol = self.query_one("#steps-list", OptionList)
        self.query_one(StepProgress).set_steps(
            self.ctx.statuses(), ol.highlighted if ol.highlighted is not None else -1,
            self.ctx.dry_run)

    def _detail(self) -> None:
        ol = self.query_one("#steps-list", OptionList)
        detail = self.query_one("#steps-detail", Static)
        if ol.highlighted is None or not self.ctx.plans:
            detail.update("")
            return
        sp = self.ctx.plans[ol.highlighted]
        text = Text(sp.recipe.summary or sp.recipe.title)
        if sp.error:
            text = Text(f"Cannot plan: {sp.error}", style="red")
        detail.update(text)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._progress()
        self._detail()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._open(event.option_index)

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        # (Textual also calls StyledOnMount's handler: each class's handler runs)
        if self.run is not None and self.run.finished:
            self.run = None  # the admin moved on: back to the step descriptions
        if self.planned:
            self._show_plans()
        self.refresh_bindings()

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple) -> Optional[bool]:  # type: ignore[type-arg]
        applying = getattr(self.app, "busy", None) == "apply-all"
        if action in ("open", "summary", "export") and (not self.planned or applying):
            return None
        if action == "apply_all":  # in a dry run: offers the rehearsal
            if (not self.planned or getattr(self.app, "busy", None)
                    or not (self.ctx.dry_run or self.ctx.remaining())):
                return None
        return True

    def action_open(self) -> None:
        ol = self.query_one("#steps-list", OptionList)
        if ol.highlighted is not None:
            self._open(ol.highlighted)

    def _leave(self, result: Result) -> None:
        # only from the top of the stack: dismiss pops whatever screen is on top (a modal
        # opened while apply all was running must not be the one that goes)
        if self.is_active:
            self.dismiss(result)

    def _open(self, index: int, tab: str = "why") -> None:
        if getattr(self.app, "busy", None) == "apply-all":
            return
        if self.planned and self.ctx.plans:
            self._leave(Result(Move.OPEN_STEP, step=index, tab=tab))

    def action_summary(self) -> None:
        if self.planned:
            self._leave(Result(Move.SUMMARY))

    def action_export(self) -> None:
        if self.planned:
            export_runbook(self)

    def action_answers(self) -> None:
        if getattr(self.app, "busy", None):
            self.notify("Wait for the current task to finish.")
            return
        self._leave(Result(Move.ANSWERS))

    def action_quit_app(self) -> None:
        self.app.action_request_quit()  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ apply all
    def action_apply_all(self) -> None:
        ctx = self.ctx
        if ctx.dry_run:
            offer_rehearsal(self)
            return
        if ctx.apply_disabled():
            self.notify(ctx.apply_disabled(), severity="warning")
            return
        todo = ctx.remaining()
        if not todo:
            self.notify("Every step is applied or skipped: nothing is left to apply.")
            return
        self._todo = [sp.id for sp in todo]
        if getattr(self.app, "yes", False):
            self._do_apply_all(True)
            return
        numbers = {sp.id: n for n, sp in enumerate(ctx.plans, 1)}
        changes = sum(sp.changed for sp in todo)
        lines = ["Each step is checked right after it is applied. The run stops at the first "
                 "step that fails: its changes of this run are undone, the steps before it "
                 "stay applied. Ctrl+C stops safely.", ""]
        lines += [f"{numbers[sp.id]:2}. {sp.recipe.title}: {_changes(sp)}" for sp in todo]
        skipped = [sp for sp in ctx.plans if ctx.status(sp) == "skipped"]
        if skipped:
            lines.append(f"Skipped, left alone: {', '.join(sp.recipe.title for sp in skipped)}")
        self.app.push_screen(
            ConfirmModal(f"Apply the {len(todo)} remaining step(s) now? {changes} change(s), "
                         "in this order:", "\n".join(lines), yes="Apply all"),
            callback=self._do_apply_all)

    def _do_apply_all(self, yes: Optional[bool]) -> None:
        if not yes or not self._todo:
            return
        ctx, app = self.ctx, self.app
        engine = ctx.engine
        assert engine is not None
        steps = list(self._todo)
        total = len(steps)
        screen = self

        def on_progress(done: Progress) -> None:
            if isinstance(done, StepDone):
                app.post_from_worker(  # type: ignore[attr-defined]
                    screen, StepApplied(done.index, done.total, done.result, done.checks))

        def task() -> Tuple[List[StepResult], List[StepPlan]]:
            ctx.bind_session()
            # each step is checked right after it is applied; Ctrl+C stops between changes
            run = apply_and_verify(engine, steps, verify_each=True, on_progress=on_progress)
            return run.results, engine.plan()

        run = ApplyAllRun(steps, {sp.id: sp.recipe.title for sp in ctx.plans})
        previous, self.run = self.run, run
        if not app.start_task("apply-all", task, self):  # type: ignore[attr-defined]
            self.run = previous
            return
        for sp in ctx.plans:
            if sp.id in steps:
                ctx.state(sp.id).error = ctx.state(sp.id).output = ""
        self.query_one("#steps-log", RichLog).clear()
        self._log(f"--- apply all: {total} step(s)", "bold")
        self._show_plans()
        self.refresh_bindings()

    def _log(self, line: str, style: str = "", step_id: str = "") -> None:
        """The live log; a step's lines also go to its own log (its screen's tab 3)."""
        if step_id:
            self.ctx.state(step_id).log.append((line, style))
        self.query_one("#steps-log", RichLog).write(Text(line, style=style))

    def on_engine_event(self, message: EngineEvent) -> None:
        run = self.run
        if run is None or run.finished:
            return
        ev = message.event
        if isinstance(ev, StepStarted) and ev.step in run.steps:
            run.current = run.steps.index(ev.step)
            self.ctx.state(ev.step).log.append(
                (f"--- apply all: step {run.current + 1} of {len(run.steps)}", "bold"))
            self._show_plans()
        line = event_line(ev)
        if line is not None:
            self._log(*line, step_id=ev.step or run.step_id)

    def on_output_line(self, message: OutputLine) -> None:
        if self.run is not None and not self.run.finished:
            self._log(*output_line(message.line), step_id=self.run.step_id)

    def on_step_applied(self, message: StepApplied) -> None:
        run = self.run
        if run is None:
            return
        res = message.result
        run.results.append(res)
        state = self.ctx.state(res.step)
        if res.status == "applied":
            state.checks, state.error, state.output = message.checks, "", ""
            checks = message.checks or []
            bad = failed_count(checks)
            if bad:
                run.failed_checks[res.step] = bad
            if checks:
                self._log(f"  checks: {summarize(checks)}", "bold red" if bad else "green",
                          step_id=res.step)
            else:
                self._log("  checks: none for this step", "dim", step_id=res.step)
        else:
            state.error, state.output = res.error, res.output
            for line in failure_lines(res):
                self._log(*line, step_id=res.step)
        self._show_plans()

    def _apply_all_done(self, results: List[StepResult], plans: List[StepPlan]) -> None:
        run = self.run
        self.ctx.plans = plans
        if run is None:
            return
        run.finished = True
        failed = run.failed
        applied = sum(1 for r in results if r.status == "applied")
        if failed is None:
            self._log(f"Apply all: {applied} step(s) applied.", "bold green")
        else:
            self._log(f"Apply all stopped at {run.titles[failed.step]}; {applied} step(s) "
                      "before it stay applied.", "bold red")
        self._show_plans(highlight=self._index_of(failed.step) if failed else None)
        self.refresh_bindings()
        if failed is not None:
            # show the failed step itself: its output (tab 3) and the one-key rollback
            self._open(self._index_of(failed.step), tab="log")
