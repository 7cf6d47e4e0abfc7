"""The Textual app: screen flow, the one engine worker, quitting safely.

Flow: welcome -> answers -> step list (hub) -> step screens -> summary. Screens return typed
results (``dismiss``); the app moves between them. Everything that touches the target runs in
:meth:`MailWizardApp.run_task`, a thread worker that calls the engine and posts typed messages
back (``call_from_thread``), so long operations never freeze the UI.

Entry points: :func:`run_app` (``mailwizard`` without a verb) and :func:`make_app` (tests).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import functools
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Union

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.message_pump import MessagePump
from textual.screen import Screen

from wizard.answers import Answers, demo_answers_path, load_answers, read_answers_file
from wizard.engine import Event
from wizard.errors import AnswersError, SessionError
from wizard.executor import DryRunExecutor, Executor
from wizard.interrupts import SafeOutput, detach_terminal
from wizard.platforms import Platform, get_platform, parse_os_release
from wizard.recipe import Recipe
from wizard.session import Session

from .answers import AnswersScreen
from .context import Machine, WizardContext, default_raw_answers
from .messages import EngineEvent, OutputLine, TaskDone, TaskFailed
from .results import Move, Result
from .step import StepScreen
from .steps import StepListScreen
from .summary import SummaryScreen
from .welcome import WelcomeScreen
from .widgets import ConfirmModal

EXIT_INTERRUPTED = 130

#: Tasks that change the target: quitting during one asks first and stops cleanly.
CHANGING_TASKS = ("apply", "apply-all", "rollback", "rollback-all")


class MailWizardApp(App[int]):
    """The wizard. Build it with :func:`make_app` or :func:`run_app`."""

    TITLE = "mailwizard"
    CSS_PATH = ["wizard.tcss", "welcome.tcss", "answers.tcss", "steps.tcss", "step.tcss",
                "summary.tcss"]
    BINDINGS = [
        Binding("ctrl+c", "request_quit", "Quit", priority=True),
        Binding("ctrl+q", "request_quit", "Quit", priority=True, show=False),
    ]

    def __init__(self, ctx: WizardContext, yes: bool = False) -> None:
        super().__init__()
        self.ctx = ctx
        self.yes = yes
        """Apply without the confirmation dialog (``--yes``)."""
        self.busy: Optional[str] = None
        """The kind of task the worker is running, or None."""
        self._quit_when_idle = False
        self.interrupted = False
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._steps: Optional[StepListScreen] = None
        """The step list (installed: kept while the admin is in a step or the summary)."""

    # ------------------------------------------------------------------ flow
    def on_mount(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._show_welcome()

    # Each full screen dismisses a Result (screens/results.py); one routing method per
    # screen turns it into the next screen.
    def _after_welcome(self, result: Optional[Result]) -> None:
        if result is not None and result.move is Move.NEXT:
            self._show_answers()
        else:
            self._quit(0)

    def _after_answers(self, result: Optional[Result]) -> None:
        answers = result.answers if result is not None else None
        if result is None or result.move is not Move.NEXT or answers is None:
            self._show_welcome()
            return
        if answers != self.ctx.answers or self.ctx.engine is None:
            self.ctx.answers = answers
            self.ctx.engine = None
            self.ctx.plans = []
        self._show_steps(fresh=True)

    def _after_steps(self, result: Optional[Result]) -> None:
        move = result.move if result is not None else Move.QUIT
        if move is Move.OPEN_STEP and result is not None:
            self._show_step(result.step, result.tab)
        elif move is Move.SUMMARY:
            self._show_summary()
        elif move is Move.ANSWERS:
            self._show_answers()
        else:
            self._quit(0)

    def _after_step(self, result: Optional[Result]) -> None:
        if result is None or result.move is Move.BACK:
            self._show_steps()
        elif result.move in (Move.NEXT, Move.SKIP):
            if result.step + 1 < len(self.ctx.plans):
                self._show_step(result.step + 1)
            else:
                self._show_summary()
        elif result.move is Move.PREVIOUS:
            self._show_step(max(result.step - 1, 0))
        else:
            self._show_steps()

    def _after_summary(self, result: Optional[Result]) -> None:
        self._show_steps()

    def _show_welcome(self) -> None:
        self.push_screen(WelcomeScreen(self.ctx), callback=self._after_welcome)

    def _show_answers(self) -> None:
        self.push_screen(AnswersScreen(self.ctx), callback=self._after_answers)

    def _show_steps(self, fresh: bool = False) -> None:
        """The step list: the same screen again (its log and highlight kept), or a new one
        after the answers (it plans the steps when the answers changed)."""
        if fresh or self._steps is None:
            old, self._steps = self._steps, StepListScreen(self.ctx)
            if old is not None:
                self.uninstall_screen(old)
                old.remove()
            self.install_screen(self._steps, "steps")
        self.push_screen(self._steps, callback=self._after_steps)

    def _show_step(self, index: int, tab: str = "why") -> None:
        self.push_screen(StepScreen(self.ctx, index, tab), callback=self._after_step)

    def _show_summary(self) -> None:
        self.push_screen(SummaryScreen(self.ctx), callback=self._after_summary)

    # ------------------------------------------------------------------ worker
    def start_task(self, kind: str, fn: Callable[[], Any], target: MessagePump) -> bool:
        """Run ``fn`` in the worker; ``target`` gets progress and a TaskDone/TaskFailed."""
        if self.busy is not None:
            self.notify(f"Busy ({self.busy}); wait for it to finish.", severity="warning")
            return False
        self.busy = kind
        if self.ctx.engine is not None:
            self.ctx.engine.cancelled = False
        self.run_task(kind, fn, target)
        return True

    def post_from_worker(self, target: MessagePump, message: Message) -> None:
        """From the worker thread: post ``message`` to ``target`` (in order with the
        engine's events; dropped when the app is shutting down)."""
        try:
            self.call_from_thread(target.post_message, message)
        except RuntimeError:
            pass

    @work(thread=True, exclusive=True, exit_on_error=False, group="engine")
    def run_task(self, kind: str, fn: Callable[[], Any], target: MessagePump) -> None:
        """The one worker shape: call the engine, post typed messages back."""
        ctx = self.ctx

        def post(message: Message) -> None:
            self.post_from_worker(target, message)

        def on_event(event: Event) -> None:
            post(EngineEvent(event))

        def on_output(line: str) -> None:
            post(OutputLine(line))

        engine = ctx.engine
        if engine is not None:
            engine.on_event = on_event
        ctx.executor.on_output = on_output
        result: Message
        try:
            value = fn()
            if ctx.engine is not None and ctx.engine is not engine:  # created by fn
                ctx.engine.on_event = on_event
            result = TaskDone(kind, value)
        except KeyboardInterrupt as exc:  # engine.cancelled: stopped between two changes
            result = TaskFailed(kind, exc, cancelled=True)
        except Exception as exc:  # shown in an error modal, never as a traceback
            self.log.error(f"task {kind} failed: {exc!r}")
            result = TaskFailed(kind, exc)
        finally:
            ctx.executor.on_output = None
            if ctx.engine is not None:
                ctx.engine.on_event = lambda _e: None
        try:
            self.call_from_thread(self._task_finished, result, target)
        except RuntimeError:
            pass

    def _task_finished(self, message: Message, target: MessagePump) -> None:
        self.busy = None
        target.post_message(message)
        if self._quit_when_idle:
            self._quit(EXIT_INTERRUPTED if self.interrupted else 0)

    # ------------------------------------------------------------------ quitting
    def action_request_quit(self) -> None:
        """Ctrl+C / Ctrl+Q: quit; during a change, confirm and stop between two changes."""
        if self.busy in CHANGING_TASKS:
            if self._quit_when_idle:
                self.notify("Already stopping after the current change...")
                return
            self.push_screen(
                ConfirmModal(
                    "A step is being applied. Stop and quit?",
                    "mailwizard stops after the change in progress and undoes this step's "
                    "changes of this run, so the system stays consistent. The session "
                    "remembers everything: run mailwizard again to resume.",
                    yes="Stop and quit", no="Keep going"),
                callback=self._confirm_stop)
            return
        if self.busy is not None:
            self.cancel()
        self._quit(0)

    def _confirm_stop(self, yes: Optional[bool]) -> None:
        if yes:
            self.cancel()
            self.notify("Stopping after the current change...", title="Quitting",
                        severity="warning")
            if self.busy is None:
                self._quit(EXIT_INTERRUPTED)

    def _quit(self, code: int) -> None:
        self.exit(code, return_code=code)

    def cancel(self) -> None:
        """Ask the engine to stop between two changes, and quit when the worker is done."""
        self.interrupted = True
        self._quit_when_idle = True
        if self.ctx.engine is not None:
            self.ctx.engine.cancelled = True

    def get_driver_class(self) -> Any:
        """Textual's driver; on Linux one that survives the terminal hanging up."""
        cls = super().get_driver_class()
        safe = _hangup_safe_driver()
        if safe is not None and cls is safe.__mro__[1]:
            return safe
        return cls

    def hang_up(self) -> None:
        """SIGHUP/SIGTERM (the SSH connection dropped): stop cleanly without asking."""
        self.cancel()
        if self.busy is None:
            self._quit(EXIT_INTERRUPTED)

    # ------------------------------------------------------------------ palette
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        seen = set()
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if not active.enabled or not binding.description or binding.action in seen:
                continue
            if binding.action in ("request_quit", "command_palette"):
                continue
            seen.add(binding.action)
            yield SystemCommand(binding.description, f"key: {key}",
                                _runner(self, active.node, binding.action))


def _runner(app: App[Any], node: Any, action: str) -> Callable[[], Any]:
    def run() -> Any:
        return app.run_action(action, node)
    return run


# --------------------------------------------------------------------------- factories
def _platform(value: Union[str, Platform]) -> Platform:
    return get_platform(value) if isinstance(value, str) else value


def _machine_platform_name(root: Path = Path("/")) -> str:
    for cand in ("etc/os-release", "usr/lib/os-release"):
        p = root / cand
        if p.is_file():
            osr = parse_os_release(p.read_text(encoding="utf-8", errors="replace"))
            return osr.get("PRETTY_NAME", osr.get("ID", ""))
    return ""


def _raw_from(answers: Optional[Answers]) -> Optional[Dict[str, Any]]:
    return answers.to_dict(include_secrets=True) if answers is not None else None


def make_app(answers: Union[Answers, str, None] = None,
             platform: Union[str, Platform] = "rocky9",
             executor: Optional[Executor] = None,
             session: Optional[Session] = None,
             dry_run: bool = True,
             recipes: Optional[Sequence[Recipe]] = None,
             machine: Optional[Machine] = None,
             dry_run_reason: str = "--dry-run",
             root: Optional[Path] = None,
             runbook_path: Optional[Path] = None,
             raw_answers: Optional[Dict[str, Any]] = None,
             yes: bool = False) -> MailWizardApp:
    """Build the app for tests (and :func:`run_app`).

    Args:
        answers: prefilled answers (an :class:`Answers`, ``"demo"``, or None for an empty form
            with the machine's defaults).
        platform: a platform id or profile.
        executor: where changes happen; default a :class:`DryRunExecutor` on a temp root.
        session: the journal (needed to apply); None in a dry run.
        dry_run: preview only: Apply is disabled.
        recipes: the steps (default ``recipes.all_recipes()``).
        machine: host name and OS of this machine (frozen in snapshot tests).
        raw_answers: the form's starting content when it is not valid answers.
    """
    plat = _platform(platform)
    if isinstance(answers, str):
        answers = load_answers(demo_answers_path() if answers == "demo" else Path(answers))
    if executor is None:
        executor = DryRunExecutor(tempfile.mkdtemp(prefix="mailwizard-dry-"))
    machine = machine or Machine.detect(_machine_platform_name())
    defaults = default_raw_answers(machine)
    fresh = raw_answers or _raw_from(answers) or defaults
    raw = fresh
    prefilled = raw_answers is not None or answers is not None
    if answers is None and raw_answers is None and session is not None and session.answers:
        raw, prefilled = copy.deepcopy(session.answers), True
    ctx = WizardContext(
        platform=plat, executor=executor, machine=machine, dry_run=dry_run,
        dry_run_reason=dry_run_reason if dry_run else "", session=session,
        state_dir=session.dir if session is not None else None,
        root=root or Path(executor.root), recipes=recipes, raw=copy.deepcopy(raw),
        prefilled=prefilled, fresh_raw=copy.deepcopy(fresh), runbook_path=runbook_path)
    return MailWizardApp(ctx, yes=yes)


def _load_raw(path: str) -> Dict[str, Any]:
    if path == "demo":
        path = str(demo_answers_path())
    try:
        data = read_answers_file(Path(path))
    except AnswersError:
        return {}
    return data if isinstance(data, dict) else {}


def run_app(args: argparse.Namespace) -> int:
    """``mailwizard`` without a verb: resolve the options like the CLI, then run the TUI."""
    from wizard.cli import Setup

    raw_errors = []
    raw: Optional[Dict[str, Any]] = None
    try:
        setup = Setup(args, need_answers=bool(args.answers))
    except AnswersError as exc:
        # show the file in the form, with its problems next to the fields
        setup = Setup(args, need_answers=False)
        raw, raw_errors = _load_raw(args.answers), exc.errors
    machine_name = _machine_platform_name()
    if setup.dry_run:
        reason = "--dry-run" if args.dry_run else (
            f"{setup.platform.id} is not this system")
    else:
        reason = ""
    session: Optional[Session] = None
    if not setup.dry_run:
        session = Session.open(setup.state_dir)
        if session.platform_id and session.platform_id != setup.platform.id:
            session.close()
            raise SessionError(f"the session in {setup.state_dir} is for "
                               f"{session.platform_id}, not {setup.platform.id}")
    try:
        app = make_app(answers=setup.answers, platform=setup.platform,
                       executor=setup.executor, session=session, dry_run=setup.dry_run,
                       machine=Machine.detect(machine_name), dry_run_reason=reason,
                       root=setup.root, raw_answers=raw, yes=bool(args.yes))
        app.ctx.raw_errors = list(raw_errors)
        app.ctx.state_dir = setup.state_dir
        _install_signal_handlers(app)
        app.run()
        return EXIT_INTERRUPTED if app.interrupted else int(app.return_code or 0)
    finally:
        if session is not None:
            session.close()


def _install_signal_handlers(app: MailWizardApp) -> None:
    """A dropped SSH connection (SIGHUP), SIGTERM or SIGINT stops between two changes and
    exits 130 with the session saved.

    After SIGHUP the terminal is gone: standard output and error are pointed at /dev/null and
    standard input at a pipe that never delivers, so the rest of the run (which can take
    minutes of package installation) neither fails on EIO nor spins on end-of-file. SIGINT
    (only ``kill -INT``: the terminal is in raw mode) is handled the same way."""

    def handler(signum: int, frame: Any) -> None:
        if signum == signal.SIGHUP:
            _detach_from_terminal(app)
        loop = app.loop
        if app.ctx.engine is not None:
            app.ctx.engine.cancelled = True
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(app.hang_up)
        else:  # not running yet / any more
            raise SystemExit(EXIT_INTERRUPTED)

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, handler)


def _detach_from_terminal(app: MailWizardApp) -> None:
    if getattr(app, "_hung_up", False):
        return
    app._hung_up = True  # type: ignore[attr-defined]
    detach_terminal(stdin=False)
    try:
        # a pipe whose writer stays open: never readable, so the input thread's select()
        # sleeps instead of spinning on end-of-file; non-blocking, so a read already on its
        # way (the old terminal said "readable") fails at once instead of blocking for good
        quiet, keep = os.pipe()
        os.set_blocking(quiet, False)
        os.dup2(quiet, 0)
        os.close(quiet)
        app._quiet_stdin = keep  # type: ignore[attr-defined]
    except OSError:
        pass


@functools.cache
def _hangup_safe_driver() -> Optional[type]:
    """Textual's Linux driver, made safe for a terminal that disappears: its writer thread
    writes through :class:`SafeOutput` (an EIO would kill the thread, then the app blocks on
    its full queue) and its input thread waits for the exit on a read error instead of
    panicking while a change is still being applied."""
    try:
        from textual.drivers.linux_driver import LinuxDriver
    except ImportError:  # pragma: no cover - not Linux
        return None

    class HangupSafeDriver(LinuxDriver):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if getattr(self, "_file", None) is not None:
                self._file = SafeOutput(self._file)  # type: ignore[assignment,arg-type]

        def run_input_thread(self) -> None:
            try:
                super().run_input_thread()
            except OSError:  # the terminal hung up: no more input
                self.exit_event.wait()

    return HangupSafeDriver


__all__ = ["MailWizardApp", "make_app", "run_app"]
