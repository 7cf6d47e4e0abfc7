"""Undoing the journal: one entry, a failed step's entries, or a whole rollback.

The engine calls these when a step fails (its changes of this run are undone) and for
``rollback``; they read and mark entries in the :class:`~wizard.session.Session` and ask each
entry's change type to undo its record. Also here: removing the temp files a write killed
before its rename left behind.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

from .answer_edits import revert_edits
from .changes import Change, ChangeContext, change_types
from .errors import CommandFailed, MailwizardError
from .events import RollbackResult
from .session import Session

TEMP_NAME = re.compile(r"\.mw-[A-Za-z0-9_]{8}")
"""Names of the temp files ``Executor.write_atomic`` writes next to a target."""


def timed_out(exc: BaseException) -> bool:
    """Whether ``exc`` is a command killed by its time limit (its effect is unknown)."""
    return isinstance(exc, CommandFailed) and exc.returncode == 124 and "timed out" in str(exc)


def finish_entry(session: Session, ctx: ChangeContext, entry: Dict[str, Any],
                 state: str) -> None:
    """Mark an entry, then drop what only a resume needed (a pending key copy)."""
    session.finish_entry(entry, state)
    cls = change_types().get(entry.get("type", ""))
    if cls is not None:
        cls.settle(ctx, entry["record"])  # type: ignore[attr-defined]


def clean_temp_files(ctx: ChangeContext, entries: Iterable[Dict[str, Any]]) -> List[str]:
    """Remove stray ``.mw-*`` temp files (a write killed before its rename; they may hold
    a private key) next to every path the entries name, and the saved copies of content
    that finished entries no longer need. Returns the removed target paths."""
    ex = ctx.executor
    removed: List[str] = []
    dirs: Set[str] = set()
    types = change_types()
    for entry in entries:
        rec = entry.get("record") or {}
        for key in ("path", "creates"):
            if isinstance(rec.get(key), str) and rec[key].startswith("/"):
                dirs.add(os.path.dirname(rec[key]))
        cls = types.get(entry.get("type", ""))
        if entry.get("state") in ("done", "undone", "failed") and cls is not None:
            cls.settle(ctx, rec)  # type: ignore[attr-defined]
    for d in sorted(dirs):
        for name in ex.listdir(d):
            target = os.path.join(d, name)
            st = ex.stat(target)
            if TEMP_NAME.fullmatch(name) and st is not None and not st.is_dir:
                ex.remove(target)
                removed.append(target)
    if removed:
        ctx.log("removed stray temp files of an interrupted write: " + ", ".join(removed))
    return removed


def undo_one(session: Session, ctx: ChangeContext, entry: Dict[str, Any], force: bool,
             failed_last: bool = False, timed_out: bool = False) -> Tuple[str, List[str]]:
    """Undo one entry: (``undone``/``failed``/``started``/``unknown``, warnings).

    An entry left ``started`` (interrupted in flight) is undone only when its change's
    probe says it took effect (or cannot tell); otherwise it is marked ``failed``: it did
    not do its work. A failed command whose effect is unknown and that timed out stays
    ``started`` (a resume re-runs it, a rollback undoes it)."""
    cls = change_types().get(entry.get("type", ""))
    if cls is None:
        return "unknown", [f"unknown change type in journal: {entry.get('type')}"]
    if entry["state"] == "started":
        effect = cls.took_effect(ctx, entry["record"])  # type: ignore[attr-defined]
        runs = getattr(cls, "kind", "") in ("command", "account", "packages")
        if effect is False or (effect is None and failed_last and not timed_out and runs):
            finish_entry(session, ctx, entry, "failed")
            return "failed", []
        if effect is None and failed_last and timed_out:
            return "started", [f"'{entry['desc']}' timed out: it is kept as interrupted "
                               "(apply resumes it, rollback undoes it)"]
    warnings = cls.undo_record(ctx, entry["record"], force)  # type: ignore[attr-defined]
    finish_entry(session, ctx, entry, "undone")
    return "undone", list(warnings)


def undo_entries(session: Session, ctx: ChangeContext, entries: List[Dict[str, Any]],
                 failed_last: bool = False, force: bool = False,
                 timed_out: bool = False) -> List[str]:
    """Undo journal entries in reverse order; marks them ``undone``."""
    warnings: List[str] = []
    live = [e for e in entries if e["state"] in ("done", "started")]
    for n, entry in enumerate(reversed(live)):
        try:
            _state, w = undo_one(session, ctx, entry, force, failed_last and n == 0,
                                 timed_out)
            warnings.extend(w)
        except (MailwizardError, OSError) as exc:
            warnings.append(f"could not undo '{entry['desc']}': {exc}")
    return warnings


def rollback_journal(session: Session, ctx: ChangeContext, steps: Optional[Iterable[str]],
                     force: bool, cancelled: Callable[[], bool]) -> RollbackResult:
    """Undo the journal (of the given steps, or everything) in reverse order.

    ``cancelled`` is asked between two undos: when it says so the rollback stops there and
    the journal keeps the rest for the next run."""
    wanted: Optional[Set[str]] = set(steps) if steps is not None else None
    entries = [e for e in session.entries()
               if wanted is None or e["step"] in wanted]
    result = RollbackResult()
    clean_temp_files(ctx, [e for e in session.journal
                           if wanted is None or e["step"] in wanted])
    with _AheadUndos(ctx) as ahead:
        _undo_in_order(session, ctx, list(reversed(entries)), force, cancelled, result, ahead)
    left = {e["step"] for e in entries if e["state"] in ("done", "started")}

    steps_done = sorted({e["step"] for e in entries} - (left if result.stopped else set()))
    for s in steps_done:
        session.set_step(s, "rolled-back" if not result.errors else "failed")
    result.steps = steps_done
    if not result.errors and not result.stopped:
        # a verb's run (mailwizard user/alias ...) also changed the answers: put them back
        revert_edits(session, steps_done)
        session.purge_secret_backups()  # only when nothing is left to roll back
    return result


def _undo_in_order(session: Session, ctx: ChangeContext, order: List[Dict[str, Any]],
                   force: bool, cancelled: Callable[[], bool], result: RollbackResult,
                   ahead: _AheadUndos) -> None:
    for n, entry in enumerate(order):
        if cancelled():  # a signal: stop between two undos, the journal says the rest
            result.stopped = True
            break
        ahead.start_at(entry, order[n:])
        ahead.wait_for(entry)
        try:
            state, warnings = undo_one(session, ctx, entry, force)
            result.warnings.extend(warnings)
            if state == "unknown":
                result.errors.append(f"unknown change type {entry.get('type')!r}")
            elif state == "undone":
                result.undone += 1
        except (MailwizardError, OSError) as exc:
            result.errors.append(f"{entry['step']}: {entry['desc']}: {exc}")


class _AheadUndos:
    """The early parts of undos (:meth:`Change.undo_ahead`: stopping the daemons the run
    started), run side by side in threads.

    They start when the reverse order reaches the first entry that has one -- the place
    where the strict order would stop the first daemon -- for that entry and every later
    one, and each is waited for at its own entry, before the entry's undo: whatever the
    strict order undoes after a daemon's stop still finds that daemon gone. Every one is
    waited for before the rollback returns (also when it is stopped by a signal)."""

    def __init__(self, ctx: ChangeContext) -> None:
        self.ctx = ctx
        self.pending: Dict[int, Any] = {}
        self.pool: Any = None

    def __enter__(self) -> _AheadUndos:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)

    @staticmethod
    def _has(entry: Dict[str, Any]) -> Optional[Any]:
        cls = change_types().get(entry.get("type", ""))
        if cls is None or entry.get("state") != "done":
            return None
        own = getattr(cls.undo_ahead, "__func__", None)  # type: ignore[attr-defined]
        return cls if own is not Change.undo_ahead.__func__ else None  # type: ignore[attr-defined]

    def start_at(self, entry: Dict[str, Any], rest: List[Dict[str, Any]]) -> None:
        if self.pool is not None or self._has(entry) is None:
            return
        from concurrent.futures import ThreadPoolExecutor

        jobs = [(e, cls) for e in rest for cls in [self._has(e)] if cls is not None]
        self.pool = ThreadPoolExecutor(max_workers=max(1, min(len(jobs), 8)),
                                       thread_name_prefix="mw-undo-ahead")
        for e, cls in jobs:
            self.pending[id(e)] = self.pool.submit(cls.undo_ahead, self.ctx, e["record"])

    def wait_for(self, entry: Dict[str, Any]) -> None:
        future = self.pending.pop(id(entry), None)
        if future is None:
            return
        try:
            future.result()
        except Exception:  # noqa: BLE001 - the entry's own undo runs next and reports
            pass
