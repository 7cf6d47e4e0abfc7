"""Apply steps and check them: the one run behind the CLI's ``apply`` and the TUI's Apply.

:func:`apply_and_verify` applies the selected steps in order through
:meth:`Engine.apply <wizard.engine.Engine.apply>` (each with its journal; the run stops at the
first step that fails, its changes of this run undone, the steps before it kept) and runs the
checks: right after each step (the TUI shows them as it goes), or once every step is applied
(the CLI reports the finished system). Progress reaches the front end through ``on_progress``
with small dataclasses; the engine's own events still go to ``engine.on_event``. The one stop
flag is ``engine.cancelled`` (set by the CLI's signal handler and by the TUI's Ctrl+C).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Union

from .checks import CheckResult
from .engine import Engine
from .events import StepResult


@dataclass(frozen=True)
class StepDone:
    """One step of the run finished (``applied``, ``failed`` or ``skipped``)."""

    index: int
    """1-based position in the run."""
    total: int
    result: StepResult
    checks: Optional[List[CheckResult]] = None
    """Its checks when they ran right after it (``verify_each``), else None."""


@dataclass(frozen=True)
class ChecksStarting:
    """Every step is applied; the checks of the whole run begin (not with ``verify_each``)."""

    steps: List[str] = field(default_factory=list)


Progress = Union[StepDone, ChecksStarting]
ProgressCallback = Callable[[Progress], None]


@dataclass
class RunOutcome:
    """What :func:`apply_and_verify` (or :func:`verify_steps`) did."""

    results: List[StepResult] = field(default_factory=list)
    """One per step that was reached, in order; the last one failed when the run stopped."""
    checks: Dict[str, List[CheckResult]] = field(default_factory=dict)
    """step id -> its checks (only steps whose checks ran)."""
    stopped_before_checks: bool = False
    """A stop request arrived after the last step and before the checks (none ran)."""
    checks_stopped: bool = False
    """A stop request arrived during the checks: some may be missing."""

    @property
    def failed(self) -> Optional[StepResult]:
        return next((r for r in self.results if r.status == "failed"), None)


def _ignore(_progress: Progress) -> None:
    pass


def _import_dns_early(every_step: bool) -> None:
    """Import dnspython in a thread while a run of every step waits for its first commands:
    the DNS checks need it, and importing it (with ``importlib.metadata``, which it asks for
    the versions of optional packages) is some 50-100 ms of a run's wall time on a small
    server. Python's import locks make the checks wait for the import if it has not
    finished; a failure here is the checks' to report. A run of chosen steps (``--step
    aliases``) may need no DNS check: it imports dnspython when one asks (its modules are
    some 5 MiB of memory)."""
    import threading

    if not every_step:
        return

    def load() -> None:
        try:
            import dns.resolver  # noqa: F401
        except Exception:  # noqa: BLE001, S110 - the DNS checks import it again and say why
            pass

    threading.Thread(target=load, name="mw-import-dns").start()


def apply_and_verify(engine: Engine, steps: Optional[Iterable[str]] = None, *,
                     verify_each: bool = True, probe_host: str = "127.0.0.1",
                     on_progress: ProgressCallback = _ignore) -> RunOutcome:
    """Apply the selected steps (all when ``steps`` is None) in order, then check them.

    A step turned off in the answers is recorded as skipped. The run stops at the first step
    that fails; its checks do not run, and with ``verify_each`` off no check runs at all.
    ``engine.cancelled`` stops it: between or inside steps by raising
    :class:`~wizard.events.StepInterrupted`, after the last step or between two checks by
    returning with ``stopped_before_checks`` or ``checks_stopped``.

    Args:
        engine: an engine with a session.
        steps: step ids to run; they run in the recipes' order whatever the order given.
        verify_each: check each step right after it is applied (the TUI); otherwise check
            every step once all of them are applied (the CLI).
        probe_host: address for the network checks.
        on_progress: told about each finished step and when the final checks start.

    Raises:
        StepInterrupted: stopped between or inside steps; finished changes stay applied.
        MailwizardError: the engine has no session, or a step id is unknown.
    """
    selected = [r.id for r in engine.select(list(steps) if steps is not None else None)]
    outcome = RunOutcome()
    # one probe cache for the run: the checks reuse what the changes asked (see probecache),
    # and the validators this apply ran or found satisfied (Executor.validated)
    engine.executor.validated.clear()
    try:
        _import_dns_early(steps is None)
        return _apply_and_verify(engine, selected, outcome, verify_each, probe_host,
                                 on_progress)
    finally:
        engine.executor.validated.clear()


def _apply_and_verify(engine: Engine, selected: List[str], outcome: RunOutcome,
                      verify_each: bool, probe_host: str,
                      on_progress: ProgressCallback) -> RunOutcome:
    def after_step(res: StepResult) -> None:
        checks = None
        if verify_each and res.status == "applied":
            checks = engine.verify([res.step], probe_host=probe_host).get(res.step, [])
            outcome.checks[res.step] = checks
        outcome.results.append(res)
        on_progress(StepDone(len(outcome.results), len(selected), res, checks))

    with engine.executor.probe_cache():
        engine.apply(selected, after_step=after_step)
        if verify_each:
            return outcome
        if engine.cancelled:
            outcome.stopped_before_checks = True
            return outcome
        if outcome.failed is not None:
            return outcome
        on_progress(ChecksStarting(selected))
        checked = verify_steps(engine, selected, probe_host=probe_host)
    outcome.checks, outcome.checks_stopped = checked.checks, checked.checks_stopped
    return outcome


def verify_steps(engine: Engine, steps: Optional[Iterable[str]] = None, *,
                 probe_host: str = "127.0.0.1") -> RunOutcome:
    """Only the checks (the ``verify`` verb), one step at a time so that
    ``engine.cancelled`` ends them between two steps (``checks_stopped``)."""
    outcome = RunOutcome()
    _import_dns_early(steps is None)
    with engine.executor.probe_cache():  # checks change nothing: one answer per probe
        for recipe in engine.select(steps):
            if engine.cancelled:
                break
            outcome.checks.update(engine.verify([recipe.id], probe_host=probe_host))
    outcome.checks_stopped = engine.cancelled
    return outcome
