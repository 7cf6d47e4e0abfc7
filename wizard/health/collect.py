"""Run every health check of ``mailwizard check`` and gather the findings in a report.

The front ends (the ``check`` verb, the TUI's Health screen) hand in what only they can
build: the verify function (the steps' own checks through the engine) and the resolver.
Each part that fails unexpectedly becomes an UNKNOWN finding: a check never stops the others.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional

from .. import mailqueue
from ..answers import Answers
from ..checks import CheckResult
from ..dnsrecords.addresses import public_addresses
from ..dnsrecords.check import check_records
from ..dnsrecords.gather import target_dns_plan
from ..engine import Engine
from ..errors import UsageError
from ..executor import Executor, RehearsalExecutor
from ..facts import interface_addresses
from ..logsource import LogRead, maillog_file, read_log
from ..maillog import parse_lines, window_counts
from ..platforms import Platform
from ..run import verify_steps
from . import certs, disk, drift, logscan, network, queue
from .model import CRITICAL, OK, UNKNOWN, Finding, Report

VerifyFn = Callable[[], Dict[str, List[CheckResult]]]


@dataclass(frozen=True)
class Thresholds:
    warn_days: int = 21
    crit_days: int = 7
    queue_warn: int = 50
    queue_crit: int = 200
    """Messages in the queue."""
    age_warn: int = 4 * 3600
    age_crit: int = 24 * 3600
    """Seconds the oldest queued message has waited."""
    auth_burst: int = 20
    """Failed logins from one address in 24 h that make a burst."""
    disk_warn: int = 10
    disk_crit: int = 5
    """Percent free."""


def verify_findings(results: Dict[str, List[CheckResult]]) -> List[Finding]:
    """The steps' checks: a failed one is CRITICAL, the others OK (DNS checks are left to
    the dns group, skipped ones are left out)."""
    out = []
    for step, checks in results.items():
        for c in checks:
            if c.not_checked or c.name.startswith("DNS "):
                continue
            state = CRITICAL if c.ok is False else OK
            out.append(Finding("services", f"{step}: {c.name}", state, c.detail,
                               c.explanation if state != OK else ""))
    return out


class HealthRun:
    """One check of a configured server."""

    def __init__(self, ex: Executor, platform: Platform, answers: Answers, state_dir: Path,
                 *, verify: Optional[VerifyFn] = None, resolver: Any = None,
                 thresholds: Thresholds = Thresholds(), probe_host: str = "127.0.0.1",
                 now: Optional[float] = None) -> None:
        self.ex, self.platform, self.answers = ex, platform, answers
        self.state_dir = state_dir
        self.verify, self.resolver = verify, resolver
        self.t = thresholds
        self.probe_host = probe_host
        self.now = time.time() if now is None else now

    @property
    def now_dt(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.now, _dt.timezone.utc)

    def parts(self) -> List[Callable[[], Iterable[Finding]]]:
        return [self.services, self.certificates, self.dns, self.queue, self.log,
                self.disk, self.drift]

    def run(self) -> Report:
        report = Report(self.answers.hostname)
        for part in self.parts():
            report.findings += self.safely(part)
        return report

    @staticmethod
    def safely(part: Callable[[], Iterable[Finding]]) -> List[Finding]:
        try:
            return list(part())
        except Exception as exc:  # noqa: BLE001 - one broken part must not hide the others
            name = getattr(part, "__name__", "check")
            return [Finding(name if name in (
                "services", "certificates", "dns", "queue", "log", "disk", "drift")
                else "services", f"{name} checks", UNKNOWN,
                f"could not be made: {type(exc).__name__}: {exc}")]

    # ------------------------------------------------------------------ parts
    def services(self) -> List[Finding]:
        a = self.answers
        out = network.port_findings(self.probe_host, network.expected_ports(
            a.imap, a.pop3, a.plaintext_ports))
        if self.verify is not None:
            out += verify_findings(self.verify())
        return out

    def certificates(self) -> List[Finding]:
        a = self.answers
        out = certs.served_cert_findings(self.probe_host, certs.tls_ports(a.imap, a.pop3),
                                         a.hostname, self.now_dt, self.t.warn_days,
                                         self.t.crit_days)
        if a.certificate.mode == "acme":
            out.append(certs.acme_hook_finding(self.ex))
        return out

    def dns(self) -> List[Finding]:
        plan = target_dns_plan(self.ex, self.answers)
        out = network.record_findings(check_records(plan.records, self.resolver))
        addresses, _source = public_addresses(self.answers, interface_addresses(self.ex))
        out += network.rbl_findings(addresses, self.answers.restrictions.rbl,
                                    network.resolver_lookup(self.resolver))
        return out

    def queue(self) -> List[Finding]:
        t = self.t
        try:
            messages, problems = mailqueue.read_queue_entries(self.ex)
        except mailqueue.QueueUnreadable as exc:
            summary, problems, why = None, [], f"postqueue failed: {exc}"[:220]
        else:
            summary, why = mailqueue.summarise(messages, self.now), ""
        return queue.queue_findings(summary, size_warn=t.queue_warn, size_crit=t.queue_crit,
                                    age_warn=t.age_warn, age_crit=t.age_crit,
                                    skipped=len(problems), why_unknown=why)

    def log_read(self) -> LogRead:
        """The last day's mail log (:func:`wizard.logsource.read_log`)."""
        return read_log(self.ex, self.platform, logscan.WINDOW, self.now)

    def log(self) -> List[Finding]:
        read = self.log_read()
        if not read.sources:
            wanted = [p for p in (maillog_file(self.ex), self.platform.mail_log) if p]
            return logscan.log_findings(None, " or ".join(dict.fromkeys(wanted)) or "log file",
                                        auth_warn=self.t.auth_burst)
        since = self.now - logscan.WINDOW
        counts = window_counts(parse_lines(read.lines, now=self.now, since=since))
        return logscan.log_findings(counts, " and ".join(read.sources),
                                    auth_warn=self.t.auth_burst)

    def disk(self) -> List[Finding]:
        return disk.disk_findings(self.ex, [("/var/spool/postfix", "the mail queue"),
                                            ("/home", "the mailboxes"),
                                            ("/var/mail", "the mail spool")],
                                  self.t.disk_warn, self.t.disk_crit)

    def drift(self) -> List[Finding]:
        skip: List[str] = []
        a, p = self.answers, self.platform
        if a.certificate.mode == "acme":  # the deploy hook rewrites them on every renewal
            skip = certs.cert_files(a.hostname, p.cert_dir, p.key_dir,
                                    (p.dovecot_cert, p.dovecot_key))
        return drift.drift_findings(self.ex, self.state_dir, skip)


def check_engine(engine: Engine, state_dir: Path, thresholds: Thresholds = Thresholds(),
                 probe_host: str = "127.0.0.1") -> Report:
    """The whole check for an engine's target and answers (the TUI's Health screen): the
    steps' checks through ``engine``, DNS through the target's resolv.conf (or
    ``$MAILWIZARD_NAMESERVER``).

    Raises:
        UsageError: a dry run or a rehearsal (there is no running server to check).
    """
    from ..dnsrecords.report import nameservers_from, target_resolver

    ex = engine.executor
    if ex.dry_run or isinstance(ex, RehearsalExecutor):
        raise UsageError("the health check looks at the running server: not in a dry run "
                         "or a rehearsal")
    try:
        resolver = target_resolver(nameservers_from(None), str(ex.path("/etc/resolv.conf")),
                                   timeout=3.0)
    except ValueError:
        resolver = None
    return HealthRun(ex, engine.platform, engine.answers, state_dir,
                     verify=lambda: verify_steps(engine, probe_host=probe_host).checks,
                     resolver=resolver, thresholds=thresholds, probe_host=probe_host).run()
