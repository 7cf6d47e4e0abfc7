"""The TUI's state: what was chosen, the engine, and what happened to each step.

This module has no Textual import: screens read and update one :class:`WizardContext`, and
everything that touches the target goes through :class:`wizard.engine.Engine`.
"""

from __future__ import annotations

import copy
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from wizard.errors import AnswersError

if TYPE_CHECKING:  # the answers model, the engine, DNS records and the rest load after the
    # first screen
    from wizard.answers import Answers
    from wizard.checks import CheckResult
    from wizard.dnsrecords.gather import DnsPlan
    from wizard.engine import Engine, EventCallback, StepPlan
    from wizard.executor import Executor
    from wizard.platforms import Platform
    from wizard.recipe import Recipe
    from wizard.session import Session

#: Statuses apply-all leaves alone: already applied, or skipped by the admin.
NOT_REMAINING = ("applied", "verified", "skipped", "off")

#: Where the CLI keeps sessions; rollback hints add ``--state-dir`` only for other places.
DEFAULT_STATE_DIR = Path("/var/lib/mailwizard")


@dataclass(frozen=True)
class Machine:
    """Facts about the machine the wizard runs on (frozen in tests and snapshots)."""

    hostname: str
    """Fully qualified host name (``socket.getfqdn()``)."""
    platform_name: str
    """What this machine is, e.g. 'Debian GNU/Linux 12', or '' when unknown."""

    @classmethod
    def detect(cls, platform_name: str = "") -> Machine:
        return cls(hostname=socket.getfqdn(), platform_name=platform_name)


def default_raw_answers(machine: Machine) -> Dict[str, Any]:
    """A starting point for the form from this machine: host name, its domain, loopback."""
    from wizard.answers import form_defaults

    host = machine.hostname.lower().rstrip(".")
    if "." not in host or host.endswith(".localdomain") or host.endswith(".local"):
        host_default, domain = ("", "")
    else:
        host_default, domain = host, host.split(".", 1)[1]
        if "." not in domain:  # mail.example -> use the host name's own domain anyway
            domain = host
    raw = form_defaults()
    raw.update(hostname=host_default, domain=domain)
    return raw


@dataclass
class StepState:
    """What the TUI knows about one step beyond the session (which holds the truth)."""

    log: List[Tuple[str, str]] = field(default_factory=list)
    """(line, rich style) pairs of the live log, kept across step screens."""
    checks: Optional[List[CheckResult]] = None
    error: str = ""
    output: str = ""
    local_status: str = ""
    """Status when there is no session (dry run): ``previewed`` or ``skipped``."""


@dataclass
class WizardContext:
    """Everything the screens share. Built by :func:`screens.app.make_app`."""

    platform: Platform
    executor: Executor
    machine: Machine
    recipes: Union[Sequence[Recipe], Callable[[], Sequence[Recipe]]]
    """The steps, handed down from the entry point (screens never import :mod:`recipes`), or
    the function that makes them: called once, when the steps are first needed
    (:meth:`recipe_list`), so the first screen does not wait for every step to import."""
    dry_run: bool = True
    dry_run_reason: str = ""
    session: Optional[Session] = None
    state_dir: Optional[Path] = None
    root: Path = Path("/")
    answers: Optional[Answers] = None
    raw: Dict[str, Any] = field(default_factory=dict)
    """The form's content (answers-file format), also for invalid or partial answers."""
    raw_errors: List[Tuple[str, str]] = field(default_factory=list)
    prefilled: bool = False
    """The form starts from a file or a session (show every problem at once)."""
    fresh_raw: Dict[str, Any] = field(default_factory=dict)
    """What "Start over" begins with: the --answers file or the machine defaults."""
    runbook_path: Optional[Path] = None
    rehearsal: bool = False
    """A rehearsal: the target is a scratch copy (``rehearsal_dir``), changed for real."""
    rehearsal_dir: Optional[Path] = None
    """The rehearsal's scratch directory (in a dry run: where a rehearsal would go; None:
    ``$TMPDIR/mailwizard-rehearsal-<platform>``)."""
    engine: Optional[Engine] = None
    plans: List[StepPlan] = field(default_factory=list)
    steps: Dict[str, StepState] = field(default_factory=dict)
    answers_saved_to: str = ""
    answers_unkept: bool = False
    """The form was edited since the answers were last kept: a restart would not show it."""
    answers_from_session: bool = False
    """The form starts from the session's answers (no --answers file was given)."""
    kept_loaded: bool = False
    """The form started from the answers kept at the last visit."""
    loader: Optional[Callable[[WizardContext], None]] = None
    """What fills in the form's starting content (``raw``, ``fresh_raw``, ``prefilled``,
    ``raw_errors``, ``answers_from_session``, ``kept_loaded``): reading and checking an
    answers file, the machine's defaults. The first screen needs none of it: it runs once,
    in the worker that preloads the later screens or at the first key that needs it
    (:meth:`load`), whichever comes first."""

    _recipes_lock: threading.Lock = field(default_factory=threading.Lock, init=False,
                                          repr=False, compare=False)
    _load_lock: threading.Lock = field(default_factory=threading.Lock, init=False,
                                       repr=False, compare=False)

    def load(self) -> bool:
        """Fill in the form's starting content if that is still to do (thread-safe: a key
        waits for the worker doing it); True when this call did it."""
        with self._load_lock:
            loader, self.loader = self.loader, None
            if loader is None:
                return False
            loader(self)
            return True

    def recipe_list(self) -> Sequence[Recipe]:
        """The steps (made now if the entry point handed a function; thread-safe)."""
        with self._recipes_lock:
            if callable(self.recipes):
                self.recipes = self.recipes()
            return self.recipes

    # ------------------------------------------------------------------ answers
    def existing_users(self) -> Optional[set]:  # type: ignore[type-arg]
        """Accounts on the target (None in a dry run: nothing is known about the target)."""
        if self.dry_run:
            return None
        return set(self.executor.users())

    def validate(self, raw: Dict[str, Any]) -> Tuple[Optional[Answers], List[Tuple[str, str]]]:
        """The CLI's validation (:func:`wizard.answers.parse_answers`) on the form's data."""
        from wizard.answers import parse_answers

        try:
            return parse_answers(raw, self.existing_users()), []
        except AnswersError as exc:
            return None, exc.errors

    def set_raw(self, raw: Dict[str, Any]) -> None:
        self.raw = copy.deepcopy(raw)

    def files_dir(self) -> Path:
        """Where saved answers and runbooks go unless the admin says otherwise: the state
        directory when there is one, else the home directory (never the current directory,
        which over SSH is often / or a system directory)."""
        if self.state_dir is not None and self.state_dir.is_dir():
            return self.state_dir
        return Path.home()

    def keep_answers(self, answers: Answers) -> Optional[Path]:
        """Keep ``answers`` (no secrets) for the next visit; None when they cannot be kept
        (a dry run without a state directory, or the directory is not writable)."""
        from wizard.kept import keep_answers

        if self.state_dir is None:
            return None
        try:
            path = keep_answers(self.state_dir, answers, may_create=not self.dry_run)
        except OSError:
            return None
        if path is not None:
            self.answers_unkept = False
        return path

    # ------------------------------------------------------------------ engine
    def make_engine(self, answers: Answers,
                    on_event: Optional[EventCallback] = None) -> Engine:
        """Create the engine for ``answers`` (reads facts from the target: call in a worker)."""
        from wizard.engine import Engine

        self.answers = answers
        self.engine = Engine(answers, self.platform, self.executor, session=self.session,
                             recipes=self.recipe_list(),
                             on_event=on_event)
        return self.engine

    def replan(self) -> List[StepPlan]:
        """Plan every step again (after an apply or rollback the target changed)."""
        assert self.engine is not None
        self.plans = self.engine.plan()
        for sp in self.plans:
            self.steps.setdefault(sp.id, StepState())
        return self.plans

    def dns_records(self) -> Optional[DnsPlan]:
        """The records to publish (read when shown: after an apply they hold the new DKIM
        key). A dry run reads nothing from the target: its addresses then come from the
        answers or stay a placeholder; otherwise one quick ``ip -o addr show``."""
        from wizard.dnsrecords.dkim import dkim_key
        from wizard.dnsrecords.gather import dns_plan, target_dns_plan

        if self.answers is None:
            return None
        if self.dry_run:
            return dns_plan(self.answers, (), dkim_key(self.answers))
        return target_dns_plan(self.executor, self.answers)

    def bind_session(self) -> None:
        """Record platform, root and answers (no secrets) before the first change."""
        if self.session is None or self.answers is None:
            return
        wanted = self.answers.to_dict()
        if (self.session.platform_id != self.platform.id or self.session.answers != wanted
                or self.session.data.get("root") != str(self.root)):
            self.session.bind(self.platform.id, str(self.root), wanted)

    # ------------------------------------------------------------------ status
    def state(self, step_id: str) -> StepState:
        return self.steps.setdefault(step_id, StepState())

    def status(self, sp: StepPlan) -> str:
        """``pending``, ``applied``, ``verified``, ``failed``, ``rolled-back``, ``skipped``,
        ``off`` (turned off in the answers), ``error`` (cannot plan) or ``previewed``."""
        if not sp.enabled:
            return "off"
        if sp.error:
            return "error"
        st = self.state(sp.id)
        if self.session is not None:
            status = self.session.step_status(sp.id)
            if status != "pending":
                return status
        return st.local_status or "pending"

    def statuses(self) -> List[str]:
        """Every step's status, in order (for :class:`screens.widgets.StepProgress`)."""
        return [self.status(sp) for sp in self.plans]

    def remaining(self) -> List[StepPlan]:
        """What "apply all" applies, in order: every enabled step not applied or skipped yet
        (pending, previewed, failed, rolled back, or not plannable, so it stops there)."""
        return [sp for sp in self.plans if sp.enabled and self.status(sp) not in NOT_REMAINING]

    def resume_index(self) -> int:
        """Where a returning admin picks up: the first step that failed or was interrupted,
        else the first one still to apply, else the first step."""
        for n, sp in enumerate(self.plans):
            if sp.enabled and self.status(sp) in ("failed", "interrupted"):
                return n
        todo = self.remaining()
        return self.plans.index(todo[0]) if todo else 0

    def apply_disabled(self) -> str:
        """Why Apply (and Apply all) cannot run here, or '' when they can."""
        if self.dry_run:
            return f"Dry run: Apply is disabled ({self.dry_run_reason or 'nothing is changed'})."
        return ""

    def enter_rehearsal(self, executor: Executor, session: Session, root: Path,
                        state_dir: Path, directory: Path) -> None:
        """From a dry run to a rehearsal: the scratch copy's executor and session; every plan
        and step state of the dry run is dropped (the answers stay)."""
        self.executor, self.session, self.root, self.state_dir = (
            executor, session, root, state_dir)
        self.dry_run, self.dry_run_reason = False, ""
        self.rehearsal, self.rehearsal_dir = True, directory
        self.engine, self.plans, self.steps = None, [], {}

    def rollback_hint(self) -> str:
        """The shell command that undoes everything this session did."""
        if self.rehearsal:
            cmd = f"mailwizard rollback --rehearse --platform {self.platform.id}"
            if self.rehearsal_dir is not None:
                cmd += f" --state-dir {self.rehearsal_dir}"
            return cmd
        cmd = "mailwizard rollback"
        if self.state_dir is not None and self.state_dir != DEFAULT_STATE_DIR:
            cmd += f" --state-dir {self.state_dir}"
        if str(self.root) != "/":
            cmd += f" --root {self.root}"
        return cmd

    def applied_entries(self) -> List[Dict[str, Any]]:
        if self.session is None:
            return []
        return self.session.entries(states=("done",))


def session_summary(session: Session) -> str:
    """One line about a session's progress for the welcome screen."""
    counts = session.progress()
    done = len(session.entries(states=("done",)))
    parts = [f"{n} {state}" for state, n in sorted(counts.items())]
    text = ", ".join(parts) if parts else "no step finished yet"
    text += f"; {done} change(s) applied and not undone"
    if session.unfinished():
        text += f"; {len(session.unfinished())} change(s) interrupted (resume finishes them)"
    return text
