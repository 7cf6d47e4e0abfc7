"""What the headless verbs print: the plan, the live progress of apply, checks, the session.

Plain text for a terminal or a log (:mod:`wizard.cli` decides what to print when and the exit
code); the runbook is :mod:`wizard.runbook`, the TUI renders in :mod:`screens`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List, Sequence, TextIO

from .checks import CheckResult, summarize
from .engine import (
    ChangeDone,
    Event,
    EventCallback,
    LogLine,
    StepFinished,
    StepPlan,
    StepStarted,
)
from .platforms import Platform
from .session import Session


def print_plan(plans: Sequence[StepPlan], out: TextIO, diff: bool, platform: Platform,
               dry_run: bool) -> None:
    """The plan: one line per step and change (``diff``: every file diff and command)."""
    out.write(f"mailwizard plan for {platform.name} ({platform.id})"
              f"{' - dry run, nothing will be changed' if dry_run else ''}\n\n")
    total = 0
    for n, sp in enumerate(plans, 1):
        r = sp.recipe
        if not sp.enabled:
            out.write(f"{n:2}. {r.title} [{r.id}] - skipped (turned off in the answers)\n")
            continue
        if sp.error:
            out.write(f"{n:2}. {r.title} [{r.id}] - CANNOT PLAN: {sp.error}\n")
            continue
        out.write(f"{n:2}. {r.title} [{r.id}] - {sp.changed} change(s)\n")
        for pv in sp.previews:
            mark = "+" if pv.changed else "="
            note = f"  ({pv.note})" if pv.note else ""
            out.write(f"     {mark} {pv.title}{note}\n")
            total += pv.changed
            if diff and pv.changed:
                if pv.diff:
                    for line in pv.diff.splitlines():
                        out.write(f"         {line}\n")
                elif pv.new_content is not None:
                    out.write("         (new file)\n")
                    for line in pv.new_content.splitlines():
                        out.write(f"         | {line}\n")
                for c in pv.commands if pv.kind != "file" else []:
                    for line in c.splitlines():
                        out.write(f"         $ {line}\n")
        for note in r.outdated_for(platform):
            out.write(f"     ! guide outdated: {note}\n")
    out.write(f"\n{total} change(s) in {sum(1 for p in plans if p.enabled)} step(s).\n")


def event_printer(out: TextIO) -> EventCallback:
    """An ``on_event`` callback that prints the engine's progress (``apply``); a failing
    output never fails a change."""

    def show(ev: Event) -> None:
        if isinstance(ev, StepStarted):
            out.write(f"==> {ev.title} [{ev.step}]\n")
        elif isinstance(ev, ChangeDone):
            mark = {"changed": "+", "unchanged": "=", "resumed": ">", "failed": "!"}
            out.write(f"    {mark.get(ev.outcome, '?')} {ev.description} ({ev.outcome})\n")
        elif isinstance(ev, StepFinished):
            if ev.status == "failed":
                out.write(f"    FAILED: {ev.error}\n")
            else:
                out.write(f"    {ev.changed} changed, {ev.unchanged} unchanged\n")
        elif isinstance(ev, LogLine):
            out.write(f"    {ev.line}\n")
        out.flush()

    def on_event(ev: Event) -> None:
        try:
            show(ev)
        except Exception:  # noqa: BLE001 - output never fails a change
            pass

    return on_event


def print_checks(results: Dict[str, List[CheckResult]], out: TextIO) -> bool:
    """Print every step's checks and a summary; True when a check failed."""
    all_results = []
    for step, checks in results.items():
        out.write(f"[{step}]\n")
        for c in checks:
            out.write(f"  {c.status:4} {c.name}: {c.detail}\n")
            if c.ok is False and c.explanation:
                out.write(f"       -> {c.explanation}\n")
        all_results.extend(checks)
    out.write(summarize(all_results) + "\n")
    return any(c.ok is False for c in all_results)


def print_status(state_dir: Path, out: TextIO,
                 all_steps: Callable[[Session], Sequence[str]] = lambda s: ()) -> None:
    """The ``status`` verb's report of the session in ``state_dir``: every step of the run
    (``all_steps`` names them in order for the session's answers and platform), the ones
    not reached yet as ``not started``, then the journal."""
    s = Session.open(state_dir, lock=False)
    if s.recovered:
        out.write(f"Note: {s.recovered}.\n")
    out.write(f"Session in {state_dir} for {s.platform_id or '?'} "
              f"(started {s.data.get('created')}, updated {s.data.get('updated', '-')})\n")
    touched = s.steps()
    order = list(all_steps(s))
    order += [step for step in touched if step not in order]
    for step in order:
        info = touched.get(step)
        if info is None:
            out.write(f"  {step:18} not started\n")
            continue
        extra = f" - {info['error']}" if info.get("error") else ""
        if s.step_note(step):
            extra += f" ({s.step_note(step)}; apply resumes, rollback undoes)"
        out.write(f"  {step:18} {info.get('status', 'pending')}{extra}\n")
    done = len(s.entries(states=("done",)))
    out.write(f"Journal: {len(s.journal)} entries, {done} applied and not undone, "
              f"{len(s.unfinished())} interrupted.\n")
    for e in s.unfinished():
        out.write(f"  interrupted in flight: [{e['step']}] {e['desc']}\n")
    secrets = s.secret_backups()
    if secrets:
        out.write(f"Backups: {len(secrets)} copies of /etc/shadow or /etc/gshadow (password "
                  f"hashes, mode 0600) are kept in {s.backups.directory}: rollback needs them "
                  "to put the account files back; a complete rollback removes them.\n")
