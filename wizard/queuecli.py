"""The verbs for the days after: ``mailwizard queue ...`` and ``mailwizard log ...``.

Called by :func:`wizard.cli.main` when the first argument is one of :data:`VERBS`; each has a
parser of its own (sub-actions and positional ids do not fit the wizard's flat options).
The work is in the core: :mod:`wizard.mailqueue` and :mod:`wizard.maillog` /
:mod:`wizard.logsource`; this module parses, asks for confirmation and prints.

Exit codes (those of :mod:`wizard.cli`): 0 done, 1 a command failed or the queue or log could
not be read, 2 bad input (a queue id that is not one, a bad ``--since``), 4 refused (no
confirmation: ``--yes`` is needed without a terminal).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable, List, Optional, Sequence, TextIO

from . import mailqueue as mq
from .errors import MailwizardError, UsageError
from .executor import Executor
from .logsource import recent_events
from .maillog import KINDS, LogEvent, check_address, counts, parse_since, select
from .platforms import Platform, detect_platform, get_platform
from .termsafe import clean

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_REFUSED = 0, 1, 2, 4
VERBS = ("queue", "log")

ExecutorFactory = Callable[[Path], Executor]


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting (the caller maps errors to exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", metavar="DIR", default="/",
                   help="target root directory (default: /)")


def queue_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mailwizard queue",
                description="The Postfix mail queue: list it, show one message, flush, hold, "
                            "release or delete. Queue ids are Postfix's (8F5061A005C or a "
                            "long id).")
    _common(p)
    p.add_argument("--json", action="store_true", help="list: print JSON")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--body", action="store_true", help="show: the body too")
    p.add_argument("--all", action="store_true", dest="all_messages",
                   help="hold / release: every message")
    p.add_argument("--all-deferred", action="store_true",
                   help="delete / hold: every deferred message")
    p.add_argument("action", nargs="?", default="list",
                   choices=("list", "show") + mq.ACTIONS)
    p.add_argument("queue_id", nargs="?", metavar="ID")
    return p


def log_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mailwizard log",
                description="Recent deliveries, deferrals, bounces, rejects and failed logins "
                            "from the mail log (the journal, Postfix's maillog_file or the "
                            "syslog file), one line per message and outcome.")
    _common(p)
    p.add_argument("--platform", metavar="ID",
                   help="platform whose log file to read (default: detect)")
    p.add_argument("--since", default="24h", help="how far back: 30m, 24h, 7d (default 24h)")
    p.add_argument("--address", metavar="ADDR",
                   help="only events about this address or login name")
    p.add_argument("--kind", action="append", choices=KINDS,
                   help="only events of this kind (repeatable)")
    p.add_argument("--json", action="store_true", help="print JSON")
    return p


def main(argv: Sequence[str], out: TextIO, err: TextIO,
         executor: Optional[ExecutorFactory] = None) -> int:
    """``argv`` starts with the verb (``queue`` or ``log``)."""
    make = executor or (lambda root: Executor(root))
    verb, rest = argv[0], list(argv[1:])
    try:
        if verb == "queue":
            return cmd_queue(queue_parser().parse_args(rest), out, make)
        if verb == "log":
            return cmd_log(log_parser().parse_args(rest), out, make)
        raise UsageError(f"unknown verb {verb!r}")
    except MailwizardError as exc:  # may quote what the admin typed: shown escaped
        err.write("\n".join(clean(line) for line in f"{exc.title}: {exc}".splitlines()) + "\n")
        return exc.exit_code
    except KeyboardInterrupt:
        err.write("\nInterrupted.\n")
        return 130


# --------------------------------------------------------------------------- queue
def _confirm(question: str, yes: bool, out: TextIO) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        out.write("Refusing without confirmation: pass --yes.\n")
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def message_lines(m: mq.QueuedMessage, now: float) -> List[str]:
    rcpts = ", ".join(r.address for r in m.recipients) or "-"
    lines = [f"{m.queue_id:<16} {m.queue:<9} {mq.fmt_age(m.age(now)):>6} "
             f"{mq.fmt_size(m.size):>5}  {m.sender or '<>'} -> {rcpts}"]
    reasons = []
    for r in m.recipients:
        if r.reason and r.reason not in reasons:
            reasons.append(r.reason)
    lines += [f"{'':<16} reason: {r}" for r in reasons]
    return lines


def summary_line(messages: Sequence[mq.QueuedMessage], now: float) -> str:
    if not messages:
        return "The mail queue is empty."
    s = mq.summarise(messages, now)
    parts = ", ".join(f"{n} {q}" for q, n in sorted(s.by_queue.items()))
    return (f"{s.total} message(s) ({parts}); the oldest, {s.oldest_id}, waits for "
            f"{mq.fmt_age(s.oldest_age)}.")


def cmd_queue(args: argparse.Namespace, out: TextIO, make: ExecutorFactory) -> int:
    ex = make(Path(args.root))
    action, qid = args.action, args.queue_id
    if qid is not None:
        mq.check_queue_id(qid, "ID")
    if action in ("list", "show") and (args.all_messages or args.all_deferred):
        raise UsageError(f"{action} takes no --all / --all-deferred")
    if action == "list":
        if qid:
            raise UsageError("list takes no queue id (show ID shows one message)")
        now = time.time()
        messages = mq.read_queue(ex)
        if args.json:
            json.dump({"messages": [m.to_dict(now) for m in messages],
                       "summary": _summary_dict(messages, now)}, out, indent=1)
            out.write("\n")
            return EXIT_OK
        if messages:
            out.write(f"{'ID':<16} {'QUEUE':<9} {'AGE':>6} {'SIZE':>5}  SENDER -> RECIPIENTS\n")
            for m in messages:
                out.write("\n".join(message_lines(m, now)) + "\n")
        out.write(summary_line(messages, now) + "\n")
        return EXIT_OK
    if args.json:
        raise UsageError("--json is for the list")
    if action == "show":
        if not qid:
            raise UsageError("show needs a queue id")
        out.write(mq.show_message(ex, qid, body=args.body) + "\n")
        return EXIT_OK
    argv = mq.action_argv(action, qid, all_deferred=args.all_deferred,
                          all_messages=args.all_messages)  # refuses bad combinations first
    if action == "delete" or args.all_messages or args.all_deferred:
        now = time.time()
        messages = mq.read_queue(ex)
        if qid:
            chosen = [m for m in messages if m.queue_id == qid]
            if not chosen:
                out.write(f"No message {qid} in the queue.\n")
                return EXIT_FAILED
        elif args.all_deferred:
            chosen = [m for m in messages if m.queue == "deferred"]
        else:
            chosen = list(messages)
        if not chosen:
            out.write("No message to " + action + ".\n")
            return EXIT_OK
        out.write(f"{action.capitalize()} {len(chosen)} message(s):\n")
        for m in chosen[:20]:
            out.write("  " + message_lines(m, now)[0] + "\n")
        if len(chosen) > 20:
            out.write(f"  ... and {len(chosen) - 20} more\n")
        what = "cannot be undone" if action == "delete" else "`" + " ".join(argv) + "`"
        if not _confirm(f"{action.capitalize()} them ({what})?", args.yes, out):
            return EXIT_REFUSED
    said = mq.act(ex, action, qid, all_deferred=args.all_deferred,
                  all_messages=args.all_messages)
    if said:
        out.write(said + "\n")
    out.write(f"Done: {' '.join(argv)}\n")
    return EXIT_OK


def _summary_dict(messages: Sequence[mq.QueuedMessage], now: float) -> dict:  # type: ignore[type-arg]
    s = mq.summarise(messages, now)
    return {"total": s.total, "by_queue": s.by_queue, "oldest_age_seconds": int(s.oldest_age),
            "oldest_id": s.oldest_id,
            "reasons": [{"reason": r, "recipients": n} for r, n in s.reasons]}


# --------------------------------------------------------------------------- log
def _platform(args: argparse.Namespace) -> Platform:
    return get_platform(args.platform) if args.platform else detect_platform(Path(args.root))


def event_line(e: LogEvent) -> str:
    """One line for an event: when, what, queue id, who, where, why."""
    when = time.strftime("%m-%d %H:%M:%S", time.localtime(e.time))
    if e.kind == "auth-failed":
        who = f"user {e.user or '?'} from {e.client or '?'}"
        return f"{when} {e.kind:<11} {'-':<11} {who}: {e.reason}"
    rcpts = ", ".join(e.recipients) or "-"
    line = f"{when} {e.kind:<11} {e.queue_id or '-':<11} {e.sender or '<>'} -> {rcpts}"
    if e.kind == "rejected":
        return f"{line} from {e.client}: {e.reason}"
    if e.relay:
        line += f" relay={e.relay}"
    return f"{line} ({e.reason})" if e.reason else line


def cmd_log(args: argparse.Namespace, out: TextIO, make: ExecutorFactory) -> int:
    seconds = parse_since(args.since)
    address = check_address(args.address) if args.address is not None else None
    platform = _platform(args)
    ex = make(Path(args.root))
    events, read = recent_events(ex, platform, seconds)
    events = select(events, address, args.kind)
    if args.json:
        json.dump({"since_seconds": int(seconds), "sources": read.sources,
                   "problems": read.problems, "counts": counts(events),
                   "events": [e.to_dict() for e in events]}, out, indent=1)
        out.write("\n")
    else:
        for e in events:
            out.write(event_line(e) + "\n")
        c = counts(events)
        out.write(("No mail events" if not events else ", ".join(
            f"{n} {k}" for k, n in c.items() if n)) + f" in the last {args.since}"
            + (f" about {address}" if address else "") + ".\n")
        if read.sources:
            out.write(f"Read: {', '.join(read.sources)}.\n")
        for p in read.problems:
            out.write(f"Note: {p}.\n")
    return EXIT_OK if read.sources else EXIT_FAILED
