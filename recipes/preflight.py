"""Step 1: look before touching anything (root, platform, host name, ports, disk, DNS, users)."""

from __future__ import annotations

import os
from shlex import quote as q
from typing import List

from wizard import checks
from wizard.answers import Answers
from wizard.changes import Change
from wizard.checks import CheckResult, failed, info, passed
from wizard.dnsrecords import check_records
from wizard.dnsrecords.check import unreachable
from wizard.dnsrecords.gather import target_dns_plan
from wizard.dnsrecords.report import as_check_results
from wizard.errors import PlatformError
from wizard.executor import Executor
from wizard.platforms import Platform, detect_platform
from wizard.recipe import PlanContext, Recipe, VerifyContext

from ._daemons import NotProbed, port_programs
from ._hostdns import acme_host_check, dns_resolver
from .acme import port80_check

MAIL_PORTS = (25, 587, 993, 995)
"""SMTP, submission, IMAPS and POP3S: the ports this server will answer on."""
OUR_DAEMONS = ("master", "postfix", "dovecot", "smtpd", "imap-login", "pop3-login",
               "submission-login")
"""Process names that may already hold a mail port (a previous run of the wizard; Dovecot's
login processes share its listening sockets once a client has connected)."""
MIN_FREE_MB = 500


def dns_reachable(ex: Executor, timeout: float = 2.0) -> bool:
    """True when a DNS server of the target's resolver answers within ``timeout`` (any
    answer, REFUSED included; a server that is not there fails at once)."""
    return not unreachable(dns_resolver(ex), timeout)


class PreflightRecipe(Recipe):
    id = "preflight"
    title = "Preflight checks"
    guide = "Guide 000, part 1 'Introduction' and 'Installation' (assumptions before starting)"
    summary = (
        "Checks the server before anything changes: that mailwizard runs as root, that the "
        "distribution is one it knows, that the host name is the fully qualified name from "
        "the answers, that no other program holds the mail ports, and that there is disk "
        "space. In ACME mode the host name must already point at this server (the "
        "certificate authority connects to it by that name). The DNS records the domain "
        "needs are looked up for information only; this step changes nothing.")
    outdated = (
        "The guide assumes CentOS 5, where sendmail holds port 25 by default; today Postfix is "
        "the default MTA on EL, and on Debian/Ubuntu the usual squatter is exim4. We check who "
        "listens on each mail port instead of assuming.",
        "Guides 000 and 003 ask for an MX record for the domain and a reverse (PTR) record "
        "for the server's address (003 adds SPF), but leave checking them to the reader. "
        "Receivers today refuse most mail from a server whose records are missing or do not "
        "agree, so we show what public DNS says (never fatal: the records often come after "
        "the server).",
    )
    touches = ()

    def plan(self, ctx: PlanContext) -> List[Change]:
        return []

    # ------------------------------------------------------------------ checks
    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        ex = ctx.executor
        out: List[CheckResult] = []
        out.append(self._root(ex))
        out.append(self._platform(ex, ctx.platform))
        out.append(self._hostname(ex, ctx.answers))
        out.extend(self._ports(ex))
        out.append(self._disk(ex))
        out.extend(self._users(ex, ctx.answers))
        if ctx.answers.certificate.mode == "acme":
            out.append(acme_host_check(ex, ctx.answers, dns_resolver(ex)))
            out.extend(port80_check(ex, ctx.answers))
        out.extend(self._dns(ex, ctx.answers))
        return out

    @staticmethod
    def _root(ex: Executor) -> CheckResult:
        if not ex.is_real_root:
            return info("running as root", f"target root is {ex.root}: not checked",
                        "only matters when mailwizard configures the machine it runs on")
        if os.geteuid() == 0:
            return passed("running as root", "uid 0")
        return failed("running as root", f"uid {os.geteuid()}",
                      "installing packages and editing /etc needs root: run it with sudo")

    @staticmethod
    def _platform(ex: Executor, platform: Platform) -> CheckResult:
        name = "platform supported"
        if not ex.exists("/etc/os-release") and not ex.exists("/usr/lib/os-release") \
                and not ex.exists("/etc/redhat-release"):
            return info(name, f"no os-release on the target; planned for {platform.name}",
                        "the platform was chosen with --platform")
        try:
            found = detect_platform(ex.root)
        except PlatformError as exc:
            return failed(name, str(exc), "mailwizard has no recipe for this system")
        same = (found.family, found.major) == (platform.family, platform.major)
        if same:
            return passed(name, found.name)
        return failed(name, f"the target is {found.name}, the plan is for {platform.name}",
                      "run again without --platform so the right profile is used")

    @staticmethod
    def _hostname(ex: Executor, answers: Answers) -> CheckResult:
        name = "host name is the mail server's FQDN"
        want = answers.hostname
        static = (ex.read_text("/etc/hostname") or "").strip().lower().rstrip(".")
        seen = [static] if static else []
        if ex.is_real_root and ex.which("hostname"):
            res = ex.run(["hostname", "-f"], quiet=True, timeout=10)
            fqdn = res.stdout.strip().lower().rstrip(".") if res.ok else ""
            if fqdn:
                seen.append(fqdn)
        if want in seen:
            return passed(name, want)
        if not seen:
            return info(name, "no /etc/hostname on the target",
                        f"set it with: hostnamectl set-hostname {want}")
        return failed(name, f"the system calls itself {' / '.join(dict.fromkeys(seen))}, "
                            f"the answers say {want}",
                      f"Postfix uses myhostname from main.cf, but other tools and the package "
                      f"scripts use the system name: hostnamectl set-hostname {want}, and list "
                      f"{want} in /etc/hosts")

    @staticmethod
    def _ports(ex: Executor) -> List[CheckResult]:
        if ex.rehearsal:
            return [checks.not_checked("mail ports free", "ss on the server")]
        try:
            listening = port_programs(ex)
        except NotProbed as exc:
            return [info("mail ports free", exc.detail, exc.hint)]
        out = []
        for port in MAIL_PORTS:
            name = f"port {port} free or ours"
            owners = listening.get(port)
            if not owners:
                out.append(passed(name, "nothing listens"))
            elif all(o in OUR_DAEMONS for o in owners):
                out.append(passed(name, f"held by {', '.join(sorted(set(owners)))}"))
            else:
                out.append(failed(name, f"held by {', '.join(sorted(set(owners)))}",
                                  "another program listens there: stop and remove it "
                                  "(sendmail, exim4) before Postfix/Dovecot can bind"))
        return out

    @staticmethod
    def _disk(ex: Executor) -> CheckResult:
        mb = checks.free_disk_mb(ex, "/var")
        name = "free disk space"
        if mb >= MIN_FREE_MB:
            return passed(name, f"{mb} MB free under /var")
        return failed(name, f"{mb} MB free under /var",
                      f"packages, queue and mailboxes need at least {MIN_FREE_MB} MB")

    @staticmethod
    def _users(ex: Executor, answers: Answers) -> List[CheckResult]:
        existing = ex.users()
        out = []
        for u in answers.users:
            if u.create:
                if u.name in existing:
                    out.append(info(f"user {u.name}", "exists already: kept as it is"))
                continue
            if u.name in existing:
                out.append(passed(f"user {u.name} exists", existing[u.name][2]))
            else:
                out.append(failed(f"user {u.name} exists", "no such account",
                                  "create it first, or set create: true in the answers"))
        admin = answers.admin_user
        if admin not in existing and admin not in [u.name for u in answers.users if u.create]:
            out.append(failed(f"admin user {admin} exists", "no such account",
                              "root's mail is forwarded to this user: create it or list it "
                              "under users with create: true"))
        return out

    @staticmethod
    def _dns(ex: Executor, answers: Answers) -> List[CheckResult]:
        """The records the domain needs, as public DNS has them (informational only:
        records are often published after the server is set up)."""
        if ex.rehearsal:  # a rehearsal asks no one outside this machine
            return [checks.not_checked("DNS records", "queries to public DNS")]
        if not dns_reachable(ex):
            return [info("DNS", "no DNS server answered: skipped",
                         "check again once the server is online (mailwizard dns --check)")]
        plan = target_dns_plan(ex, answers)
        return as_check_results(check_records(plan.records, dns_resolver(ex)))

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        return [
            "id -u   # 0 = root",
            "cat /etc/os-release",
            "hostname -f   # expect " + q(answers.hostname),
            "ss -ltnp | grep -E ':(25|587|993|995)\\b'",
            "df -h /var",
            f"dig +short MX {q(answers.domain)}; dig +short A {q(answers.hostname)}",
            "mailwizard dns --check --answers ANSWERS.yaml   # every record the domain needs",
        ] + [f"getent passwd {q(u.name)}" for u in answers.users if not u.create]
