"""The ``check`` verb: options, the run, and its plugin-style output (wizard/cli.py calls
:func:`add_options` and :func:`run_check`).

Output and exit status follow the Nagios / monitoring-plugins convention: the first line is
``MAILWIZARD <STATE> - <summary> | <perfdata>``, the exit status 0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN (also when the check itself cannot run: bad options, no answers).  ``--json``
prints one JSON document instead (``wizard/health/schema.json``).
"""

from __future__ import annotations

import argparse
import json
import re
from typing import TYPE_CHECKING, Any, Callable, List, Sequence, TextIO

from ..errors import AnswersError, MailwizardError, UsageError
from .model import EXIT_CODES, UNKNOWN, Report

if TYPE_CHECKING:  # the run's modules load when a check runs, not with the parser
    from ..recipe import Recipe
    from ..target import Target
    from .collect import Thresholds

_DURATION = re.compile(r"([0-9]{1,7})([smhd]?)", re.ASCII)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> int:
    """``90``, ``90s``, ``30m``, ``4h``, ``2d`` -> seconds."""
    m = _DURATION.fullmatch(text)
    if not m:
        raise UsageError(f"{text!r} is not a duration (a number with s, m, h or d)")
    return int(m.group(1)) * _UNITS[m.group(2)]


def add_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("check (monitoring-plugin exit codes: 0 ok, 1 warning, "
                             "2 critical, 3 unknown)")
    g.add_argument("--json", action="store_true", help="check: print the report as JSON")
    g.add_argument("--mail-to", metavar="ADDR",
                   help="check: mail the report through the local sendmail when the result "
                        "changed since the last mailed run")
    g.add_argument("--warn-days", default="21", metavar="N",
                   help="check: certificate warning under N days left (default 21)")
    g.add_argument("--crit-days", default="7", metavar="N",
                   help="check: certificate critical under N days left (default 7)")
    g.add_argument("--queue-age", default="4h,24h", metavar="WARN[,CRIT]",
                   help="check: age of the oldest queued message that warns, and that is "
                        "critical (default 4h,24h; units s, m, h, d)")
    g.add_argument("--queue-size", default="50,200", metavar="WARN[,CRIT]",
                   help="check: messages in the queue that warn, and that are critical "
                        "(default 50,200)")
    g.add_argument("--auth-burst", default="20", metavar="N",
                   help="check: failed logins from one address in 24 h that warn "
                        "(default 20)")
    g.add_argument("--disk-free", default="10,5", metavar="WARN[,CRIT]",
                   help="check: percent of free space that warns, and that is critical "
                        "(default 10,5)")


def _pair(text: str, parse: Callable[[str], int], what: str) -> List[int]:
    parts = text.split(",")
    if not 1 <= len(parts) <= 2:
        raise UsageError(f"{what}: WARN or WARN,CRIT")
    vals = [parse(x) for x in parts]
    return vals if len(vals) == 2 else vals * 2


def _count(text: str) -> int:
    if not isinstance(text, str) or not re.fullmatch(r"[0-9]{1,9}", text, re.ASCII):
        raise UsageError(f"{text!r} is not a whole number")
    return int(text)


def thresholds(args: argparse.Namespace) -> Thresholds:
    from .collect import Thresholds

    age = _pair(args.queue_age, duration, "--queue-age")
    size = _pair(args.queue_size, _count, "--queue-size")
    disk = _pair(args.disk_free, _count, "--disk-free")
    warn_days, crit_days = _count(args.warn_days), _count(args.crit_days)
    burst = _count(args.auth_burst)
    if not 0 <= crit_days <= warn_days <= 3650:
        raise UsageError("--crit-days must not exceed --warn-days (0-3650)")
    if age[1] < age[0] or size[1] < size[0] or disk[1] > disk[0] or disk[0] > 100:
        raise UsageError("a critical threshold must be beyond its warning threshold")
    if burst < 1:
        raise UsageError("--auth-burst must be at least 1")
    return Thresholds(warn_days=warn_days, crit_days=crit_days,
                      queue_warn=size[0], queue_crit=size[1], age_warn=age[0],
                      age_crit=age[1], auth_burst=burst, disk_warn=disk[0],
                      disk_crit=disk[1])


def unknown(out: TextIO, why: str, as_json: bool) -> int:
    line = "MAILWIZARD UNKNOWN - " + " ".join(why.split())
    if as_json:
        out.write(json.dumps({"version": 1, "state": UNKNOWN, "exit_code": 3,
                              "summary": line, "error": why}) + "\n")
    else:
        out.write(line + "\n")
    return EXIT_CODES[UNKNOWN]


def run_check(args: argparse.Namespace, out: TextIO,
              open_target: Callable[[], Target], recipes: Callable[[], Sequence[Recipe]],
              make_resolver: Callable[[Target], Any]) -> int:
    """``mailwizard check``: every exit is a plugin status (errors are UNKNOWN)."""
    from ..answers.validators import report_address_error as address_error
    from ..run import verify_steps
    from .collect import HealthRun
    from .notify import mail_if_changed

    as_json = bool(args.json)
    try:
        t = thresholds(args)
        if args.mail_to is not None and (err := address_error(args.mail_to)):
            raise UsageError(f"--mail-to: {err}")
        if args.dry_run or getattr(args, "rehearse", False):
            raise UsageError("check looks at the running server: no --dry-run or --rehearse")
        target = open_target()
        if target.dry_run:
            raise UsageError(f"check needs this system itself ({target.dry_run_reason})")
        answers = target.load_answers(args.answers)
        engine = target.engine(answers, recipes())
        resolver = make_resolver(target)
        run = HealthRun(target.executor, target.platform, answers, target.state_dir,
                        verify=lambda: verify_steps(engine, probe_host=args.probe_host).checks,
                        resolver=resolver, thresholds=t, probe_host=args.probe_host)
        report = run.run()
    except AnswersError as exc:
        return unknown(out, "the answers are not valid: " + "; ".join(
            f"{f}: {m}" for f, m in exc.errors), as_json)
    except MailwizardError as exc:
        return unknown(out, f"{exc.title}: {exc}", as_json)
    note = ""
    if args.mail_to:
        note = mail_if_changed(report, args.mail_to, target.state_dir,
                               lambda argv, text: target.executor.run(
                                   argv, input=text, quiet=True, timeout=120).returncode)
    write_report(report, out, as_json, note)
    return report.exit_code


def write_report(report: Report, out: TextIO, as_json: bool, note: str = "") -> None:
    if as_json:
        doc = report.to_json()
        if note:
            doc["mail"] = note
        out.write(json.dumps(doc, indent=2) + "\n")
        return
    out.write(report.text())
    if note:
        out.write(f"\n{note}\n")


def schema_path() -> str:
    from pathlib import Path

    return str(Path(__file__).with_name("schema.json"))


__all__ = ["add_options", "run_check", "write_report", "duration", "thresholds",
           "schema_path"]
