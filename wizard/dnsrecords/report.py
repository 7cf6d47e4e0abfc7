"""``mailwizard dns``: the records printed, and (``--check``) the outcome of each.

Returns the exit status the CLI uses: 0 when every checked record is as expected, 1 when one
is missing or different or could not be checked (the table in the README).
"""

from __future__ import annotations

import os
from typing import Any, List, Optional, Sequence, TextIO

from ..checks import CheckResult
from .check import (
    MISSING,
    NAMESERVER_ENV,
    OK,
    UNKNOWN,
    RecordCheck,
    Tally,
    make_resolver,
)
from .gather import DnsPlan
from .render import publish_line

FORMATS = ("zone", "table")
_MARK = {"ok": "ok", "missing": "MISSING", "different": "DIFFERENT", "present": "present",
         "unknown": "unknown", "unchecked": "-"}


def nameservers_from(options: Optional[Sequence[str]]) -> List[str]:
    """``--nameserver`` values, else the comma-separated :data:`NAMESERVER_ENV`."""
    if options:
        return list(options)
    env = os.environ.get(NAMESERVER_ENV, "")
    return [x.strip() for x in env.split(",") if x.strip()]


def target_resolver(nameservers: Sequence[str], resolv_conf: Optional[str],
                    timeout: float) -> Any:
    """The resolver to check with: ``nameservers`` if any, else the target's resolv.conf
    (``resolv_conf``, a host path) when it exists, else the system's.

    Raises:
        ValueError: a bad nameserver.
    """
    if nameservers:
        return make_resolver(nameservers, timeout)
    if resolv_conf and os.path.isfile(resolv_conf):
        return make_resolver((), timeout, resolv_conf=resolv_conf)
    return make_resolver((), timeout)


def print_records(plan: DnsPlan, fmt: str, out: TextIO) -> None:
    out.write(plan.zone() if fmt == "zone" else plan.table())


def print_checks(results: Sequence[RecordCheck], out: TextIO) -> int:
    """Each outcome, then what to publish; the exit status (0 all fine, 1 otherwise)."""
    for c in results:
        r = c.record
        out.write(f"{_MARK[c.status]:<9} {r.display_name} {r.type} ({r.purpose})\n")
        if c.status not in (OK,) and c.found:
            out.write(f"          found: {'; '.join(c.found)}\n")
        if c.detail and c.status != OK:
            out.write(f"          {c.detail}\n")
        if c.problem and r.known:
            out.write(f"          publish: {publish_line(r)}\n")
    tally = Tally.of(results)
    out.write(f"\n{tally.text() or 'no records'}.\n")
    bad = [c for c in results if c.problem]
    unknown = [c for c in results if c.status == UNKNOWN]
    if bad:
        missing = sum(1 for c in bad if c.status == MISSING)
        out.write(f"{missing} record(s) missing and {len(bad) - missing} different: publish "
                  "the lines above at your DNS provider (changes can take as long as the "
                  "records' TTL to be seen).\n")
    if unknown:
        out.write(f"{len(unknown)} record(s) could not be checked: the resolver gave no "
                  "answer (try --nameserver IP).\n")
    return 1 if bad or unknown else 0


def as_check_results(results: Sequence[RecordCheck]) -> List[CheckResult]:
    """The outcomes as verify's checks. DNS is published by the admin, often after the
    server is set up, and a resolver may be out of reach: so a missing or different record
    is informational (with the line to publish), never a failed check; only ``ok`` passes."""
    out: List[CheckResult] = []
    for c in results:
        r = c.record
        name = f"DNS {r.purpose}: {r.display_name} {r.type}"
        found = f"found {'; '.join(c.found)}" if c.found else ""
        detail = "; ".join(x for x in (c.status if c.status != OK else "", found, c.detail)
                           if x) or publish_line(r)
        if c.status == OK:
            out.append(CheckResult(name, True, publish_line(r)))
            continue
        hint = f"publish: {publish_line(r)}" if c.problem and r.known else r.explanation
        if c.status == UNKNOWN:
            hint = "not checked: " + hint
        out.append(CheckResult(name, None, detail, hint))
    return out
