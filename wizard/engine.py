"""The engine: plan, apply change by change with a journal, verify, roll back.

Both the CLI and the TUI drive this class; neither contains mail logic. Progress is reported
through ``on_event`` callbacks with small dataclass events, so the TUI can post them to its
message queue from a worker thread.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set

from .answers import Answers
from .changes import (
    Change,
    ChangeContext,
    Command,
    FileChange,
    Packages,
    Preview,
    UserGroup,
    View,
    change_types,
)
from .checks import CheckResult
from .errors import ExecutorError, MailwizardError, UsageError
from .executor import Executor
from .platforms import Platform
from .recipe import (
    Facts,
    PlanContext,
    Recipe,
    VerifyContext,
    effective_platform,
    gather_facts,
)
from .secret import Secret
from .session import Session


# --------------------------------------------------------------------------- events
@dataclass
class Event:
    step: str


@dataclass
class StepStarted(Event):
    title: str = ""


@dataclass
class ChangeDone(Event):
    index: int = 0
    description: str = ""
    outcome: str = "changed"
    """``changed``, ``unchanged``, ``resumed`` or ``failed``."""


@dataclass
class StepFinished(Event):
    status: str = "applied"
    changed: int = 0
    unchanged: int = 0
    error: str = ""


@dataclass
class LogLine(Event):
    line: str = ""


EventCallback = Callable[[Event], None]


# --------------------------------------------------------------------------- plans
@dataclass
class StepPlan:
    recipe: Recipe
    changes: List[Change] = field(default_factory=list)
    previews: List[Preview] = field(default_factory=list)
    enabled: bool = True
    error: str = ""

    @property
    def id(self) -> str:
        return self.recipe.id

    @property
    def changed(self) -> int:
        return sum(1 for p in self.previews if p.changed)


@dataclass
class StepResult:
    step: str
    status: str
    changed: int = 0
    unchanged: int = 0
    error: str = ""
    output: str = ""
    warnings: List[str] = field(default_factory=list)


@dataclass
class RollbackResult:
    undone: int = 0
    warnings: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    steps: List[str] = field(default_factory=list)


def default_recipes() -> List[Recipe]:
    from recipes import all_recipes

    return all_recipes()


class Engine:
    """Plans and applies the recipes for one target.

    Args:
        answers: the validated answers.
        platform: the profile (detected or chosen with ``--platform``).
        executor: where changes happen (a :class:`DryRunExecutor` for dry runs).
        session: journal and state; required for apply and rollback.
        recipes: the ordered steps (default: ``recipes.all_recipes()``).
        facts: facts about the target (default: read from it).
    """

    def __init__(self, answers: Answers, platform: Platform, executor: Executor,
                 session: Optional[Session] = None, recipes: Optional[Sequence[Recipe]] = None,
                 facts: Optional[Facts] = None,
                 on_event: Optional[EventCallback] = None) -> None:
        self.answers = answers
        self.base_platform = platform
        self.executor = executor
        self.session = session
        self.recipes: List[Recipe] = list(recipes) if recipes is not None else default_recipes()
        self.on_event = on_event or (lambda _e: None)
        self.facts = facts or gather_facts(executor, platform, dry_run=executor.dry_run)
        self.platform = effective_platform(platform, self.facts)
        self.secrets: Dict[str, Secret] = {
            u.name: u.password for u in answers.users if u.password is not None}
        self.cancelled = False
        """Set from another thread to stop between two changes."""
        self.last_view: Optional[View] = None
        """The planning view of the last :meth:`plan` call (final file contents)."""

    # ------------------------------------------------------------------ lookup
    def recipe(self, step_id: str) -> Recipe:
        for r in self.recipes:
            if r.id == step_id:
                return r
        raise UsageError(f"no step named {step_id!r}; steps: "
                          f"{', '.join(r.id for r in self.recipes)}")

    def _select(self, steps: Optional[Iterable[str]]) -> List[Recipe]:
        if steps is None:
            return list(self.recipes)
        wanted = list(steps)
        for s in wanted:
            self.recipe(s)
        return [r for r in self.recipes if r.id in wanted]

    def refresh_facts(self) -> None:
        self.facts = gather_facts(self.executor, self.base_platform,
                                  dry_run=self.executor.dry_run)
        self.platform = effective_platform(self.base_platform, self.facts)

    # ------------------------------------------------------------------ plan
    def plan(self, steps: Optional[Iterable[str]] = None) -> List[StepPlan]:
        """Plan every (selected) step against one evolving view of the target. Pure.

        Afterwards :attr:`last_view` holds that view: the final content of every file the
        plan writes (``last_view.files``, ``None`` = removed) as apply would leave it."""
        view = View(self.executor, self.platform)
        self.last_view = view
        plans = []
        selected = {r.id for r in self._select(steps)}
        for recipe in self.recipes:
            sp = StepPlan(recipe)
            if not recipe.enabled(self.answers):
                sp.enabled = False
            elif recipe.id in selected or steps is None:
                sp = self._plan_one(recipe, view)
            else:
                # earlier steps still shape the view of later ones
                self._plan_one(recipe, view)
                continue
            plans.append(sp)
        return plans

    def _plan_one(self, recipe: Recipe, view: View) -> StepPlan:
        sp = StepPlan(recipe)
        try:
            sp.changes = recipe.plan(PlanContext(self.answers, self.platform, self.facts, view))
            sp.previews = [c.preview(view) for c in sp.changes]
        except MailwizardError as exc:
            sp.error = str(exc)
        return sp

    # ------------------------------------------------------------------ apply
    def _ctx(self) -> ChangeContext:
        assert self.session is not None
        done = {tuple(e["record"]["argv"]) for e in self.session.entries(states=("done",))
                if e.get("kind") == "command" and e["record"].get("argv")}
        return ChangeContext(self.executor, self.platform, self.session.backups,
                             secrets=self.secrets, done_commands=done,
                             log=lambda m: self.on_event(LogLine("", m)))

    def apply(self, steps: Optional[Iterable[str]] = None,
              stop_on_error: bool = True) -> List[StepResult]:
        """Apply the (selected) enabled steps in order; stop at the first failure."""
        if self.session is None:
            raise MailwizardError("apply needs a session")
        results = []
        for recipe in self._select(steps):
            if self.cancelled:
                break
            if not recipe.enabled(self.answers):
                self.session.set_step(recipe.id, "skipped")
                results.append(StepResult(recipe.id, "skipped"))
                continue
            res = self.apply_step(recipe.id)
            results.append(res)
            if res.status == "failed" and stop_on_error:
                break
        return results

    def apply_step(self, step_id: str) -> StepResult:
        """Apply one step. On failure, this run's changes of the step are undone."""
        assert self.session is not None
        session = self.session
        recipe = self.recipe(step_id)
        self.on_event(StepStarted(step_id, recipe.title))
        ctx = self._ctx()
        view = View(self.executor, self.platform, use_stock=False)
        try:
            changes = recipe.plan(PlanContext(self.answers, self.platform, self.facts, view))
        except MailwizardError as exc:
            session.set_step(step_id, "failed", error=str(exc))
            self.on_event(StepFinished(step_id, "failed", error=str(exc)))
            return StepResult(step_id, "failed", error=str(exc))
        this_run: List[Dict] = []  # type: ignore[type-arg]
        changed = unchanged = 0
        installed = False
        try:
            # finish what a crash interrupted
            for entry in [e for e in session.unfinished() if e["step"] == step_id]:
                idx = entry["change"]
                if idx >= len(changes) or type(changes[idx]).__name__ != entry.get("type"):
                    raise ExecutorError(
                        f"cannot resume {step_id}: the plan changed since the interrupted run; "
                        "roll the step back first")
                ctx.key = entry["key"]
                entry["record"]["resumed"] = True
                changes[idx].commit(ctx, entry["record"])
                session.finish_entry(entry)
                this_run.append(entry)
                ctx.changed_paths.update(changes[idx].touched_paths())
                changed += 1
                self.on_event(ChangeDone(step_id, idx, changes[idx].describe(), "resumed"))
            for idx, change in enumerate(changes):
                if self.cancelled:
                    raise KeyboardInterrupt
                if any(e["change"] == idx for e in this_run):
                    continue
                ctx.key = session.next_key()
                rec = change.prepare(ctx)
                if rec is None:
                    unchanged += 1
                    self.on_event(ChangeDone(step_id, idx, change.describe(), "unchanged"))
                    continue
                entry = session.start_entry(step_id, idx, change.kind, change.describe(),
                                            ctx.key, rec, type(change).__name__)
                this_run.append(entry)
                change.commit(ctx, rec)
                session.finish_entry(entry)
                ctx.changed_paths.update(change.touched_paths())
                changed += 1
                installed = installed or isinstance(change, Packages)
                self.on_event(ChangeDone(step_id, idx, change.describe(), "changed"))
        except (MailwizardError, OSError, KeyboardInterrupt) as exc:
            output = getattr(exc, "output", "")
            message = str(exc) if not isinstance(exc, KeyboardInterrupt) else "interrupted"
            if isinstance(exc, OSError):
                message = f"{exc.__class__.__name__}: {exc}"
            warnings = self._undo_entries(ctx, this_run, failed_last=True)
            session.set_step(step_id, "failed", error=message)
            self.on_event(StepFinished(step_id, "failed", changed, unchanged, message))
            if isinstance(exc, KeyboardInterrupt):
                raise
            return StepResult(step_id, "failed", changed, unchanged, message, output, warnings)
        except Exception as exc:  # a bug: still leave the system as it was
            warnings = self._undo_entries(ctx, this_run, failed_last=True)
            message = f"internal error: {exc!r}"
            session.set_step(step_id, "failed", error=message)
            self.on_event(StepFinished(step_id, "failed", changed, unchanged, message))
            return StepResult(step_id, "failed", changed, unchanged, message,
                              traceback.format_exc(), warnings)
        session.set_step(step_id, "applied", changed=changed, unchanged=unchanged, error="")
        if installed or any(isinstance(c, Packages) for c in changes):
            self.refresh_facts()
        self.on_event(StepFinished(step_id, "applied", changed, unchanged))
        return StepResult(step_id, "applied", changed, unchanged)

    def _undo_entries(self, ctx: ChangeContext, entries: List[Dict], failed_last: bool = False,
                      force: bool = False) -> List[str]:  # type: ignore[type-arg]
        """Undo journal entries in reverse order; marks them ``undone``."""
        assert self.session is not None
        types = change_types()
        warnings: List[str] = []
        for n, entry in enumerate(reversed(entries)):
            cls = types.get(entry.get("type", ""))
            if cls is None:
                warnings.append(f"unknown change type in journal: {entry.get('type')}")
                continue
            partial = failed_last and n == 0 and entry["state"] == "started"
            if partial and not issubclass(cls, FileChange) and issubclass(
                    cls, (Command, UserGroup, Packages)):
                # a command that failed did not do its work: nothing to undo
                self.session.finish_entry(entry, "failed")
                continue
            try:
                warnings.extend(cls.undo_record(ctx, entry["record"], force))  # type: ignore
                self.session.finish_entry(entry, "undone")
            except (MailwizardError, OSError) as exc:
                warnings.append(f"could not undo '{entry['desc']}': {exc}")
        return warnings

    # ------------------------------------------------------------------ verify
    def verify(self, steps: Optional[Iterable[str]] = None,
               probe_host: str = "127.0.0.1") -> Dict[str, List[CheckResult]]:
        out: Dict[str, List[CheckResult]] = {}
        vctx = VerifyContext(self.answers, self.platform, self.facts, self.executor,
                             probe_host=probe_host)
        for recipe in self._select(steps):
            if not recipe.enabled(self.answers):
                continue
            try:
                results = recipe.verify(vctx)
            except (MailwizardError, OSError) as exc:
                results = [CheckResult(f"{recipe.id} checks", False, str(exc),
                                       "the checks themselves failed to run")]
            out[recipe.id] = results
            if self.session is not None and self.session.step_status(recipe.id) in (
                    "applied", "verified"):
                ok = all(r.ok is not False for r in results)
                self.session.set_step(recipe.id, "verified" if ok else "applied",
                                      checks=[r.to_dict() for r in results])
        return out

    # ------------------------------------------------------------------ rollback
    def rollback(self, steps: Optional[Iterable[str]] = None,
                 force: bool = False) -> RollbackResult:
        """Undo the journal (of the given steps, or everything) in reverse order."""
        if self.session is None:
            raise MailwizardError("rollback needs a session")
        wanted: Optional[Set[str]] = set(steps) if steps is not None else None
        entries = [e for e in self.session.entries()
                   if wanted is None or e["step"] in wanted]
        ctx = self._ctx()
        result = RollbackResult()
        types = change_types()
        for entry in reversed(entries):
            cls = types.get(entry.get("type", ""))
            if cls is None:
                result.errors.append(f"unknown change type {entry.get('type')!r}")
                continue
            try:
                result.warnings.extend(
                    cls.undo_record(ctx, entry["record"], force))  # type: ignore[attr-defined]
                self.session.finish_entry(entry, "undone")
                result.undone += 1
            except (MailwizardError, OSError) as exc:
                result.errors.append(f"{entry['step']}: {entry['desc']}: {exc}")
        steps_done = sorted({e["step"] for e in entries})
        for s in steps_done:
            self.session.set_step(s, "rolled-back" if not result.errors else "failed")
        result.steps = steps_done
        return result
