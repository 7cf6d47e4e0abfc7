"""The step list: every recipe with its status and number of changes; the wizard's hub.

Plans the steps in a worker when shown. Dismisses with ``"answers"`` (edit the answers) or
``"quit"``; step screens and the summary are pushed on top of it.
"""

from __future__ import annotations

from typing import List, Optional

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, LoadingIndicator, OptionList, Static
from textual.widgets.option_list import Option

from wizard.engine import StepPlan

from .common import export_runbook, runbook_written, show_error
from .context import WizardContext
from .messages import TaskDone, TaskFailed
from .widgets import DryRunBanner, StepProgress, status_mark

STATUS_WORDS = {
    "pending": "to do",
    "applied": "applied",
    "verified": "applied, checked",
    "failed": "FAILED",
    "rolled-back": "rolled back",
    "skipped": "skipped",
    "off": "off in the answers",
    "error": "CANNOT PLAN",
    "previewed": "previewed",
}


def step_line(ctx: WizardContext, n: int, sp: StepPlan, width: int = 76) -> Text:
    """``+  3. Postfix basics ........ applied, 4 changes`` for the list."""
    status = ctx.status(sp)
    mark, style = status_mark(status)
    title = sp.recipe.title + (" (optional)" if sp.recipe.optional else "")
    right = STATUS_WORDS.get(status, status)
    if sp.enabled and not sp.error and status in ("pending", "previewed", "rolled-back",
                                                  "failed"):
        right += f", {sp.changed} change{'s' if sp.changed != 1 else ''}"
    left = f" {n:2}. {title}"
    room = max(1, width - 2 - len(left) - len(right))
    text = Text()
    text.append(mark, style=style or None)
    text.append(left)
    text.append(" " * room)
    text.append(right, style=style or "dim")
    return text


class StepListScreen(Screen[str]):
    """All steps; Enter opens one."""

    TITLE = "mailwizard"
    SUB_TITLE = "Steps"

    BINDINGS = [
        Binding("enter", "open", "Open step", priority=True),
        Binding("s", "summary", "Summary"),
        Binding("e", "export", "Export runbook"),
        Binding("a", "answers", "Answers"),
        Binding("q", "quit_app", "Quit", show=False),
    ]

    def __init__(self, ctx: WizardContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.planned = bool(ctx.plans) and ctx.engine is not None

    def compose(self) -> ComposeResult:
        yield Header()
        if self.ctx.dry_run:
            yield DryRunBanner(self.ctx.dry_run_reason)
        yield StepProgress(id="steps-progress")
        yield Static(self._intro(), id="steps-intro")
        yield LoadingIndicator(id="steps-loading")
        yield OptionList(id="steps-list")
        yield Static("", id="steps-detail")
        yield Footer(compact=True)

    def _intro(self) -> str:
        n = len(self.ctx.plans)
        if self.ctx.dry_run:
            return (f"{n} steps for {self.ctx.platform.name}. Open each to read why and "
                    "preview its changes.")
        return f"{n} steps for {self.ctx.platform.name}. Open a step to preview and apply it."

    def on_mount(self) -> None:
        if self.planned:
            self._show_plans()
        else:
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
            self._show_plans()
        elif message.kind == "runbook":
            runbook_written(self, message.result)

    def on_task_failed(self, message: TaskFailed) -> None:
        if message.kind == "plan":
            self.query_one("#steps-loading").display = False
            self.query_one("#steps-intro", Static).update(
                Text("The steps could not be planned: " + str(message.error), style="red"))
        show_error(self, message)

    def _show_plans(self, highlight: Optional[int] = None) -> None:
        ctx = self.ctx
        self.query_one("#steps-loading").display = False
        self.query_one("#steps-intro", Static).update(self._intro())
        ol = self.query_one("#steps-list", OptionList)
        ol.display = True
        old = ol.highlighted if highlight is None else highlight
        ol.clear_options()
        width = max(40, self.size.width - 4)
        ol.add_options([Option(step_line(ctx, n, sp, width), id=sp.id)
                        for n, sp in enumerate(ctx.plans, 1)])
        if ctx.plans:
            ol.highlighted = min(old or 0, len(ctx.plans) - 1)
        ol.focus()
        self._progress()
        self._detail()

    def _progress(self) -> None:
        ol = self.query_one("#steps-list", OptionList)
        self.query_one(StepProgress).set_steps(
            [self.ctx.status(sp) for sp in self.ctx.plans],
            ol.highlighted if ol.highlighted is not None else -1)

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

    def on_screen_resume(self) -> None:
        if self.planned:
            self._show_plans()

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple) -> Optional[bool]:  # type: ignore[type-arg]
        if action in ("open", "summary", "export") and not self.planned:
            return None
        return True

    def action_open(self) -> None:
        ol = self.query_one("#steps-list", OptionList)
        if ol.highlighted is not None:
            self._open(ol.highlighted)

    def _open(self, index: int) -> None:
        from .step import StepScreen

        if self.planned and self.ctx.plans:
            self.app.push_screen(StepScreen(self.ctx, index))

    def action_summary(self) -> None:
        from .summary import SummaryScreen

        if self.planned:
            self.app.push_screen(SummaryScreen(self.ctx))

    def action_export(self) -> None:
        if self.planned:
            export_runbook(self)

    def action_answers(self) -> None:
        if getattr(self.app, "busy", None):
            self.notify("Wait for the current task to finish.")
            return
        self.dismiss("answers")

    def action_quit_app(self) -> None:
        self.app.action_request_quit()  # type: ignore[attr-defined]
