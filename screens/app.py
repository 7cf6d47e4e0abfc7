"""The Textual app: screen flow, the one engine worker, quitting safely.

Flow: welcome -> answers -> step list (hub) -> step screens -> summary. Screens return typed
results (``dismiss``); the app moves between them. Everything that touches the target runs in
:meth:`MailWizardApp.run_task`, a thread worker that calls the engine and posts typed messages
back (``call_from_thread``), so long operations never freeze the UI.

Entry points: :func:`run_app` (``mailwizard`` without a verb: :func:`wizard.cli.run_tui` opens
the target and passes it with the steps, so the screens import neither ``wizard.cli`` nor
``recipes``) and :func:`make_app` (tests).
"""

from __future__ import annotations

import asyncio
import copy
import gc
import importlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.message_pump import MessagePump
from textual.screen import ModalScreen, Screen
from textual.worker import Worker

from wizard.errors import AnswersError, MailwizardError
from wizard.platforms import Platform, get_platform, parse_os_release

from .context import Machine, WizardContext, default_raw_answers
from .hangup import EXIT_INTERRUPTED, hangup_safe_driver, install_signal_handlers
from .messages import EngineEvent, OutputLine, TaskDone, TaskFailed
from .results import Move, Result
from .welcome import WelcomeScreen
from .widgets import REHEARSAL_TITLE, ConfirmModal

# The first screen (welcome) needs none of these: they are imported where they are used, and
# a worker imports them while the welcome screen waits for its first key (issue 13: the
# first screen within 1.5x of a bare Textual app's start).
if TYPE_CHECKING:
    from wizard.answers import Answers
    from wizard.engine import Event
    from wizard.executor import Executor
    from wizard.recipe import Recipe
    from wizard.session import Session
    from wizard.target import Target

    from .steps import StepListScreen

#: What :meth:`MailWizardApp.preload` imports once the first screen is up.
LATER_MODULES = ("screens.help", "screens.answers", "screens.warmcss", "screens.steps",
                 "screens.step", "screens.summary", "screens.widgets._diff_view",
                 "screens.widgets._progress", "screens.widgets._lazy_form",
                 "screens.widgets._user_row", "wizard.engine",
                 "wizard.run", "wizard.target", "wizard.kept", "wizard.dnsrecords.gather",
                 "wizard.dnsrecords.dkim", "rich.syntax")

#: After the preload: a full garbage collection once per this many collections of the middle
#: generation (Python's default is 10).
FULL_COLLECTION_EVERY = 100

#: Tasks that change the target: quitting during one asks first and stops cleanly.
CHANGING_TASKS = ("apply", "apply-all", "rollback", "rollback-all")

#: Textual's palette commands the app replaces: "Keys" by the help screen, "Quit" by
#: :meth:`MailWizardApp.action_request_quit`.
REPLACED_SYSTEM_COMMANDS = ("Keys", "Quit")


class MailWizardApp(App[int]):
    """The wizard. Build it with :func:`make_app` or :func:`run_app`."""

    TITLE = "mailwizard"
    CSS_PATH = ["wizard.tcss", "welcome.tcss", "answers.tcss", "steps.tcss", "step.tcss",
                "summary.tcss", "queue.tcss", "maillog.tcss", "users.tcss",
                "health.tcss"]
    BINDINGS = [
        # the footer has room for one global key at 80 columns: ? (help lists the others)
        Binding("ctrl+c", "request_quit", "Quit", priority=True, show=False),
        Binding("ctrl+q", "request_quit", "Quit", priority=True, show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("f1", "help", "Help", show=False),
    ]

    def __init__(self, ctx: WizardContext, yes: bool = False) -> None:
        super().__init__()
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            # no sliding tab underline or smooth scrolling: over SSH each frame is a repaint
            # sent down the line, and a key's result shows at once (TEXTUAL_ANIMATIONS=full
            # brings them back)
            self.animation_level = "none"
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
        self.opened_sessions: List[Session] = []
        """Sessions the app opened itself (a rehearsal entered from the dry run)."""
        self.preloaded = False
        """Whether :meth:`preload` has run to its end (it starts after the first refresh)."""

    # ------------------------------------------------------------------ flow
    def on_mount(self) -> None:
        self.loop = asyncio.get_running_loop()
        if self.ctx.rehearsal:
            self.title = REHEARSAL_TITLE
        self._show_welcome()
        self.call_after_refresh(self.preload)
        if self.ctx.loader is None:  # else once the answers are read (preload)
            self._greet()

    def _greet(self) -> None:
        if self.ctx.kept_loaded:
            self.notify("The answers of your last visit are filled in (passwords are never "
                        "kept: type them again).", title="Welcome back", timeout=8)

    def load_answers(self) -> None:
        """The form's starting content, read now if the preload has not yet (a key that
        needs it waits for a preload doing it)."""
        if self.ctx.load():
            self._greet()

    # Each full screen dismisses a Result (screens/results.py); one routing method per
    # screen turns it into the next screen.
    def _after_welcome(self, result: Optional[Result]) -> None:
        self.load_answers()
        if result is None or result.move is not Move.NEXT:
            self._quit(0)
        elif self._resumable() is not None:
            # a session to resume with answers that still hold: straight to the steps,
            # on the one that stopped (the answers stay one key away: a)
            answers = self._resumable()
            self.ctx.answers, self.ctx.engine, self.ctx.plans = answers, None, []
            self.notify("Resuming the session where it stopped; a on the step list shows "
                        "the answers.", title="Resume")
            self._show_steps(fresh=True)
        else:
            self._show_answers()

    def _resumable(self) -> Optional[Answers]:
        """The session's answers when there is an unfinished session to resume and they are
        valid as they are (a session keeps no passwords: when one is still needed, the form
        asks for it)."""
        s = self.ctx.session
        if (s is None or not s.answers or not (s.steps() or s.journal)
                or not self.ctx.answers_from_session):  # --answers given: the form shows them
            return None
        answers, errors = self.ctx.validate(copy.deepcopy(s.answers))
        return None if errors else answers

    def _after_answers(self, result: Optional[Result]) -> None:
        answers = result.answers if result is not None else None
        if result is None or result.move is not Move.NEXT or answers is None:
            self._show_welcome()
            return
        if answers != self.ctx.answers or self.ctx.engine is None:
            self.ctx.answers = answers
            self.ctx.engine = None
            self.ctx.plans = []
        if self.ctx.answers_unkept and self.ctx.keep_answers(answers) is None:
            self.notify("These answers are not kept for the next visit (a dry run keeps them "
                        "only with --state-dir): Ctrl+S in the form saves them to a file.",
                        severity="warning", timeout=8)
        self._show_steps(fresh=True)

    def _after_steps(self, result: Optional[Result]) -> None:
        move = result.move if result is not None else Move.QUIT
        if move is Move.REHEARSE:
            self._enter_rehearsal()
        elif move is Move.OPEN_STEP and result is not None:
            self._show_step(result.step, result.tab)
        elif move is Move.SUMMARY:
            self._show_summary()
        elif move is Move.ANSWERS:
            self._show_answers()
        else:
            self._quit(0)

    def _after_step(self, result: Optional[Result]) -> None:
        if result is not None and result.move is Move.REHEARSE:
            self._enter_rehearsal()
        elif result is None or result.move is Move.BACK:
            self._show_steps()
        elif result.move is Move.OPEN_STEP:
            self._show_step(result.step, result.tab)
        elif result.move in (Move.NEXT, Move.SKIP):
            # the step screen shows the next step itself; it leaves after the last one
            if result.step + 1 < len(self.ctx.plans):
                self._show_step(result.step + 1)
            else:
                self._show_summary()
        else:
            self._show_steps()

    def _after_summary(self, result: Optional[Result]) -> None:
        if result is not None and result.move is Move.REHEARSE:
            self._enter_rehearsal()
        elif result is not None and result.move is Move.OPEN_STEP:
            self._show_step(result.step, result.tab)
        else:
            self._show_steps()

    def _enter_rehearsal(self) -> None:
        """From the dry run to a rehearsal (the admin agreed): open the scratch copy and
        its session, then plan again on the step list."""
        from wizard.target import open_rehearsal

        ctx = self.ctx
        try:
            target = open_rehearsal(ctx.platform, str(ctx.rehearsal_dir)
                                    if ctx.rehearsal_dir else None)
            session = target.open_session()
        except MailwizardError as exc:
            self.notify(str(exc), title=exc.title, severity="error", timeout=10)
            self._show_steps()
            return
        assert target.scratch is not None
        ctx.enter_rehearsal(target.executor, session, target.root, target.state_dir,
                            target.scratch.directory)
        self.opened_sessions.append(session)
        self.title = REHEARSAL_TITLE
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self._show_steps(fresh=True)
        self.clear_notifications()
        self.notify(f"Rehearsal: the scratch copy is {target.scratch.directory}. Apply, "
                    "verify and roll back as on a server; nothing else is touched.",
                    title="REHEARSAL", timeout=8)

    def _show_welcome(self) -> None:
        self.push_screen(WelcomeScreen(self.ctx), callback=self._after_welcome)

    def _show_answers(self) -> None:
        from .answers import AnswersScreen

        self.push_screen(AnswersScreen(self.ctx), callback=self._after_answers)

    def _show_steps(self, fresh: bool = False) -> None:
        """The step list: the same screen again (its log and highlight kept), or a new one
        after the answers (it plans the steps when the answers changed)."""
        from .steps import StepListScreen

        if fresh or self._steps is None:
            old, self._steps = self._steps, StepListScreen(self.ctx)
            if old is not None:
                self.uninstall_screen(old)
                old.remove()
            self.install_screen(self._steps, "steps")
        self.push_screen(self._steps, callback=self._after_steps)

    def _show_step(self, index: int, tab: str = "why") -> None:
        from .step import StepScreen

        self.push_screen(StepScreen(self.ctx, index, tab), callback=self._after_step)

    def _show_summary(self) -> None:
        from .summary import SummaryScreen

        self.push_screen(SummaryScreen(self.ctx), callback=self._after_summary)

    def _show_health(self) -> None:
        """The health report over the current screen (Back returns to it)."""
        ctx = self.ctx
        if ctx.dry_run or ctx.rehearsal or ctx.engine is None or ctx.state_dir is None:
            self.notify("The health check looks at the running server: open mailwizard on "
                        "the server, with valid answers (not a dry run or a rehearsal).",
                        title="Health check", severity="warning")
            return
        from wizard.health.collect import check_engine

        from .health import HealthScreen

        engine, state_dir = ctx.engine, ctx.state_dir
        self.push_screen(HealthScreen(lambda: check_engine(engine, state_dir)))

    @work(thread=True, exit_on_error=False, group="preload")
    def preload(self) -> None:
        """Once the first screen is painted: read the answers (:meth:`WizardContext.load`),
        import the later screens and the engine, and make the steps, while the admin reads
        it (the first key then waits for none of it). The project's modules form no import
        cycle, so importing them here while the UI imports one of them too only waits, never
        deadlocks."""
        if self.ctx.load():
            try:
                self.call_from_thread(self._greet)
            except RuntimeError:  # the app is closing
                pass
        for name in LATER_MODULES:
            importlib.import_module(name)
        self.ctx.recipe_list()
        try:  # the next screens' widget CSS, parsed on the app's thread (screens.warmcss)
            self.call_from_thread(self._warm_styles)
        except RuntimeError:  # the app is closing
            pass
        # What is loaded now lives as long as the app: out of the collector's sight, a full
        # collection during a key (every few keys) no longer walks it (60-80 ms each); the
        # garbage of the start is collected first (frozen, it would stay)
        gc.collect()
        gc.freeze()
        # and full collections come ten times less often: with the start frozen, Python's
        # rule (one per ten middle-generation collections) ran one every third key or so of
        # a walk through the screens, each 15-100 ms on that key (issue 13)
        young, middle, _old = gc.get_threshold()
        gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
        self.preloaded = True

    def _warm_styles(self) -> None:
        from .warmcss import later_widgets, warm

        warm(self, later_widgets())

    # ------------------------------------------------------------------ worker
    def start_task(self, kind: str, fn: Callable[[], Any], target: MessagePump) -> bool:
        """Run ``fn`` in the worker; ``target`` gets progress and a TaskDone/TaskFailed."""
        if self.busy is not None:
            self.notify(f"Busy ({self.busy}); wait for it to finish.", severity="warning")
            return False
        self.busy = kind
        self.refresh_bindings()  # the keys that wait for the task dim
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
        # the keys that waited for the task (a plan, an apply) light up once its target has
        # taken the result (queued after it): nothing else need tell the footer (a slow
        # plan ends with the focus where it was when the list opened)
        if not target.call_later(self.refresh_bindings):
            self.refresh_bindings()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A stop was asked for during a task: quit once its worker has really ended (not
        from inside it, which would cancel a worker that is returning)."""
        if (event.worker.group == "engine" and event.worker.is_finished
                and self._quit_when_idle and self.busy is None):
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
            return
        if self._answers_unkept():
            if isinstance(self.screen, ConfirmModal):
                return
            self.push_screen(
                ConfirmModal(
                    "Quit without keeping the answers you edited?",
                    "The form holds answers that were not used yet (Ctrl+N) or not kept: the "
                    "next visit would not show them. Ctrl+S in the form saves them to a file.",
                    yes="Quit", no="Stay"),
                callback=self._confirm_quit)
            return
        self._quit(0)

    def _answers_unkept(self) -> bool:
        from .answers import AnswersScreen

        screen = self.screen
        return self.ctx.answers_unkept or (isinstance(screen, AnswersScreen)
                                           and screen.edited())

    def _confirm_quit(self, yes: Optional[bool]) -> None:
        if yes:
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
        safe = hangup_safe_driver()
        if safe is not None and cls is safe.__mro__[1]:
            return safe
        return cls

    def hang_up(self) -> None:
        """SIGHUP/SIGTERM (the SSH connection dropped): stop cleanly without asking."""
        self.cancel()
        if self.busy is None:
            self._quit(EXIT_INTERRUPTED)

    # ------------------------------------------------------------------ help
    def action_help(self) -> None:
        """? / F1: the keys and purpose of the screen on top (not over another modal)."""
        from .help import HelpScreen, screen_keys

        screen = self.screen
        if isinstance(screen, (HelpScreen, ModalScreen)):
            return
        title = getattr(screen, "HELP_TITLE", "") or type(screen).__name__
        about = screen.HELP or "No description."
        self.push_screen(HelpScreen(title, about, screen_keys(screen)))

    # ------------------------------------------------------------------ queue and log
    def action_mail_queue(self) -> None:
        """Palette "Mail queue": the queue screen over the current one (Esc comes back)."""
        from .queue import QueueScreen

        self.push_screen(QueueScreen(self.ctx))

    def action_mail_log(self) -> None:
        """Palette "Mail log": the log screen over the current one (Esc comes back)."""
        from .maillog import LogScreen

        self.push_screen(LogScreen(self.ctx))

    # ------------------------------------------------------------------ users
    def action_users(self) -> None:
        """Palette "Users and aliases": the Users screen over the current one."""
        from .users import UsersScreen

        self.load_answers()  # the screen's changes go into the form's content
        self.push_screen(UsersScreen(self.ctx), callback=self._after_users)

    def _after_users(self, changed: Optional[bool]) -> None:
        """The Users screen changed the session's answers: the wizard follows them (the
        form, and the step list plans again)."""
        session = self.ctx.session
        if not changed or session is None or not session.answers:
            return
        answers, _errors = self.ctx.validate(copy.deepcopy(session.answers))
        if answers is None:
            return
        self.ctx.set_raw(copy.deepcopy(session.answers))
        if self._steps is not None and self.screen is self._steps:
            self.ctx.answers, self.ctx.engine, self.ctx.plans = answers, None, []
            self._steps.replan()

    # ------------------------------------------------------------------ palette
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Textual's "Keys" panel (no Esc to close it) gives way to our help screen, and its
        # "Quit" (at once, unsaved) to the one quit rule of every key
        for command in super().get_system_commands(screen):
            if command.title not in REPLACED_SYSTEM_COMMANDS:
                yield command
        yield SystemCommand("Help: keys and what this screen does", "key: ? or F1",
                            self.action_help)
        yield SystemCommand("Quit", "Quit mailwizard (asks first when work would be lost)",
                            self.action_request_quit)
        from .health import HealthScreen
        from .maillog import LogScreen
        from .queue import QueueScreen
        from .step import StepScreen
        from .steps import StepListScreen
        from .summary import SummaryScreen

        if not isinstance(screen, (QueueScreen, LogScreen)) and not self.busy:
            yield SystemCommand("Mail queue", "list, show, flush, hold, release or delete "
                                "queued messages", self.action_mail_queue)
            yield SystemCommand("Mail log", "recent deliveries, rejects and failed logins",
                                self.action_mail_log)
        if not self.busy and isinstance(screen, (WelcomeScreen, StepListScreen)):
            yield SystemCommand("Users and aliases", "add or remove mail users and aliases, "
                                "change a password", self.action_users)
        if not isinstance(screen, HealthScreen) and not self.busy:
            yield SystemCommand("Health check", "what mailwizard check sees on this server",
                                self._show_health)
        if isinstance(screen, (StepListScreen, StepScreen, SummaryScreen)) and not self.busy:
            for i, plan in enumerate(self.ctx.plans):
                yield SystemCommand(f"Open step {i + 1}: {plan.recipe.title}",
                                    f"step {plan.id}", _opener(screen, i))
        seen = set()
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if not active.enabled or not binding.description or binding.action in seen:
                continue
            if binding.action in ("request_quit", "command_palette") or (
                    binding.description == "Quit"):  # the one Quit above
                continue
            seen.add(binding.action)
            yield SystemCommand(binding.description, f"key: {key}",
                                _runner(self, active.node, binding.action))


def _opener(screen: Screen[Any], index: int) -> Callable[[], None]:
    """A palette command: leave ``screen`` for step ``index`` (the app routes the move)."""
    def run() -> None:
        screen.dismiss(Result(Move.OPEN_STEP, step=index))
    return run


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
             *,
             recipes: Union[Sequence[Recipe], Callable[[], Sequence[Recipe]]],
             machine: Optional[Machine] = None,
             dry_run_reason: str = "--dry-run",
             root: Optional[Path] = None,
             runbook_path: Optional[Path] = None,
             raw_answers: Optional[Dict[str, Any]] = None,
             yes: bool = False,
             rehearsal_dir: Optional[Path] = None,
             form_start: Optional[Callable[[], FormStart]] = None) -> MailWizardApp:
    """Build the app for tests (and :func:`run_app`).

    Args:
        answers: prefilled answers (an :class:`Answers`, ``"demo"``, or None for an empty form
            with the machine's defaults).
        platform: a platform id or profile.
        executor: where changes happen; default a :class:`DryRunExecutor` on a temp root.
        session: the journal (needed to apply); None in a dry run.
        dry_run: preview only: Apply is disabled.
        recipes: the steps, or the function making them (the entry point passes
            ``recipes.all_recipes``: the steps import after the first screen; the screens
            never import them).
        machine: host name and OS of this machine (frozen in snapshot tests).
        raw_answers: the form's starting content when it is not valid answers.
        rehearsal_dir: the rehearsal's scratch directory (a rehearsal's executor), or where
            one entered from the dry run goes (None: ``$TMPDIR/mailwizard-rehearsal-<id>``).
        form_start: reads what the form starts from, instead of ``answers`` and
            ``raw_answers`` (:func:`run_app`).

    The answers are read, and the machine's defaults made, after the first screen is up
    (:attr:`WizardContext.loader`).
    """
    from wizard.executor import DryRunExecutor

    plat = _platform(platform)
    if executor is None:
        executor = DryRunExecutor(tempfile.mkdtemp(prefix="mailwizard-dry-"))
    machine = machine or Machine.detect(_machine_platform_name())

    def start() -> FormStart:
        if isinstance(answers, str):
            from wizard.answers import demo_answers_path, load_answers

            path = demo_answers_path() if answers == "demo" else Path(answers)
            return FormStart(answers=load_answers(path), raw=raw_answers)
        return FormStart(answers=answers, raw=raw_answers)

    ctx = WizardContext(
        platform=plat, executor=executor, machine=machine, dry_run=dry_run,
        dry_run_reason=dry_run_reason if dry_run else "", session=session,
        state_dir=session.dir if session is not None else None,
        root=root or Path(executor.root), recipes=recipes, runbook_path=runbook_path,
        rehearsal=executor.rehearsal, rehearsal_dir=rehearsal_dir,
        loader=_form_loader(form_start or start))
    return MailWizardApp(ctx, yes=yes)


@dataclass
class FormStart:
    """What the answers form starts from: answers, or the raw content of a file (invalid
    answers, kept answers) with its problems; neither: the session's answers, else the
    machine's defaults."""

    answers: Optional[Answers] = None
    raw: Optional[Dict[str, Any]] = None
    errors: List[Tuple[str, str]] = field(default_factory=list)
    kept: bool = False
    """``raw`` holds the answers kept at the last visit."""


def _form_loader(start: Callable[[], FormStart]) -> Callable[[WizardContext], None]:
    """The context's loader: the form's starting content from ``start``."""
    def load(ctx: WizardContext) -> None:
        got = start()
        fresh = got.raw or _raw_from(got.answers) or default_raw_answers(ctx.machine)
        raw = fresh
        prefilled = got.raw is not None or got.answers is not None
        from_session = False
        session = ctx.session
        if got.answers is None and got.raw is None and session is not None and session.answers:
            raw, prefilled, from_session = copy.deepcopy(session.answers), True, True
        ctx.raw, ctx.fresh_raw = copy.deepcopy(raw), copy.deepcopy(fresh)
        ctx.prefilled, ctx.answers_from_session = prefilled, from_session
        ctx.raw_errors = list(got.errors)
        ctx.kept_loaded = ctx.kept_loaded or got.kept
    return load


def _load_raw(path: str) -> Dict[str, Any]:
    from wizard.answers import demo_answers_path, read_answers_file

    if path == "demo":
        path = str(demo_answers_path())
    try:
        data = read_answers_file(Path(path))
    except AnswersError:
        return {}
    return data if isinstance(data, dict) else {}


def run_app(target: Target, recipes: Union[Sequence[Recipe], Callable[[], Sequence[Recipe]]],
            answers_file: Optional[str] = None, yes: bool = False) -> int:
    """``mailwizard`` without a verb: run the TUI on a target the entry point opened.

    Args:
        target: platform, root, executor and session directory (:mod:`wizard.target`).
        recipes: the steps, or the function making them (the entry point passes
            ``default_recipes``: made in the worker that preloads the later screens).
        answers_file: ``--answers`` (``demo`` for the example): prefills the form; invalid
            answers are shown in the form with their problems next to the fields.
        yes: apply without the confirmation dialog.
    """
    machine_name = _machine_platform_name()
    session = None if target.dry_run else target.open_session()
    app: Optional[MailWizardApp] = None

    def start() -> FormStart:
        """Read after the first screen is up (the preload worker, or the first key)."""
        if answers_file:
            try:
                return FormStart(answers=target.load_answers(answers_file))
            except AnswersError as exc:
                # show the file in the form, with its problems next to the fields
                return FormStart(raw=_load_raw(answers_file), errors=list(exc.errors))
        if session is None or not session.answers:
            from wizard.kept import kept_answers

            kept = kept_answers(target.state_dir)
            return FormStart(raw=kept, kept=kept is not None)
        return FormStart()

    try:
        app = make_app(platform=target.platform,
                       executor=target.executor, session=session, dry_run=target.dry_run,
                       recipes=recipes, machine=Machine.detect(machine_name),
                       dry_run_reason=target.dry_run_reason, root=target.root, yes=yes,
                       rehearsal_dir=target.scratch.directory if target.scratch else None,
                       form_start=start)
        app.ctx.state_dir = target.state_dir
        install_signal_handlers(app)
        app.run()
        return EXIT_INTERRUPTED if app.interrupted else int(app.return_code or 0)
    finally:
        if session is not None:
            session.close()
        for opened in app.opened_sessions if app is not None else []:
            opened.close()


__all__ = ["EXIT_INTERRUPTED", "FormStart", "MailWizardApp", "make_app", "run_app"]
