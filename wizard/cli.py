"""Command line: ``mailwizard`` (the TUI) and the headless verbs sharing the same engine.

Exit codes:

====  =====================================================================
0     success
1     a step failed (and was rolled back), or a rollback left errors
2     bad input: invalid answers, unknown platform, bad options
3     verification failed (a check did not pass)
4     refused: session locked by another wizard, confirmation missing,
      session belongs to other answers or another platform
130   interrupted (Ctrl-C, SIGTERM or a hang-up: the change in progress is finished,
      then the run stops); the session resumes on the next run
====  =====================================================================
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Sequence, TextIO, cast

from .errors import AnswersError, MailwizardError, PlatformError, SessionError
from .interrupts import SafeOutput

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_VERIFY, EXIT_REFUSED, EXIT_INTERRUPTED = (
    0, 1, 2, 3, 4, 130)

VERBS = ("plan", "apply", "verify", "rollback", "status", "docs")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mailwizard",
        description="Turn this server into a secure Postfix + Dovecot mail server, step by "
                    "step, with a preview of every change, checks afterwards and rollback. "
                    "Without a verb the interactive wizard opens.",
        epilog="Exit codes: 0 ok, 1 step failed, 2 bad input, 3 checks failed, 4 refused, "
               "130 interrupted.")
    p.add_argument("verb", nargs="?", choices=VERBS, help="headless action (default: the TUI)")
    p.add_argument("--answers", metavar="FILE",
                   help="answers YAML file ('demo' for the built-in example)")
    p.add_argument("--root", metavar="DIR", default=None,
                   help="target root directory (default: /)")
    p.add_argument("--platform", metavar="ID",
                   help="platform profile, e.g. rocky9, debian12 (default: detect; "
                        "choosing another platform implies a dry run)")
    p.add_argument("--state-dir", metavar="DIR",
                   help="session directory (default: <root>/var/lib/mailwizard)")
    p.add_argument("--dry-run", action="store_true",
                   help="change nothing; show or document what would be done")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--step", action="append", metavar="ID",
                   help="only this step (repeatable)")
    p.add_argument("--force", action="store_true",
                   help="rollback: restore backups even over files edited since")
    p.add_argument("--diff", action="store_true", help="plan: show every file diff")
    p.add_argument("--probe-host", default="127.0.0.1",
                   help="verify: address for the network checks (default 127.0.0.1)")
    p.add_argument("--format", choices=("markdown", "html"), default="markdown",
                   help="docs: output format")
    p.add_argument("-o", "--output", metavar="FILE", help="docs: write here (default stdout)")
    return p


# --------------------------------------------------------------------------- setup helpers
class Setup:
    """Everything a verb needs, resolved from the options."""

    def __init__(self, args: argparse.Namespace, need_answers: bool = True) -> None:
        from .answers import load_answers, parse_answers
        from .executor import DryRunExecutor, Executor
        from .platforms import detect_platform, get_platform

        self.args = args
        self.dry_run = bool(args.dry_run)
        root = Path(args.root or "/")
        detected = None
        if args.platform:
            self.platform = get_platform(args.platform)
            try:
                detected = detect_platform(root)
            except PlatformError:
                detected = None
            generic = args.verb == "docs" or self.dry_run
            if detected is None or detected.id != self.platform.id or (
                    generic and args.root is None):
                if args.verb in ("apply", "rollback") and not self.dry_run:
                    raise PlatformError(
                        f"--platform {self.platform.id} does not match this system "
                        f"({detected.name if detected else 'unknown'}); a different platform "
                        "can only be planned or documented (--dry-run)")
                self.dry_run = True
                if args.root is None:
                    # a dry run / runbook for a platform describes a fresh server: plan
                    # against the stock files only, never this machine's /etc
                    self._tmp = tempfile.TemporaryDirectory(prefix="mailwizard-dry-")
                    root = Path(self._tmp.name)
        else:
            self.platform = detect_platform(root)
        self.root = root
        self.executor = DryRunExecutor(root) if self.dry_run else Executor(root)
        self.state_dir = Path(args.state_dir) if args.state_dir else (
            root / "var/lib/mailwizard")
        self.answers = None
        if need_answers:
            existing = None if self.dry_run else set(self.executor.users())
            if args.answers:
                path = args.answers
                if path == "demo":
                    from .answers import demo_answers_path
                    path = str(demo_answers_path())
                self.answers = load_answers(Path(path), existing)
            else:
                from .session import Session
                sess_file = self.state_dir / "session.yaml"
                if not sess_file.exists():
                    raise AnswersError([("--answers", "no answers file given and no session "
                                                      f"in {self.state_dir} to resume")])
                s = Session.open(self.state_dir, lock=False)
                if not s.answers:
                    raise AnswersError([("--answers", "the session holds no answers")])
                self.answers = parse_answers(s.answers, existing)

    def engine(self, session=None, on_event=None):  # type: ignore[no-untyped-def]
        from .engine import Engine

        assert self.answers is not None
        return Engine(self.answers, self.platform, self.executor, session=session,
                      on_event=on_event)


def _confirm(question: str, args: argparse.Namespace, out: TextIO) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        out.write("Refusing to change the system without confirmation: pass --yes.\n")
        return False
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


def print_plan(plans, out: TextIO, diff: bool, platform, dry_run: bool) -> None:  # type: ignore[no-untyped-def]
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
        for note in r.outdated:
            out.write(f"     ! guide outdated: {note}\n")
    out.write(f"\n{total} change(s) in {sum(1 for p in plans if p.enabled)} step(s).\n")


# --------------------------------------------------------------------------- verbs
def cmd_plan(args: argparse.Namespace, out: TextIO) -> int:
    setup = Setup(args)
    engine = setup.engine()
    plans = engine.plan(args.step)
    print_plan(plans, out, args.diff, engine.platform, setup.dry_run)
    return EXIT_FAILED if any(p.error for p in plans) else EXIT_OK


def _open_session(setup: Setup):  # type: ignore[no-untyped-def]
    from .session import Session

    session = Session.open(setup.state_dir)
    if session.recovered:
        sys.stderr.write(f"Note: {session.recovered}.\n")
    if session.platform_id and session.platform_id != setup.platform.id:
        session.close()
        raise SessionError(f"the session in {setup.state_dir} is for {session.platform_id}, "
                           f"not {setup.platform.id}")
    return session


def cmd_apply(args: argparse.Namespace, out: TextIO) -> int:
    from .answers import Answers
    from .engine import ChangeDone, Event, LogLine, StepFinished, StepStarted

    setup = Setup(args)
    if setup.dry_run:
        out.write("Dry run: showing the plan; nothing is changed.\n\n")
        return cmd_plan(args, out)
    assert isinstance(setup.answers, Answers)
    session = _open_session(setup)
    try:
        applied = [s for s, i in session.steps().items() if i.get("status") in (
            "applied", "verified")]
        if session.answers and applied and session.answers != setup.answers.to_dict():
            out.write("Note: the answers differ from the session's; applied steps will be "
                      "brought in line with the new answers.\n")
        stopped = [step for step, info in session.steps().items()
                   if info.get("status") == "interrupted"]
        if session.unfinished() or stopped:
            where = ", ".join(stopped) or ", ".join(
                sorted({e["step"] for e in session.unfinished()}))
            out.write(f"Resuming an interrupted run ({where}): "
                      f"{len(session.unfinished())} change(s) in flight to check again.\n")

        def on_event(ev: Event) -> None:
            try:
                _show_event(ev)
            except Exception:  # noqa: BLE001 - output never fails a change
                pass

        def _show_event(ev: Event) -> None:
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

        engine = setup.engine(session=session, on_event=on_event)
        plans = engine.plan(args.step)
        print_plan(plans, out, args.diff, engine.platform, False)
        if any(p.error for p in plans):
            return EXIT_FAILED
        if not _confirm("Apply these changes?", args, out):
            return EXIT_REFUSED
        with _stop_on_signal(engine) as stop:
            # the first session write is inside: a signal right after it still ends in 130
            session.bind(setup.platform.id, str(setup.root), setup.answers.to_dict())
            try:
                results = engine.apply(args.step)
            except KeyboardInterrupt:
                return _interrupted(out)
            if stop.requested or engine.cancelled:  # stopped between two steps
                return _interrupted(out)
            failed = [r for r in results if r.status == "failed"]
            if failed:
                r = failed[0]
                out.write(f"\nStep {r.step} failed and its changes were undone:\n{r.error}\n")
                for w in r.warnings:
                    out.write(f"  warning: {w}\n")
                return EXIT_FAILED
            out.write("\nAll steps applied. Checking the result...\n")
            checks = _verify_until_stopped(engine, args, stop)
            if stop.requested:
                return _interrupted(out, "Checks stopped: every step is applied; run verify "
                                         "to check the result.")
            return _report_checks(checks, out)
    finally:
        session.close()


def _stop_on_signal(engine):  # type: ignore[no-untyped-def]
    """SIGHUP/SIGTERM/SIGINT ask ``engine`` to stop at the next change boundary."""
    from .interrupts import StopOnSignal

    def stop() -> None:
        engine.cancelled = True

    return StopOnSignal(stop)


def _interrupted(out: TextIO, text: str = "") -> int:
    out.write("\n" + (text or "Interrupted: the session is saved; run the same command to "
                             "resume.") + "\n")
    return EXIT_INTERRUPTED


def _verify_until_stopped(engine, args: argparse.Namespace, stop):  # type: ignore[no-untyped-def]
    """engine.verify one step at a time, so a stop signal ends it between two steps."""
    results = {}
    for recipe in engine._select(args.step):
        if stop.requested or engine.cancelled:
            break
        results.update(engine.verify([recipe.id], probe_host=args.probe_host))
    return results


def _report_checks(results, out: TextIO) -> int:  # type: ignore[no-untyped-def]
    from .checks import summarize

    all_results = []
    for step, checks in results.items():
        out.write(f"[{step}]\n")
        for c in checks:
            out.write(f"  {c.status:4} {c.name}: {c.detail}\n")
            if c.ok is False and c.explanation:
                out.write(f"       -> {c.explanation}\n")
        all_results.extend(checks)
    out.write(summarize(all_results) + "\n")
    return EXIT_VERIFY if any(c.ok is False for c in all_results) else EXIT_OK


def cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    setup = Setup(args)
    from .session import Session

    session = Session.open(setup.state_dir) if not setup.dry_run else None
    try:
        engine = setup.engine(session=session)
        with _stop_on_signal(engine) as stop:
            try:
                checks = _verify_until_stopped(engine, args, stop)
            except KeyboardInterrupt:
                return _interrupted(out, "Checks stopped.")
            if stop.requested:
                return _interrupted(out, "Checks stopped.")
            return _report_checks(checks, out)
    finally:
        if session:
            session.close()


def cmd_rollback(args: argparse.Namespace, out: TextIO) -> int:
    setup = Setup(args)
    if setup.dry_run:
        raise MailwizardError("rollback has no dry run: use status to see the journal")
    session = _open_session(setup)
    try:
        entries = session.entries()
        if args.step:
            entries = [e for e in entries if e["step"] in args.step]
        if not entries:
            out.write("Nothing to roll back.\n")
            return EXIT_OK
        out.write(f"Will undo {len(entries)} change(s), newest first:\n")
        for e in reversed(entries):
            out.write(f"  - [{e['step']}] {e['desc']}\n")
        if not _confirm("Roll back?", args, out):
            return EXIT_REFUSED
        engine = setup.engine(session=session)
        with _stop_on_signal(engine) as stop:
            try:
                res = engine.rollback(args.step, force=args.force)
            except KeyboardInterrupt:
                return _interrupted(out, "Rollback interrupted: the session is saved; run "
                                         "rollback again to finish it.")
            for w in res.warnings:
                out.write(f"warning: {w}\n")
            for err in res.errors:
                out.write(f"error: {err}\n")
            out.write(f"Undid {res.undone} change(s).\n")
            if res.stopped or (stop.requested
                               and res.undone + len(res.errors) < len(entries)):
                return _interrupted(out, "Rollback stopped: run rollback again to finish it.")
            return EXIT_FAILED if res.errors else EXIT_OK
    finally:
        session.close()


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    from .session import Session

    root = Path(args.root or "/")
    state_dir = Path(args.state_dir) if args.state_dir else root / "var/lib/mailwizard"
    if not any((state_dir / n).exists() for n in ("session.yaml", "journal.log")):
        out.write(f"No session in {state_dir}.\n")
        return EXIT_OK
    s = Session.open(state_dir, lock=False)
    if s.recovered:
        out.write(f"Note: {s.recovered}.\n")
    out.write(f"Session in {state_dir} for {s.platform_id or '?'} "
              f"(started {s.data.get('created')}, updated {s.data.get('updated', '-')})\n")
    for step, info in s.steps().items():
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
    return EXIT_OK


def cmd_docs(args: argparse.Namespace, out: TextIO) -> int:
    from .runbook import render_runbook

    args.dry_run = True
    setup = Setup(args)
    engine = setup.engine()
    text = render_runbook(engine, fmt=args.format)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        out.write(f"Wrote {args.output}\n")
    else:
        out.write(text)
    return EXIT_OK


def run_tui(args: argparse.Namespace) -> int:
    try:
        from screens.app import run_app
    except ImportError as exc:  # pragma: no cover - packaging problem
        sys.stderr.write(f"The interactive wizard is not available ({exc}); use a verb.\n")
        return EXIT_FAILED
    return int(run_app(args) or 0)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    # a closed pipe (`mailwizard apply --yes | head -1`) or a terminal gone with the SSH
    # connection must never fail a change: output errors are swallowed
    out = cast(TextIO, SafeOutput(sys.stdout))
    err = cast(TextIO, SafeOutput(sys.stderr))
    try:
        return _main(args, out, err)
    finally:
        out.flush()
        err.flush()


def _main(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    handlers = {"plan": cmd_plan, "apply": cmd_apply, "verify": cmd_verify,
                "rollback": cmd_rollback, "status": cmd_status, "docs": cmd_docs}
    try:
        if args.verb is None:
            if not sys.stdout.isatty() or not sys.stdin.isatty():
                out.write("No terminal: showing the plan instead of the interactive wizard.\n")
                return cmd_plan(args, out)
            return run_tui(args)
        return handlers[args.verb](args, out)
    except AnswersError as exc:
        err.write("The answers are not valid; nothing was changed:\n")
        for field, msg in exc.errors:
            err.write(f"  {field}: {msg}\n")
        return EXIT_INPUT
    except MailwizardError as exc:
        err.write(f"{exc.title}: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        err.write("\nInterrupted; nothing more was changed. Run again to resume.\n")
        return EXIT_INTERRUPTED


def entry_points() -> List[str]:
    return list(VERBS)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


