"""The verbs ``mailwizard user add|remove|passwd NAME`` and ``mailwizard alias add|remove ALIAS
TARGET...`` (the work is in :mod:`wizard.mailusers`; :mod:`wizard.cli` dispatches here).

Each run shows its plan (like ``plan``), asks (or takes ``--yes``), applies it as one step of
the session with its own id (``user-add-3``) and says how to undo it:
``mailwizard rollback --step user-add-3``. Passwords come from a prompt without echo (asked
twice), from ``--password-stdin`` (one line) or ``--password-file FILE``; never from the
command line, and they are never written to the session, the log or the kept answers.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, List, Optional, Sequence, TextIO

from .errors import AnswersError, UsageError
from .secret import Secret

if TYPE_CHECKING:  # the run's modules load when a user or alias verb runs, not for the TUI
    from .mailusers import Request
    from .recipe import Recipe
    from .target import Target

USAGE = ("user add|remove|passwd NAME, alias add|remove ALIAS TARGET... (ALIAS: a local "
         "name of /etc/aliases, or an address / @domain of the virtual alias domains)")

Confirm = Callable[[str, argparse.Namespace, TextIO], bool]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of the user and alias verbs (on the one parser of :mod:`wizard.cli`)."""
    p.add_argument("words", nargs="*", metavar="ARG",
                   help=f"user/alias: {USAGE}")
    p.add_argument("--password-stdin", action="store_true",
                   help="user add/passwd: read the password (one line) from standard input")
    p.add_argument("--password-file", metavar="FILE",
                   help="user add/passwd: read the password (one line) from FILE")
    p.add_argument("--delete-mail", action="store_true",
                   help="user remove: also delete the home and its Maildir (kept otherwise; "
                        "a copy is kept for rollback)")


def request_from(args: argparse.Namespace) -> Request:
    """The request the command line asks for (the password read as it says).

    Raises:
        UsageError: a wrong shape (unknown action, missing NAME, stray targets).
        AnswersError: a password that cannot be read or is not one line.
    """
    from .mailusers import Request

    words: List[str] = list(args.words or [])
    noun = args.verb
    if not words:
        raise UsageError(f"{noun} needs an action: {USAGE}")
    action, rest = words[0], words[1:]
    actions = ("add", "remove", "passwd") if noun == "user" else ("add", "remove")
    if action not in actions:
        raise UsageError(f"{noun} {action!r}: the actions are {', '.join(actions)}")
    verb = f"{noun} {action}"
    if not rest:
        raise UsageError(f"{verb} needs a {'NAME' if noun == 'user' else 'ALIAS'}")
    name, targets = rest[0], tuple(rest[1:])
    if noun == "user" and targets:
        raise UsageError(f"{verb} takes one NAME (a password is never given on the command "
                         "line: use the prompt, --password-stdin or --password-file)")
    if noun == "alias" and action == "add" and not targets:
        raise UsageError("alias add needs at least one TARGET")
    if args.delete_mail and verb != "user remove":
        raise UsageError("--delete-mail belongs to user remove")
    wants_pw = verb in ("user add", "user passwd")
    if (args.password_stdin or args.password_file) and not wants_pw:
        raise UsageError("a password belongs to user add and user passwd")
    password = read_password(args, name) if wants_pw else None
    return Request(verb, name, targets, password, bool(args.delete_mail))


def read_password(args: argparse.Namespace, name: str) -> Optional[Secret]:
    """From the file, standard input or the prompt (None: no terminal to ask on)."""
    if args.password_stdin and args.password_file:
        raise UsageError("give the password one way: --password-stdin or --password-file")
    if args.password_file:
        try:
            raw = Path(args.password_file).read_bytes()
        except OSError as exc:
            raise AnswersError([("password", f"cannot read {args.password_file}: "
                                             f"{exc.strerror}")]) from None
        return _one_line(raw)
    if args.password_stdin:
        return _one_line(sys.stdin.buffer.read(4096))
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass(f"New password for {name}: ")
    if getpass.getpass("The same again: ") != first:
        raise AnswersError([("password", "the two passwords differ")])
    return Secret(first)


def _one_line(raw: bytes) -> Secret:
    """The text with one final line break taken off; any other line break stays, and the
    validators refuse it (a password is one line)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AnswersError([("password", "is not UTF-8 text")]) from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return Secret(text)


def cmd_edit(args: argparse.Namespace, out: TextIO, target: Target,
             recipes: Sequence[Recipe], confirm: Confirm) -> int:
    """``user ...`` / ``alias ...``: validate, show the plan, confirm, apply, check.
    Returns the exit code (0, 1 failed and undone, 3 checks failed, 4 not confirmed)."""
    from .mailusers import prepare, run
    from .report import event_printer, print_checks, print_plan

    if target.dry_run:
        raise UsageError(f"{args.verb} changes the server: it has no dry run (a rehearsal "
                         "works: --rehearse)")
    req = request_from(args)
    session = target.open_session()
    try:
        job = prepare(target, session, recipes, req, on_event=event_printer(out))
        if job.edit is not None:
            out.write(job.edit.describe() + "\n\n")
        print_plan(job.plans, out, args.diff, target.platform, False)
        if job.changes == 0 and job.edit is None:
            out.write("Nothing to change.\n")
            return 0
        if not confirm(f"Apply this change ({job.step_id})?", args, out):
            return 4
        outcome = run(job, probe_host=args.probe_host)
        res = outcome.result
        if res.status != "applied":
            out.write(f"\n{req.verb} failed and its changes were undone: {res.error}\n")
            for w in res.warnings:
                out.write(f"  warning: {w}\n")
            return 1
        out.write(f"\nDone: recorded as step {job.step_id}. Undo it with: "
                  f"mailwizard rollback --step {job.step_id}\n")
        if job.edit is not None:
            out.write("The session's answers (and the copy kept in the state directory) "
                      "include the change: mailwizard apply without --answers keeps it.\n")
        if outcome.checks:
            failed = print_checks({job.step_id: outcome.checks}, out)
            return 3 if failed else 0
        return 0
    finally:
        session.close()
