"""The engine: plan, apply change by change with a journal, verify, roll back.

Both the CLI and the TUI drive this class; neither contains mail logic. Progress is reported
through ``on_event`` callbacks with small dataclass events (:mod:`wizard.events`, re-exported
here), so the TUI can post them to its message queue from a worker thread. Undoing journal
entries and rollback live in :mod:`wizard.rollback`; running steps and their checks for a front
end in :mod:`wizard.run`. The engine receives its recipes: the core never imports them.
"""

from __future__ import annotations

import contextlib
import traceback
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from .answers import Answers
from .changes import (
    Change,
    ChangeContext,
    View,
    journal_type,
)
from .checks import CheckResult, network_off, not_checked
from .drift import edited_by_hand, keep_edits, ours_written, soften_checks
from .errors import ExecutorError, MailwizardError, UsageError
from .events import (
    ChangeDone,
    Event,
    EventCallback,
    LogLine,
    RollbackResult,
    StepFinished,
    StepInterrupted,
    StepPlan,
    StepResult,
    StepStarted,
)
from .executor import Executor, NotCheckedInRehearsal
from .platforms import Platform
from .recipe import (
    Facts,
    PlanContext,
    Recipe,
    VerifyContext,
    effective_platform,
    gather_facts,
)
from .rollback import (
    TEMP_NAME,
    clean_temp_files,
    finish_entry,
    rollback_journal,
    undo_entries,
)
from .rollback import timed_out as _timed_out
from .secret import RELAY_SECRET, Secret
from .session import DEFAULT_STATE_DIR, Session, state_dir_on_target

__all__ = ["ChangeDone", "Engine", "Event", "EventCallback", "LogLine", "RollbackResult",
           "StepFinished", "StepInterrupted", "StepPlan", "StepResult", "StepStarted",
           "TEMP_NAME"]


class Engine:
    """Plans and applies the recipes for one target.

    Args:
        answers: the validated answers.
        platform: the profile (detected or chosen with ``--platform``).
        executor: where changes happen (a :class:`DryRunExecutor` for dry runs).
        session: journal and state; required for apply and rollback.
        recipes: the ordered steps (the entry point passes ``recipes.all_recipes()``; the
            core never imports the steps it runs).
        facts: facts about the target (default: read from it).
    """

    def __init__(self, answers: Answers, platform: Platform, executor: Executor,
                 session: Optional[Session] = None, *, recipes: Sequence[Recipe],
                 facts: Optional[Facts] = None,
                 on_event: Optional[EventCallback] = None) -> None:
        self.answers = answers
        self.base_platform = platform
        self.executor = executor
        self.session = session
        self.recipes: List[Recipe] = list(recipes)
        self.on_event = on_event or (lambda _e: None)
        self.facts = facts or gather_facts(executor, platform, dry_run=executor.dry_run)
        self._note_state_dir()
        self.platform = effective_platform(platform, self.facts)
        self.secrets: Dict[str, Secret] = {
            u.name: u.password for u in answers.users if u.password is not None}
        if answers.relay_password is not None:
            # ':' is in no user name: this key never collides with an account's password
            self.secrets[RELAY_SECRET] = answers.relay_password
        self.cancelled = False
        """Set from another thread to stop between two changes."""
        self.last_view: Optional[View] = None
        """The planning view of the last :meth:`plan` call (final file contents)."""
        self.overwrite_edits = False
        """Set main.cf parameters edited by hand since mailwizard set them back to the
        answers' values (by default such hand edits are kept: :mod:`wizard.drift`)."""

    # ------------------------------------------------------------------ lookup
    def recipe(self, step_id: str) -> Recipe:
        for r in self.recipes:
            if r.id == step_id:
                return r
        raise UsageError(f"no step named {step_id!r}; steps: "
                          f"{', '.join(r.id for r in self.recipes)}")

    def select(self, steps: Optional[Iterable[str]]) -> List[Recipe]:
        """The recipes named in ``steps`` (all when None), in run order.

        Raises:
            UsageError: a name is not a step.
        """
        if steps is None:
            return list(self.recipes)
        wanted = list(steps)
        for s in wanted:
            self.recipe(s)
        return [r for r in self.recipes if r.id in wanted]

    def refresh_facts(self) -> None:
        self.facts = gather_facts(self.executor, self.base_platform,
                                  dry_run=self.executor.dry_run)
        self._note_state_dir()
        self.platform = effective_platform(self.base_platform, self.facts)

    def _note_state_dir(self) -> None:
        """:attr:`Facts.state_dir`: the session's directory as the target sees it (inside
        the target's root), when it is not the default ``/var/lib/mailwizard``."""
        if self.session is None or self.facts.state_dir:
            return
        found = state_dir_on_target(self.session.dir, getattr(self.executor, "root", None))
        if found != DEFAULT_STATE_DIR:
            self.facts.state_dir = found

    # ------------------------------------------------------------------ plan
    def plan(self, steps: Optional[Iterable[str]] = None) -> List[StepPlan]:
        """Plan every (selected) step against one evolving view of the target. Pure.

        Afterwards :attr:`last_view` holds that view: the final content of every file the
        plan writes (``last_view.files``, ``None`` = removed) as apply would leave it."""
        view = View(self.executor, self.platform)
        self.last_view = view
        plans = []
        selected = {r.id for r in self.select(steps)}
        for recipe in self.recipes:
            sp = StepPlan(recipe)
            if not recipe.enabled_for(self.answers, self.platform):
                if recipe.enabled(self.answers):
                    continue  # not needed here (EPEL off EL, no relayhost): left out
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
            sp.changes = self._planned(recipe, view)
            sp.previews = [c.preview(view) for c in sp.changes]
        except MailwizardError as exc:
            sp.error = str(exc)
        return sp

    def _planned(self, recipe: Recipe, view: View) -> List[Change]:
        """The recipe's plan, keeping hand edits (main.cf, Dovecot) made since the last
        apply."""
        changes = recipe.plan(PlanContext(self.answers, self.platform, self.facts, view))
        ours = ours_written(self.session)
        if not ours:
            return changes
        return keep_edits(changes, self.executor, self.platform, ours, self.overwrite_edits)

    # ------------------------------------------------------------------ apply
    def _ctx(self) -> ChangeContext:
        assert self.session is not None
        session = self.session
        done = {tuple(e["record"]["argv"]) for e in session.entries(states=("done",))
                if e.get("kind") == "command" and e["record"].get("argv")}
        return ChangeContext(self.executor, self.platform, session.backups,
                             secrets=self.secrets, done_commands=done,
                             log=lambda m: self.on_event(LogLine("", m)),
                             persist=session.save)

    def apply(self, steps: Optional[Iterable[str]] = None, stop_on_error: bool = True,
              after_step: Optional[Callable[[StepResult], None]] = None) -> List[StepResult]:
        """Apply the (selected) enabled steps in order; stop at the first failure.

        ``after_step`` is called with each step's result before the next step starts (how
        :func:`wizard.run.apply_and_verify` checks a step right after it is applied).

        Raises :class:`StepInterrupted` (a KeyboardInterrupt) when :attr:`cancelled` is set
        or Ctrl-C arrives inside a step: the step's finished changes stay applied."""
        if self.session is None:
            raise MailwizardError("apply needs a session")
        results = []
        for recipe in self.select(steps):
            if self.cancelled:  # between two steps: nothing of this one was done
                raise StepInterrupted(recipe.id, "", graceful=True)
            if not recipe.enabled_for(self.answers, self.platform):
                self.session.set_step(recipe.id, "skipped")
                res = StepResult(recipe.id, "skipped")
            else:
                res = self.apply_step(recipe.id)
            results.append(res)
            if after_step is not None:
                after_step(res)
            if res.status == "failed" and stop_on_error:
                break
        return results

    # -- matching the journal of an interrupted run to the plan
    def _match(self, changes: Sequence[Change], entry: Dict[str, Any],
               taken: Set[int]) -> Optional[int]:
        """The index of the planned change an entry was journaled for: same type and
        description, at the journaled index when possible (a plan may shift)."""
        def same(i: int) -> bool:
            c = changes[i]
            return (i not in taken and journal_type(c) == entry.get("type")
                    and c.describe() == entry.get("desc"))
        idx = entry.get("change")
        if isinstance(idx, int) and 0 <= idx < len(changes) and same(idx):
            return idx
        hits = [i for i in range(len(changes)) if same(i)]
        return hits[0] if len(hits) == 1 else None

    def _interrupted_run(self, step_id: str) -> List[Dict[str, Any]]:
        """Entries of this step from a run that did not finish it (done or started)."""
        assert self.session is not None
        since = self.session.run_start(step_id)
        if since is None:
            return [e for e in self.session.unfinished() if e["step"] == step_id]
        return [e for e in self.session.entries(step_id)
                if e["state"] == "started" or (str(e["key"]).isdigit()
                                               and int(e["key"]) >= since)]

    def apply_step(self, step_id: str) -> StepResult:
        """Apply one step. On failure, the step's changes (of this run and of an interrupted
        one it resumed) are undone; on an interruption they are kept for a resume."""
        assert self.session is not None
        session = self.session
        recipe = self.recipe(step_id)
        self.on_event(StepStarted(step_id, recipe.title))
        ctx = self._ctx()
        view = View(self.executor, self.platform, use_stock=False)
        try:
            changes = self._planned(recipe, view)
        except MailwizardError as exc:
            session.set_step(step_id, "failed", error=str(exc))
            self.on_event(StepFinished(step_id, "failed", error=str(exc)))
            return StepResult(step_id, "failed", error=str(exc))
        this_run: List[Dict[str, Any]] = []
        taken: Dict[int, Dict[str, Any]] = {}
        changed = unchanged = 0
        installed = False
        current = ""
        try:
            prior = self._interrupted_run(step_id)
            if prior:
                self.clean_temp_files(ctx, prior)
            for entry in prior:
                idx = self._match(changes, entry, set(taken))
                if idx is None:
                    if entry["state"] == "started":
                        raise ExecutorError(
                            f"cannot resume {step_id}: the plan changed since the interrupted "
                            f"run ('{entry['desc']}' is no longer planned); roll the step "
                            "back first")
                    continue
                taken[idx] = entry
                if entry["state"] == "done":
                    ctx.changed_paths.update(changes[idx].touched_paths())
            this_run.extend(prior)  # a failure from here on undoes the whole step
            # finish what a crash interrupted
            for idx, entry in sorted(taken.items()):
                if entry["state"] != "started":
                    continue
                change = changes[idx]
                current = change.describe()
                ctx.key = entry["key"]
                entry["record"]["resumed"] = True
                change.commit(ctx, entry["record"])
                self._finish(ctx, entry, "done")
                ctx.changed_paths.update(change.touched_paths())
                changed += 1
                installed = installed or change.installs_software
                self.on_event(ChangeDone(step_id, idx, current, "resumed"))
            if any(e["state"] == "done" for e in taken.values()) and any(
                    i not in taken for i in range(len(changes))):
                # plan the rest again against the target as the interrupted run left it:
                # a change planned from content made at plan time (a certificate for a new
                # key) must follow what the resumed entries really wrote (the journaled key)
                changes, taken = self._replan(recipe, list(taken.values()))
            for idx, change in enumerate(changes):
                current = change.describe()
                if self.cancelled:
                    raise StepInterrupted(step_id, current, graceful=True)
                if idx in taken and not (change.recheck_on_resume
                                         and taken[idx]["state"] == "done"):
                    continue
                ctx.key = session.next_key()
                rec = change.prepare(ctx)
                if rec is None:
                    unchanged += 1
                    self.on_event(ChangeDone(step_id, idx, current, "unchanged"))
                    continue
                entry = session.start_entry(step_id, idx, change.kind, current,
                                            ctx.key, rec, journal_type(change))
                this_run.append(entry)
                change.commit(ctx, rec)
                self._finish(ctx, entry, "done")
                ctx.changed_paths.update(change.touched_paths())
                changed += 1
                installed = installed or change.installs_software
                self.on_event(ChangeDone(step_id, idx, current, "changed"))
        except KeyboardInterrupt as exc:
            # stop here and keep everything: a started entry stays "started" for a resume
            # (re-checked by its probe) or a rollback (undone when its probe says it ran)
            graceful = isinstance(exc, StepInterrupted) and exc.graceful
            where = current or "the start of the step"
            session.set_step(step_id, "interrupted", change=where, changed=changed,
                             error="stopped by the admin" if graceful else "interrupted")
            self.on_event(StepFinished(step_id, "interrupted", changed, unchanged,
                                       f"stopped at '{where}'; run apply again to resume"))
            if isinstance(exc, StepInterrupted):
                raise
            raise StepInterrupted(step_id, where, graceful=False) from exc
        except (MailwizardError, OSError) as exc:
            output = getattr(exc, "output", "")
            message = str(exc)
            if isinstance(exc, OSError):
                message = f"{exc.__class__.__name__}: {exc}"
            warnings = self._undo_entries(ctx, this_run, failed_last=True,
                                          timed_out=_timed_out(exc))
            session.set_step(step_id, "failed", error=message)
            self.on_event(StepFinished(step_id, "failed", changed, unchanged, message))
            return StepResult(step_id, "failed", changed, unchanged, message, output, warnings)
        except Exception as exc:  # a bug: still leave the system as it was
            warnings = self._undo_entries(ctx, this_run, failed_last=True)
            message = f"internal error: {exc!r}"
            session.set_step(step_id, "failed", error=message)
            self.on_event(StepFinished(step_id, "failed", changed, unchanged, message))
            return StepResult(step_id, "failed", changed, unchanged, message,
                              traceback.format_exc(), warnings)
        session.set_step(step_id, "applied", changed=changed, unchanged=unchanged, error="")
        if installed or any(c.installs_software for c in changes):
            self.refresh_facts()
        self.on_event(StepFinished(step_id, "applied", changed, unchanged))
        return StepResult(step_id, "applied", changed, unchanged)

    def _replan(self, recipe: Recipe, done: List[Dict[str, Any]]
                ) -> Tuple[List[Change], Dict[int, Dict[str, Any]]]:
        view = View(self.executor, self.platform, use_stock=False)
        changes = self._planned(recipe, view)
        taken: Dict[int, Dict[str, Any]] = {}
        for entry in done:
            idx = self._match(changes, entry, set(taken))
            if idx is not None:
                taken[idx] = entry
        return changes, taken

    def _finish(self, ctx: ChangeContext, entry: Dict[str, Any], state: str) -> None:
        """Mark an entry, then drop what only a resume needed (a pending key copy)."""
        assert self.session is not None
        finish_entry(self.session, ctx, entry, state)

    def clean_temp_files(self, ctx: ChangeContext, entries: Iterable[Dict[str, Any]]) -> List[str]:
        """See :func:`wizard.rollback.clean_temp_files`."""
        return clean_temp_files(ctx, entries)

    def _undo_entries(self, ctx: ChangeContext, entries: List[Dict[str, Any]],
                      failed_last: bool = False, force: bool = False,
                      timed_out: bool = False) -> List[str]:
        """Undo journal entries in reverse order; marks them ``undone``."""
        assert self.session is not None
        return undo_entries(self.session, ctx, entries, failed_last=failed_last, force=force,
                            timed_out=timed_out)

    # ------------------------------------------------------------------ verify
    def verify(self, steps: Optional[Iterable[str]] = None,
               probe_host: str = "127.0.0.1") -> Dict[str, List[CheckResult]]:
        """Run the (selected) steps' checks; the session records the outcome.

        In a rehearsal (``executor.rehearsal``) nothing runs on this machine: a check that
        needs a command, a daemon or a port is reported as not checked (SKIP), never passed,
        and a step with such a check stays "applied" rather than "verified"."""
        out: Dict[str, List[CheckResult]] = {}
        vctx = VerifyContext(self.answers, self.platform, self.facts, self.executor,
                             probe_host=probe_host)
        rehearsal = self.executor.rehearsal
        with self.executor.probe_cache():
            self._verify_into(out, vctx, steps, rehearsal)
        return out

    def _verify_into(self, out: Dict[str, List[CheckResult]], vctx: VerifyContext,
                     steps: Optional[Iterable[str]], rehearsal: bool) -> None:
        edited = edited_by_hand(self.executor, self.platform, ours_written(self.session))
        for recipe in self.select(steps):
            if not recipe.enabled_for(self.answers, self.platform):
                continue
            try:
                with self.executor.checking(), (
                        network_off() if rehearsal else contextlib.nullcontext()):
                    results = recipe.verify(vctx)
            except NotCheckedInRehearsal as exc:
                results = [not_checked(f"{recipe.id} checks", f"the running system: {exc}")]
            except (MailwizardError, OSError) as exc:
                results = [CheckResult(f"{recipe.id} checks", False, str(exc),
                                       "the checks themselves failed to run")]
            if edited:
                results = soften_checks(results, edited)
            out[recipe.id] = results
            if self.session is not None and self.session.step_status(recipe.id) in (
                    "applied", "verified"):
                ok = all(r.ok is not False and not r.not_checked for r in results)
                self.session.set_step(recipe.id, "verified" if ok else "applied",
                                      checks=[r.to_dict() for r in results])

    # ------------------------------------------------------------------ rollback
    def rollback(self, steps: Optional[Iterable[str]] = None,
                 force: bool = False) -> RollbackResult:
        """Undo the journal (of the given steps, or everything) in reverse order; stops
        between two undos when :attr:`cancelled` is set (see :mod:`wizard.rollback`)."""
        if self.session is None:
            raise MailwizardError("rollback needs a session")
        return rollback_journal(self.session, self._ctx(), steps, force,
                                lambda: self.cancelled)
