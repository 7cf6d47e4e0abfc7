"""Command line: ``mailwizard`` (the TUI) and the headless verbs sharing the same engine.

This is the entry point and the one documented exception to the core's import contracts
(tests/unit/test_import_contracts.py): it is the only module of :mod:`wizard` that imports the
steps (:mod:`recipes`, in :func:`default_recipes`) and the TUI (:mod:`screens.app`, lazily in
:func:`run_tui`, so the verbs never load Textual). Everything else it uses comes from the core:
the target, session and engine from :mod:`wizard.target`, the run from :mod:`wizard.run`.
``queue`` and ``log`` have parsers of their own (:mod:`wizard.queuecli`), called first.

Exit codes:

====  =====================================================================
0     success
1     a step failed (and was rolled back), or a rollback left errors; ``dns --check``:
      a record is missing or different, or could not be checked
2     bad input: invalid answers, unknown platform, bad options
3     verification failed (a check did not pass)
0-3   ``check``: the monitoring-plugin states OK, WARNING, CRITICAL, UNKNOWN
4     refused: session locked by another wizard, confirmation missing,
      session belongs to other answers or another platform
130   interrupted (Ctrl-C, SIGTERM or a hang-up: the change in progress is finished,
      then the run stops); the session resumes on the next run
====  =====================================================================
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, TextIO, cast

from .errors import AnswersError, MailwizardError, SessionError, UsageError
from .health import command as health_command
from .interrupts import SafeOutput, StopOnSignal
from .target import Target, TargetOptions, open_target, rehearsal_platform, state_dir_for
from .usercli import add_arguments as add_user_arguments
from .usercli import cmd_edit

# The engine, the run and the reports are imported by the verbs that use them: without a
# verb the interactive wizard opens, and its first screen needs none of them (issue 13: the
# first screen within 1.5x of a bare Textual app's start).
if TYPE_CHECKING:
    from .checks import CheckResult
    from .engine import Engine, EventCallback
    from .recipe import Recipe
    from .run import Progress
    from .session import Session

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_VERIFY, EXIT_REFUSED, EXIT_INTERRUPTED = (
    0, 1, 2, 3, 4, 130)

VERBS = ("plan", "apply", "verify", "rollback", "status", "docs", "dns", "user", "alias",
         "check", "export")
#: verbs with parsers of their own (:mod:`wizard.queuecli`, imported only for them)
OWN_PARSER_VERBS = ("queue", "log")
DOC_FORMATS = ("markdown", "html")
DNS_FORMATS = ("zone", "table")
_DOC_EXTENSIONS = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mailwizard",
        description="Turn this server into a secure Postfix + Dovecot mail server, step by "
                    "step, with a preview of every change, checks afterwards and rollback. "
                    "Without a verb the interactive wizard opens.",
        epilog="Also: `mailwizard queue --help` (the mail queue) and `mailwizard log --help` "
               "(recent deliveries, rejects and failed logins). "
               "Users and aliases: 'user add|remove|passwd NAME', 'alias add|remove ALIAS "
               "TARGET...' each apply as one step of the session named like user-add-3; "
               "undo one with 'rollback --step user-add-3'. "
               "Exit codes: 0 ok, 1 step failed, 2 bad input, 3 checks failed, 4 refused, "
               "130 interrupted.")
    p.add_argument("verb", nargs="?", choices=VERBS, help="headless action (default: the TUI)")
    p.add_argument("--answers", metavar="FILE",
                   help="answers YAML file ('demo' for the built-in example)")
    p.add_argument("--root", metavar="DIR", default=None,
                   help="target root directory (default: /)")
    p.add_argument("--platform", metavar="ID", action="append",
                   help="platform profile, e.g. rocky9, debian12 (default: detect; "
                        "choosing another platform implies a dry run; export: repeatable)")
    p.add_argument("--state-dir", metavar="DIR",
                   help="session directory (default: <root>/var/lib/mailwizard)")
    p.add_argument("--dry-run", action="store_true",
                   help="change nothing; show or document what would be done")
    p.add_argument("--rehearse", action="store_true",
                   help="rehearse on a scratch copy of a fresh server of --platform (default: "
                        "this machine's): apply, verify, rollback and resume run for real "
                        "there, commands are recorded, not run; nothing on this machine is "
                        "touched (--state-dir: where the copy lives, default "
                        "$TMPDIR/mailwizard-rehearsal-<platform>)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--step", action="append", metavar="ID",
                   help="only this step (repeatable); rollback also takes the id a user or "
                        "alias change printed (user-add-3)")
    p.add_argument("--force", action="store_true",
                   help="rollback: restore backups even over files edited since")
    p.add_argument("--diff", action="store_true", help="plan: show every file diff")
    p.add_argument("--overwrite-edits", action="store_true",
                   help="apply: set main.cf parameters edited by hand since mailwizard set "
                        "them back to the answers' values (default: keep the hand edits; the "
                        "plan names each with its stock, mailwizard and current value)")
    p.add_argument("--probe-host", default="127.0.0.1",
                   help="verify: address for the network checks (default 127.0.0.1)")
    p.add_argument("--format", choices=DOC_FORMATS + DNS_FORMATS, default=None,
                   help="docs: markdown or html (default: from the -o file's extension, "
                        "else markdown); dns: zone or table (default zone)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="docs: write here (default stdout); export: the directory")
    p.add_argument("--check", action="store_true",
                   help="dns: look the records up and say, per record, ok, missing or "
                        "different")
    p.add_argument("--nameserver", action="append", metavar="IP",
                   help="dns --check: ask this resolver (IP or IP#PORT, repeatable; default: "
                        "$MAILWIZARD_NAMESERVER, else the target's resolv.conf)")
    add_user_arguments(p)
    health_command.add_options(p)
    return p


# --------------------------------------------------------------------------- composition
def default_recipes() -> List[Recipe]:
    """The steps mailwizard runs (the only place in :mod:`wizard` that imports them)."""
    from recipes import all_recipes

    return all_recipes()


def _target(args: argparse.Namespace, out: Optional[TextIO] = None) -> Target:
    """The target of the options; a rehearsal's says where its scratch copy is (on ``out``)."""
    target = open_target(TargetOptions.from_args(args))
    if out is not None and target.scratch is not None:
        out.write(rehearsal_note(target) + "\n\n")
        shown = out

        def show(line: str) -> None:  # "rehearsal: would run ..." under the change
            shown.write(f"    {line}\n")

        target.executor.on_output = show
    return target


def rehearsal_note(target: Target) -> str:
    """Where a rehearsal works and how to go on with it."""
    sc = target.scratch
    assert sc is not None
    return (f"REHEARSAL of a {target.platform.name} server: files change for real in the "
            f"scratch copy {sc.root}, commands are recorded in {sc.directory}/commands.log and "
            f"never run; nothing else on this machine is touched. The session is in "
            f"{sc.state_dir}: the same command again resumes it (remove {sc.directory} to "
            "start afresh).")


def _engine(target: Target, args: argparse.Namespace, session: Optional[Session] = None,
            on_event: Optional[EventCallback] = None) -> Engine:
    """The engine for the answers of ``--answers`` (or of the session to resume)."""
    return target.engine(target.load_answers(args.answers), default_recipes(),
                         session=session, on_event=on_event)


def _note(text: str) -> None:
    sys.stderr.write(f"Note: {text}.\n")


def _confirm(question: str, args: argparse.Namespace, out: TextIO) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        out.write("Refusing to change the system without confirmation: pass --yes.\n")
        return False
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


# --------------------------------------------------------------------------- verbs
def _journal(target: Target) -> Optional[Session]:
    """The session, read only (not locked), so a plan shows the hand edits a re-run keeps;
    None in a dry run, before the first apply, or when it cannot be read (apply says why)."""
    from .session import Session

    if target.dry_run or not (target.state_dir / "session.yaml").exists():
        return None
    try:
        return Session.open(target.state_dir, lock=False)
    except SessionError:
        return None


def cmd_plan(args: argparse.Namespace, out: TextIO) -> int:
    from .report import print_plan

    target = _target(args, out)
    engine = _engine(target, args, session=_journal(target))
    plans = engine.plan(args.step)
    print_plan(plans, out, args.diff, engine.platform, target.dry_run)
    return EXIT_FAILED if any(p.error for p in plans) else EXIT_OK


def cmd_apply(args: argparse.Namespace, out: TextIO) -> int:
    from .report import event_printer, print_plan
    from .run import ChecksStarting, apply_and_verify

    target = _target(args, out)
    answers = target.load_answers(args.answers)
    if target.dry_run:
        out.write("Dry run: showing the plan; nothing is changed.\n\n")
        return cmd_plan(args, out)
    session = target.open_session(note=_note)
    try:
        applied = [s for s, i in session.steps().items() if i.get("status") in (
            "applied", "verified")]
        if session.answers and applied and session.answers != answers.to_dict():
            out.write("Note: the answers differ from the session's; applied steps will be "
                      "brought in line with the new answers.\n")
        stopped = [step for step, info in session.steps().items()
                   if info.get("status") == "interrupted"]
        if session.unfinished() or stopped:
            where = ", ".join(stopped) or ", ".join(
                sorted({e["step"] for e in session.unfinished()}))
            out.write(f"Resuming an interrupted run ({where}): "
                      f"{len(session.unfinished())} change(s) in flight to check again.\n")
        engine = target.engine(answers, default_recipes(), session=session,
                               on_event=event_printer(out))
        engine.overwrite_edits = bool(args.overwrite_edits)
        plans = engine.plan(args.step)
        print_plan(plans, out, args.diff, engine.platform, False)
        if any(p.error for p in plans):
            return EXIT_FAILED
        question = ("Apply these changes to the scratch copy?" if target.rehearsal
                    else "Apply these changes?")
        if not _confirm(question, args, out):
            return EXIT_REFUSED

        def on_progress(progress: Progress) -> None:
            if isinstance(progress, ChecksStarting):
                out.write("\nAll steps applied. Checking the result...\n")

        with _stop_on_signal(engine):
            # the first session write is inside: a signal right after it still ends in 130
            session.bind(target.platform.id, str(target.root), answers.to_dict())
            try:
                run = apply_and_verify(engine, args.step, verify_each=False,
                                       probe_host=args.probe_host, on_progress=on_progress)
            except KeyboardInterrupt:
                return _interrupted(out)
            if run.stopped_before_checks:  # the stop came with the last step, before checks
                return _interrupted(out)
            r = run.failed
            if r is not None:
                # the error itself was printed under the step's heading (FAILED: ...)
                out.write(f"\nStep {r.step} failed (the reason is above) and its changes "
                          "were undone; the steps before it stay applied. Fix the cause and "
                          "run the same command again.\n")
                for w in r.warnings:
                    out.write(f"  warning: {w}\n")
                return EXIT_FAILED
            if run.checks_stopped:
                return _interrupted(out, "Checks stopped: every step is applied; run verify "
                                         "to check the result.")
            return _report_checks(run.checks, out)
    finally:
        session.close()


def _stop_on_signal(engine: Engine) -> StopOnSignal:
    """SIGHUP/SIGTERM/SIGINT ask ``engine`` to stop at the next change boundary."""

    def stop() -> None:
        engine.cancelled = True

    return StopOnSignal(stop)


def _interrupted(out: TextIO, text: str = "") -> int:
    out.write("\n" + (text or "Interrupted: the session is saved; run the same command to "
                             "resume.") + "\n")
    return EXIT_INTERRUPTED


def _report_checks(results: Dict[str, List[CheckResult]], out: TextIO) -> int:
    from .report import print_checks

    return EXIT_VERIFY if print_checks(results, out) else EXIT_OK


def cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    from .run import verify_steps

    target = _target(args, out)
    answers = target.load_answers(args.answers)
    session = target.open_session(check_platform=False) if not target.dry_run else None
    try:
        engine = target.engine(answers, default_recipes(), session=session)
        with _stop_on_signal(engine):
            try:
                run = verify_steps(engine, args.step, probe_host=args.probe_host)
            except KeyboardInterrupt:
                return _interrupted(out, "Checks stopped.")
            if run.checks_stopped:
                return _interrupted(out, "Checks stopped.")
            return _report_checks(run.checks, out)
    finally:
        if session:
            session.close()


def cmd_rollback(args: argparse.Namespace, out: TextIO) -> int:
    target = _target(args, out)
    answers = target.load_answers(args.answers)
    if target.dry_run:
        raise UsageError("rollback has no dry run: use status to see the journal")
    session = target.open_session(note=_note)
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
        engine = target.engine(answers, default_recipes(), session=session)
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
    from .rehearsal import default_scratch_dir
    from .report import print_status

    if args.rehearse:
        if args.root:
            raise UsageError("--rehearse works on a scratch copy of its own: drop --root")
        platform = rehearsal_platform(args.platform)
        scratch = Path(args.state_dir) if args.state_dir else default_scratch_dir(platform.id)
        out.write(f"Rehearsal of a {platform.name} server in {scratch}.\n")
        state_dir = scratch / "state"
    else:
        state_dir = state_dir_for(args.root, args.state_dir)
    if not any((state_dir / n).exists() for n in ("session.yaml", "journal.log")):
        out.write(f"No session in {state_dir}.\n")
        return EXIT_OK
    print_status(state_dir, out, _session_step_ids)
    return EXIT_OK


def _session_step_ids(session: Session) -> List[str]:
    """The steps a run with the session's answers goes through on its platform, in order
    (none when the session holds no answers or they no longer parse: status then lists
    only the steps the journal knows)."""
    from .answers import parse_answers
    from .platforms import get_platform

    if not session.answers or not session.platform_id:
        return []
    try:
        answers = parse_answers(session.answers)
        platform = get_platform(session.platform_id)
    except MailwizardError:
        return []
    return [r.id for r in default_recipes() if r.enabled_for(answers, platform)]


def cmd_docs(args: argparse.Namespace, out: TextIO) -> int:
    from .runbook import render_runbook

    args.dry_run = True
    fmt = doc_format(args.format, args.output)
    engine = _engine(_target(args), args)
    text = render_runbook(engine, fmt=fmt)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        out.write(f"Wrote {args.output}\n")
    else:
        out.write(text)
    return EXIT_OK


def cmd_dns(args: argparse.Namespace, out: TextIO) -> int:
    """The records to publish (``--check``: and how DNS answers for each)."""
    from .dnsrecords import report
    from .dnsrecords.gather import target_dns_plan

    fmt = args.format or "zone"
    if fmt not in DNS_FORMATS:
        raise UsageError(f"dns prints --format zone or table, not {fmt}")
    if args.nameserver and not args.check:
        raise UsageError("--nameserver only matters with --check")
    target = _target(args)
    answers = target.load_answers(args.answers)
    plan = target_dns_plan(target.executor, answers)
    if not args.check:
        report.print_records(plan, fmt, out)
        return EXIT_OK
    try:
        resolver = report.target_resolver(report.nameservers_from(args.nameserver),
                                          str(target.executor.path("/etc/resolv.conf")),
                                          timeout=3.0)
    except ValueError as exc:
        raise UsageError(f"--nameserver: {exc}") from None
    from .dnsrecords import check_records

    return report.print_checks(check_records(plan.records, resolver), out)


def cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    """Health of the configured server, as a monitoring plugin (wizard/health/command.py)."""
    from .dnsrecords import report

    def resolver(target: Target) -> object:
        try:
            return report.target_resolver(report.nameservers_from(args.nameserver),
                                          str(target.executor.path("/etc/resolv.conf")),
                                          timeout=3.0)
        except ValueError as exc:
            raise UsageError(f"--nameserver: {exc}") from None

    return health_command.run_check(args, out, lambda: _target(args), default_recipes,
                                    resolver)


def doc_format(asked: Optional[str], output: Optional[str]) -> str:
    """The runbook format: the one asked for, else the one the output file's name says.

    An explicit ``--format`` that contradicts the extension (``-o x.html --format markdown``)
    is refused rather than writing Markdown into a file a browser will open as HTML."""
    if asked and asked not in DOC_FORMATS:
        raise UsageError(f"docs writes --format markdown or html, not {asked}")
    by_name = _DOC_EXTENSIONS.get(Path(output).suffix.lower()) if output else None
    if asked and by_name and asked != by_name:
        raise UsageError(f"--format {asked} does not match the file name {output!r} "
                         f"(a {by_name} name): rename the file or drop --format")
    return asked or by_name or "markdown"


def cmd_users(args: argparse.Namespace, out: TextIO) -> int:
    """``user ...`` and ``alias ...`` (:mod:`wizard.usercli`)."""
    return cmd_edit(args, out, _target(args, out), default_recipes(), _confirm)


def run_tui(args: argparse.Namespace) -> int:
    """``mailwizard`` without a verb: open the target here, hand it to the TUI."""
    try:
        from screens.app import run_app
    except ImportError as exc:  # pragma: no cover - packaging problem
        sys.stderr.write(f"The interactive wizard is not available ({exc}); use a verb.\n")
        return EXIT_FAILED
    target = _target(args)
    code = int(run_app(target, default_recipes, answers_file=args.answers,
                       yes=bool(args.yes)) or 0)
    if target.scratch is not None:  # where the rehearsal is kept, once the screen is back
        sys.stdout.write(rehearsal_note(target) + "\n")
    return code


def main(argv: Optional[Sequence[str]] = None) -> int:
    words = list(argv) if argv is not None else sys.argv[1:]
    # a closed pipe (`mailwizard apply --yes | head -1`) or a terminal gone with the SSH
    # connection must never fail a change: output errors are swallowed
    out = cast(TextIO, SafeOutput(sys.stdout))
    err = cast(TextIO, SafeOutput(sys.stderr))
    try:
        if words and words[0] in OWN_PARSER_VERBS:  # queue / log: parsers of their own
            from . import queuecli

            return queuecli.main(words, out, err)
        return _main(build_parser().parse_args(words), out, err)
    finally:
        out.flush()
        err.flush()


def cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    from .exportverb import cmd_export as export

    return export(args, out, default_recipes)


def _one_platform(args: argparse.Namespace) -> None:
    """``--platform`` repeats only for export; every other verb gets one id (or None)."""
    given = args.platform or []
    if args.verb == "export":
        return
    if len(given) > 1:
        raise UsageError("--platform is given once (only export takes several)")
    args.platform = given[0] if given else None


def _main(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    handlers = {"plan": cmd_plan, "apply": cmd_apply, "verify": cmd_verify,
                "rollback": cmd_rollback, "status": cmd_status, "docs": cmd_docs,
                "dns": cmd_dns, "user": cmd_users, "alias": cmd_users,
                "check": cmd_check, "export": cmd_export}
    try:
        _one_platform(args)
        if args.words and args.verb not in ("user", "alias", "export"):
            raise UsageError(f"unexpected arguments: {' '.join(args.words)}")
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


