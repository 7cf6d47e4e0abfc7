"""Step 12: validate the configuration, then enable and (re)start or reload the daemons."""

from __future__ import annotations

import ipaddress
from typing import List, Optional

from wizard import checks
from wizard.answers import Answers
from wizard.changes import Change, ConfiguredService, Validate
from wizard.checks import CheckResult
from wizard.platforms import Platform
from wizard.recipe import ForFamily, PlanContext, Recipe, VerifyContext

from ._daemons import dovecot_running, listeners, only_loopback, postfix_running
from ._dovecot import DOVECOT_CONFD, DOVECOT_DIR
from ._logs import mail_log_check, queue_check
from ._postfix import MAIN_CF, MASTER_CF, main_cf
from .certificate import cert_paths
from .restrictions import postgrey_direct
from .sasl import SASLAUTHD_DROPIN, saslauthd_direct


def _postfix_listen_changed(ctx: PlanContext) -> Optional[str]:
    """Why postfix needs a full restart (inet_interfaces changes are not applied by reload)."""
    wanted = main_cf(ctx.view).get("inet_interfaces", "all").strip()
    now = listeners(ctx.view, 25)
    if not now:  # not running, or /proc not readable: a start or reload will do
        return None
    loop_only = only_loopback(now)
    wants_loop = wanted in ("localhost", "loopback-only", "127.0.0.1", "::1")
    if loop_only and not wants_loop:
        return (f"postfix listens on {', '.join(now)} only and inet_interfaces is now "
                f"{wanted!r}: a reload does not rebind sockets, so it is restarted")
    if wants_loop and not loop_only:
        return "inet_interfaces is now the loopback only: postfix is restarted to rebind"
    # a reload ignores an inet_protocols change too, and the master then dies binding a new
    # service (e.g. submission) on the dropped family: "fatal: :::submission: Address family
    # for hostname not supported" (seen on Debian 12 under systemd, all -> ipv4)
    protocols = main_cf(ctx.view).get("inet_protocols", "all").replace(",", " ").split()
    families = {ipaddress.ip_address(a).version for a in now
                if getattr(ipaddress.ip_address(a), "ipv4_mapped", None) is None}
    for version, name in ((4, "ipv4"), (6, "ipv6")):
        if version in families and not {"all", name} & set(protocols):
            return (f"postfix listens on IPv{version} and inet_protocols is now "
                    f"{' '.join(protocols)!r}: a reload keeps the old protocols, so it is "
                    "restarted")
    return None


class ServicesRecipe(Recipe):
    id = "services"
    title = "Check the configuration and start the services"
    guide = "Guide 000, part 1 section 4 (starting the server); guide 001 (apply the configuration)"
    summary = (
        "Runs `postfix check` and `doveconf -n` first, on every apply: if either rejects the "
        "configuration nothing is restarted and the step stops with the checker's message. "
        "Then the daemons are enabled at boot and started, or reloaded when they already run "
        "and their configuration changed (a converged re-run touches nothing). Postfix is "
        "restarted instead of reloaded when its listen address changed, because a reload "
        "keeps the old sockets (typical on EL, whose package listens on localhost only). "
        "systemd is used when it runs; otherwise the SysV init script (on Debian it also "
        "prepares Postfix's chroot), or the daemons are started directly in containers.")
    outdated = (
        "chkconfig and /etc/init.d scripts (guide 000) are replaced by systemctl enable --now "
        "on every supported release; mailwizard still falls back to init scripts or direct "
        "commands where no systemd runs.",
        ForFamily("el",
        "system-switch-mail no longer exists; making Postfix the default MTA is done by the "
        "packages step (alternatives on EL8+)."),
        "`postfix reload` does not apply a changed inet_interfaces; a stop/start is needed.",
    )
    touches = ("postfix", "dovecot", "saslauthd", "postgrey")

    def plan(self, ctx: PlanContext) -> List[Change]:
        a, p = ctx.answers, ctx.platform
        cert, key = cert_paths(a, p)
        postfix_conf = [MAIN_CF, MASTER_CF, cert, key]
        dovecot_conf = [DOVECOT_DIR, DOVECOT_CONFD, cert, key]
        changes: List[Change] = [
            Validate(["postfix", "check"], "validate the Postfix configuration (postfix check)",
                     postfix_conf),
            Validate(["doveconf", "-n"], "validate the Dovecot configuration (doveconf -n)",
                     dovecot_conf),
        ]
        if a.sasl.backend == "cyrus":
            conf = [p.saslauthd_conf, p.cyrus_smtpd_conf, SASLAUTHD_DROPIN]
            changes.append(ConfiguredService("saslauthd", action="restart", config=conf,
                                             direct=saslauthd_direct(p)))
        if a.step_enabled("postgrey"):
            conf = ["/etc/default/postgrey"] if p.is_debian else ["/etc/sysconfig/postgrey"]
            direct = postgrey_direct(p, a.restrictions.postgrey_delay)
            changes.append(ConfiguredService("postgrey", action="restart", config=conf,
                                             direct=direct))
        why = _postfix_listen_changed(ctx)
        changes.append(ConfiguredService(
            "postfix", action="reload", config=postfix_conf,
            status_unit=p.postfix_unit,  # postfix@- up to Debian's 3.9, see Platform
            must_restart=why is not None, why=why or ""))
        changes.append(ConfiguredService("dovecot", action="reload", config=dovecot_conf))
        return changes

    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        a, ex, host = ctx.answers, ctx.executor, ctx.probe_host
        out: List[CheckResult] = [checks.postfix_check(ex), checks.doveconf_check(ex)]
        if postfix_running(ex):
            out.append(checks.passed("postfix status", "the master process runs"))
            out += [checks.port_open(host, 25), checks.port_open(host, 587)]
        else:
            out.append(checks.failed("postfix status", "postfix is not running",
                                     f"see journalctl -u {ctx.platform.postfix_unit} or "
                                     "the mail log"))
        # guides 000 and 004: the mail log and the queue are the admin's first tools
        out.append(mail_log_check(ex, ctx.platform, ctx.facts.service_manager))
        out.append(queue_check(ex, postfix_running(ex)))
        if dovecot_running(ex):
            out.append(checks.passed("dovecot running"))
            ports = ([993] if a.imap else []) + ([995] if a.pop3 else [])
            out += [checks.port_open(host, port) for port in ports]
        else:
            out.append(checks.failed("dovecot running", "dovecot is not running",
                                     "see journalctl -u dovecot"))
        return out

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        units = ["postfix", "dovecot"]
        if answers.sasl.backend == "cyrus":
            units.append("saslauthd")
        if answers.step_enabled("postgrey"):
            units.append("postgrey")
        return ["postfix check && doveconf -n >/dev/null && echo config OK",
                "systemctl is-enabled " + " ".join(units),
                "postfix status; ss -ltnp | grep -E ':(25|587|993|995) '",
                f"journalctl -u {platform.postfix_unit} -n 20   # or {platform.mail_log}",
                "postqueue -j | wc -l   # messages waiting in the queue"]

