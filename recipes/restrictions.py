"""Step 7: SMTP restrictions (HELO, sender, relay, recipient), sender_access, RBLs, postgrey."""

from __future__ import annotations

import ipaddress
import socket
from shlex import quote as q
from typing import Dict, List, Optional

from wizard import checks, confedit
from wizard.answers import Answers
from wizard.changes import Change, FileWrite, MasterService, PostfixParams, Service, ShellVars
from wizard.checks import CheckResult
from wizard.confedit import MasterEntry
from wizard.platforms import Platform
from wizard.recipe import ForFamily, PlanContext, Recipe, VerifyContext

from ._daemons import pidfile_direct, postfix_running
from ._dnsbl import RESOLV_CONF, resolver_check
from ._postfix import MAIN_CF, MASTER_CF, joined, main_cf, map_ref, postmap_changes
from ._senders import SENDER_LOGINS, sender_logins, sender_logins_text
from .quota import quota_policy

SENDER_ACCESS = "/etc/postfix/sender_access"
POSTGREY_INET = "127.0.0.1:10023"
POSTGREY_EL_SOCKET = "/var/spool/postfix/postgrey/socket"
POSTGREY_DEFAULTS = "/etc/default/postgrey"
POSTGREY_SYSCONFIG = "/etc/sysconfig/postgrey"
DEFAULT_MAILBOX_SIZE_LIMIT = 51200000


HARDENING = {
    # MAIL FROM/RCPT TO must be <address>: no bare addresses, no RFC 822 comments
    "strict_rfc821_envelopes": "yes",
    # a sender address of our own domains must be one that exists here
    "smtpd_reject_unlisted_sender": "yes",
    # no user%domain or domain!user routing tricks: addresses are user@domain
    "allow_percent_hack": "no",
    "swap_bangpath": "no",
    # "user unknown" answers do not name the table that was asked
    "show_user_unknown_table_name": "no",
}
"""Guide 003's address-hygiene flags, set on every platform (each exists since Postfix 2.x)."""


def policy_service(platform: Platform) -> str:
    """How smtpd reaches postgrey: Debian's package listens on TCP, EL's on a unix socket."""
    if platform.is_debian:
        return f"check_policy_service inet:{POSTGREY_INET}"
    return "check_policy_service unix:postgrey/socket"


SPF_SERVICE = "policyd-spf"


def spf_entry(platform: Platform) -> MasterEntry:
    """The packaged SPF policy server as a master.cf spawn service (one process per smtpd,
    unprivileged, never chrooted: it needs the system's resolver)."""
    return MasterEntry(SPF_SERVICE, "unix", "-", "n", "n", "-", "0",
                       f"spawn {platform.spf_policy_argv}")


def policy_services(answers: Answers, platform: Platform) -> List[str]:
    """The check_policy_service rules of smtpd_recipient_restrictions, in order.

    They always come after reject_unauth_destination (a policy server answering OK or DUNNO
    must never open relaying) and after the cheap built-in checks. SPF comes first, so a
    forged sender is refused at once; then Dovecot's quota-status (step quota), so mail for a
    full mailbox is refused at RCPT instead of bouncing later; greylisting last, so nobody is
    asked to retry a message that would be refused anyway. One line per service.
    """
    out = []
    if answers.restrictions.spf:
        out.append(f"check_policy_service unix:private/{SPF_SERVICE}")
    out += quota_policy(answers)
    if answers.step_enabled("postgrey"):
        out.append(policy_service(platform))
    return out


def postgrey_direct(platform: Platform, delay: int) -> Dict[str, List[List[str]]]:
    listen = (f"--inet={POSTGREY_INET}" if platform.is_debian
              else f"--unix={POSTGREY_EL_SOCKET}")
    return pidfile_direct([["postgrey", listen, f"--delay={delay}", "--daemonize",
                            "--pidfile=/run/postgrey.pid"]], "/run/postgrey.pid")


def restriction_params(answers: Answers, platform: Platform, db: str) -> Dict[str, str]:
    """The main.cf restriction parameters for these answers (pure; used by plan and tests)."""
    r = answers.restrictions
    # smtpd_delay_reject stays at its default (yes): client, HELO and sender rules are all
    # judged at RCPT time, so permit_sasl_authenticated works in every list below
    client = ["permit_mynetworks", "permit_sasl_authenticated"]
    if r.reject_unknown_client:
        client.append("reject_unknown_reverse_client_hostname")
    helo = ["permit_mynetworks", "permit_sasl_authenticated", "reject_invalid_helo_hostname",
            "reject_non_fqdn_helo_hostname"]
    if r.reject_unknown_helo:
        helo.append("reject_unknown_helo_hostname")
    sender = []
    if r.sender_login:
        # first: a logged-in client (only the submission port offers AUTH) may use only the
        # sender addresses its login owns, before permit_sasl_authenticated lets it through
        sender.append("reject_authenticated_sender_login_mismatch")
    sender += ["permit_mynetworks", "permit_sasl_authenticated"]
    if r.sender_access:
        # before the generic rejects, so an explicit OK entry can let a sender through
        sender.append(f"check_sender_access {db}:{SENDER_ACCESS}")
    sender += ["reject_non_fqdn_sender", "reject_unknown_sender_domain"]
    relay = ["permit_mynetworks", "permit_sasl_authenticated", "reject_unauth_destination"]
    # reject_unauth_destination stays in the recipient list on every version: even with
    # smtpd_relay_restrictions it costs nothing and keeps the server closed if an admin
    # later empties the relay list.
    recipient = ["permit_mynetworks", "permit_sasl_authenticated", "reject_unauth_destination",
                 "reject_non_fqdn_recipient", "reject_unknown_recipient_domain"]
    recipient += [f"reject_rbl_client {rbl}" for rbl in r.rbl]
    recipient += policy_services(answers, platform)
    params = {
        "smtpd_client_restrictions": joined(client),
        "smtpd_helo_required": "yes" if r.helo_required else "no",
        "smtpd_helo_restrictions": joined(helo),
        "smtpd_sender_restrictions": joined(sender),
    }
    if r.sender_login:
        params["smtpd_sender_login_maps"] = map_ref(db, SENDER_LOGINS)
    if platform.has_relay_restrictions:
        params["smtpd_relay_restrictions"] = joined(relay)
    params.update({
        "smtpd_recipient_restrictions": joined(recipient),
        # a client that talks before the server answered is a bulk mailer, not a mail server;
        # the DATA stage is where Postfix's documentation says this rule works best
        "smtpd_data_restrictions": joined(["permit_mynetworks", "permit_sasl_authenticated",
                                           "reject_unauth_pipelining"]),
        # anvil's per-client limits (per anvil_rate_time_unit, 60s by default); clients in
        # mynetworks are exempt (smtpd_client_event_limit_exceptions)
        "smtpd_client_connection_rate_limit": str(r.smtpd_client_connection_rate_limit),
        "smtpd_client_message_rate_limit": str(r.smtpd_client_message_rate_limit),
        "smtpd_client_auth_rate_limit": str(r.smtpd_client_auth_rate_limit),
        "smtpd_error_sleep_time": f"{r.smtpd_error_sleep_time}s",
        "smtpd_soft_error_limit": str(r.smtpd_soft_error_limit),
        "smtpd_hard_error_limit": str(r.smtpd_hard_error_limit),
        "disable_vrfy_command": "yes",
        **HARDENING,
    })
    if r.spf:
        # a policy server may take long on slow DNS; Postfix's 1000 s default cuts it off
        params[f"{SPF_SERVICE}_time_limit"] = "3600"
    if r.message_size_limit > 0:
        params["message_size_limit"] = str(r.message_size_limit)
    return params


def sender_access_text(answers: Answers) -> str:
    lines = [
        "# Sender access map written by mailwizard (step \"restrictions\").",
        "# One entry per line: an address, a domain or user@ and the action for it.",
        "# Postfix reads the indexed copy: run `postmap` after every edit of this file.",
        "",
    ]
    width = max((len(k) for k, _ in answers.restrictions.sender_access), default=0) + 2
    lines += [f"{key:<{width}}{action}" for key, action in answers.restrictions.sender_access]
    return "\n".join(lines) + "\n"


class RestrictionsRecipe(Recipe):
    id = "restrictions"
    title = "SMTP restrictions and anti-spam checks"
    guide = ("Guide 000, part 2 (Postfix restrictions); guide 002 (block lists, postgrey); "
             "guide 003 (modern restriction lists)")
    summary = (
        "Decides who may talk to the server and for which addresses. Clients must introduce "
        "themselves with a sane, fully qualified HELO name; senders and recipients need fully "
        "qualified addresses in domains that exist in DNS; optional block lists and greylisting "
        "filter the rest. Relaying is allowed only to trusted networks and logged-in users: "
        "reject_unauth_destination is always part of the rules, so the server can never become "
        "an open relay. Noisy clients are slowed down and cut off after repeated errors, and "
        "VRFY is switched off so nobody can probe for valid accounts (as guides 003 and 004 "
        "do). On the submission port "
        "a logged-in user may send only as their own address and the aliases that end at "
        "them alone: a sender login map built from the users and aliases answers which login "
        "owns which address. Clients that send commands before the server answered "
        "(pipelining abuse) are refused, each client's connections, messages and login "
        "attempts per minute are limited, and clients without reverse DNS can be refused "
        "before anything else. Envelopes must follow RFC 821 (<address>), old routing "
        "tricks (user%domain, bang paths) are off, and a stranger may not use an unknown "
        "address of our own domain as sender. Mail from other servers is checked against "
        "the sender domain's SPF record by the distribution's policyd-spf, and refused when "
        "the record says the sending server is not allowed (fail).")
    outdated = (
        "The guides put relay control in smtpd_recipient_restrictions. Since Postfix 2.10 it "
        "has its own list, smtpd_relay_restrictions, which we use where the Postfix version "
        "has it; the recipient list keeps reject_unauth_destination as a second lock.",
        "reject_invalid_hostname and reject_non_fqdn_hostname were renamed to "
        "reject_invalid_helo_hostname and reject_non_fqdn_helo_hostname long ago (2.3).",
        "A `permit` at the end of a list and `smtpd_delay_reject = yes` are the defaults; we do "
        "not write them.",
        "reject_unknown_helo_hostname is left out unless asked for: clients with a temporary "
        "DNS problem would lose mail.",
        "The very long smtpd_error_sleep_time (30-60 s) of some guides also hurts honest "
        "clients with a typo; we default to a short delay and a hard error limit.",
        "Guide 002 binds senders with a pcre map `/^(.*)@example.com$/ ${1}` and "
        "reject_sender_login_mismatch. That lets a login claim any address with its name, and "
        "it also refuses mail from other servers that carries one of our addresses "
        "(forwarders, mailing lists). We list every address with its one owner "
        "(/etc/postfix/sender_logins) and use reject_authenticated_sender_login_mismatch, "
        "which judges logged-in clients only: AUTH is offered only on port 587, so this is the "
        "submission port's rule and port 25 is unchanged.",
        "Guide 000 writes smtpd_delay_reject = yes and calls it a requirement of the HELO "
        "rules; guide 001 sets it to no for a 'sleep 5' client delay. We keep Postfix's "
        "default (yes, so not written): every client, HELO and sender rule waits until RCPT "
        "TO, the log names sender and recipient of each rejection, and "
        "permit_sasl_authenticated works in those lists because AUTH comes before RCPT. With "
        "no, a client would be judged before it could log in. The sleep trick only ties up "
        "our own smtpd processes.",
        "Guides 000 and 003 put reject_unauth_pipelining in the recipient (or every) list; it "
        "belongs in smtpd_data_restrictions, where it sees a client sending DATA and the "
        "message before the server answered. Postfix 3.9 and newer (Debian 13) also drop "
        "such clients by default (smtpd_forbid_unauth_pipelining).",
        "reject_unknown_reverse_client_hostname (guide 003's client rule) is an answer, off "
        "by default: many small honest servers have no reverse DNS. The stricter "
        "reject_unknown_client_hostname of guide 002 is not offered.",
        "Guide 002's rate limits (2400 connections and 12000 messages per 120 s) are so high "
        "they never trip. Ours are per client per minute (anvil_rate_time_unit keeps its "
        "default of 60 s): 60 connections, 100 messages and 20 AUTH commands, with "
        "smtpd_client_auth_rate_limit added against password guessing; trusted networks are "
        "exempt.",
        "Guide 003's strict_rfc821_envelopes, show_user_unknown_table_name = no, "
        "allow_percent_hack = no and swap_bangpath = no are set as it says, with "
        "smtpd_reject_unlisted_sender = yes: a stranger may no longer use a made-up address "
        "of our own domain as sender. Mail clients and servers that follow the RFCs (every "
        "current one, swaks, Python's smtplib) are not affected; an old script that sends "
        "MAIL FROM without angle brackets is.",
        "Guides 000 and 002 list reject_rbl_client zen.spamhaus.org without a return-code "
        "filter. Spamhaus answers refused queries (from public resolvers such as 8.8.8.8, or "
        "over its free limit) with 127.255.255.x, which an unfiltered rule takes for a "
        "listing: all mail is then rejected. The answers accept Postfix's filter "
        "(zen.spamhaus.org=127.0.0.[2..11]), the demo uses it, and verify warns when "
        "/etc/resolv.conf points at a public resolver.",
        "Guide 002 downloads postfix-policyd-spf-perl by hand, installs it in /usr/local and "
        "runs it as nobody. The distributions package a maintained SPF policy server: "
        "postfix-policyd-spf-python on Debian/Ubuntu (its own user policyd-spf, "
        "/usr/bin/policyd-spf) and pypolicyd-spf from EPEL on EL (user nobody, "
        "/usr/libexec/postfix/policyd-spf); we use those with their shipped policy (refuse "
        "on fail only). Its time limit is the per-service policyd-spf_time_limit = 3600, not "
        "the global policy_time_limit the guide sets; check_policy_service comes after "
        "reject_unauth_destination, never before it (that would open relaying).",
        "Guide 002 lowers postgrey's delay to 60 s by appending to OPTIONS in "
        "/etc/sysconfig/postgrey, a variable of the old init script. The delay is an answer "
        "(restrictions.postgrey_delay, postgrey's own 300 s by default), written to "
        "POSTGREY_OPTS in /etc/default/postgrey (Debian) or /etc/sysconfig/postgrey (EPEL), "
        "and the services step restarts postgrey so it takes effect.",
        ForFamily("el",
        "Maps are built with the platform's database type: `lmdb:` on EL10, where Postfix has "
        "no Berkeley DB and `hash:` fails."),
        "postgrey's listener differs: Debian's package listens on TCP port 10023 (we bind it to "
        "127.0.0.1), EL's on the unix socket postgrey/socket in the Postfix queue directory.",
    )
    touches = (MAIN_CF, f"{MASTER_CF} (policyd-spf)", SENDER_ACCESS, SENDER_LOGINS,
               f"{POSTGREY_DEFAULTS} or {POSTGREY_SYSCONFIG}", "postgrey")

    def plan(self, ctx: PlanContext) -> List[Change]:
        a, p = ctx.answers, ctx.platform
        changes: List[Change] = []
        if a.restrictions.sender_access:
            # a map we create is removed on undo; one that existed is rebuilt after its
            # source file is restored (see recipes._postfix.map_build)
            text = sender_access_text(a)
            changes += postmap_changes(
                ctx.view, ctx.db, SENDER_ACCESS,
                FileWrite(SENDER_ACCESS, text, mode=0o644,
                          reason="senders to refuse or accept explicitly"),
                source_changes=ctx.view.read_text(SENDER_ACCESS) != text)
        if a.restrictions.sender_login:
            text = sender_logins_text(a, ctx.db)
            changes += postmap_changes(
                ctx.view, ctx.db, SENDER_LOGINS,
                FileWrite(SENDER_LOGINS, text, mode=0o644,
                          reason="which login may send as which address (587)"),
                source_changes=ctx.view.read_text(SENDER_LOGINS) != text)
        if a.step_enabled("postgrey"):
            delay = f"--delay={a.restrictions.postgrey_delay}"
            if p.is_debian:
                changes.append(ShellVars(POSTGREY_DEFAULTS,
                                         {"POSTGREY_OPTS": f"--inet={POSTGREY_INET} {delay}"},
                                         reason="postgrey listens on the loopback only; its "
                                                "greylisting delay"))
            else:
                # EPEL's unit passes $POSTGREY_OPTS last, after its own defaults
                changes.append(ShellVars(POSTGREY_SYSCONFIG, {"POSTGREY_OPTS": delay},
                                         reason="postgrey's greylisting delay"))
            # started before main.cf names it, so smtpd never calls a missing policy server
            # (the services step restarts it when its settings file changed)
            changes.append(Service("postgrey", action="start",
                                   direct=postgrey_direct(p, a.restrictions.postgrey_delay)))
        if a.restrictions.spf:
            # defined before main.cf names it, so smtpd never calls a missing service
            changes.append(MasterService([spf_entry(p)],
                                         reason="the SPF policy server, started by Postfix"))
        params = restriction_params(a, p, ctx.db)
        cur = main_cf(ctx.view)
        limit = a.restrictions.message_size_limit
        mailbox = cur.get("mailbox_size_limit", str(DEFAULT_MAILBOX_SIZE_LIMIT)).strip()
        if limit > 0 and mailbox.isdigit() and 0 < int(mailbox) <= limit:
            # Postfix refuses to run when a mailbox may be smaller than one message; "equal"
            # is planned too, so a resume after this very edit plans the same change
            params["mailbox_size_limit"] = str(limit)
        changes.append(PostfixParams(params, reason="restriction lists and limits"))
        return changes

    # ------------------------------------------------------------------ verify
    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        ex = ctx.executor
        params = restriction_params(ctx.answers, ctx.platform, ctx.platform.default_database_type)
        out = checks.main_cf_values(ex, params)
        values = confedit.read_main_cf(ex.read_text(MAIN_CF))
        guard = [k for k in ("smtpd_relay_restrictions", "smtpd_recipient_restrictions")
                 if "reject_unauth_destination" in values.get(k, "")]
        delay = values.get("smtpd_delay_reject", "yes").strip().lower()
        out.append(CheckResult(
            "smtpd_delay_reject stays yes", delay == "yes", f"smtpd_delay_reject = {delay}",
            "" if delay == "yes" else "with no, client and HELO rules run before AUTH, so "
            "permit_sasl_authenticated cannot let logged-in users through: postconf -X "
            "smtpd_delay_reject"))
        if ctx.answers.restrictions.sender_login:
            out.extend(_sender_login_checks(ctx))
        if ctx.answers.restrictions.spf:
            out.extend(_spf_checks(ctx))
        if ctx.answers.restrictions.rbl:
            out.append(resolver_check(ex.read_text(RESOLV_CONF), ctx.answers.restrictions.rbl))
        out.append(CheckResult("relay rules present", bool(guard),
                               "reject_unauth_destination in " + (", ".join(guard) or "nothing"),
                               "" if guard else "without it the server relays for anyone"))
        if ex.rehearsal:
            out.append(checks.not_checked("not an open relay", "a running Postfix"))
        elif postfix_running(ex):
            source = _source_address(ctx.probe_host)
            if source is not None and _in_networks(source, ctx.answers.mynetworks):
                out.append(checks.info(
                    "not an open relay",
                    f"probing {ctx.probe_host} from {source}, which is a trusted network",
                    "trusted networks may relay by design; run verify with --probe-host "
                    "<public address> from another machine to test as a stranger"))
            else:
                out.append(checks.relay_denied(ctx.probe_host, 25))
        else:
            out.append(checks.info("not an open relay", "postfix is not running",
                                   "start it (step services) and verify again"))
        return out

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        cmds = ["postconf smtpd_relay_restrictions smtpd_recipient_restrictions "
                "smtpd_helo_restrictions smtpd_sender_restrictions",
                "postconf smtpd_client_restrictions smtpd_data_restrictions smtpd_delay_reject",
                "postconf -n | grep _rate_limit   # the anvil limits per client and minute"]
        if answers.restrictions.sender_access:
            key = answers.restrictions.sender_access[0][0]
            ref = q(f"{platform.default_database_type}:{SENDER_ACCESS}")
            cmds.append(f"postmap -q {q(key)} {ref}")
        if answers.restrictions.sender_login:
            user, other = answers.admin_user, f"nobody-else@{answers.domain}"
            ref = q(map_ref(platform.default_database_type, SENDER_LOGINS))
            cmds.append(f"postmap -q {q(user + '@' + answers.domain)} {ref}   # expect {user}")
            cmds.append(f"swaks --server {q(answers.hostname)} --port 587 --tls --auth-user "
                        f"{q(user)} --from {q(other)} --to {q(user + '@' + answers.domain)}"
                        "   # expect 553 ... not owned by user")
        if answers.restrictions.rbl:
            zone = answers.restrictions.rbl[0].split("=", 1)[0]
            cmds.append(f"grep nameserver {RESOLV_CONF}   # not a public resolver "
                        "(8.8.8.8, 1.1.1.1, 9.9.9.9...) when block lists are used")
            cmds.append(f"dig +short {q('2.0.0.127.' + zone)} A   # the list's test entry: "
                        "127.0.0.x; 127.255.255.x means the resolver is refused")
        if answers.restrictions.spf:
            cmds.append(f"postconf -M {SPF_SERVICE}/unix; postconf {SPF_SERVICE}_time_limit")
            cmds.append("journalctl -t policyd-spf -n 20   # SPF results of incoming mail "
                        f"(or grep policyd-spf {q(platform.mail_log)})")
        cmds.append("# from a machine outside mynetworks: swaks --to someone@example.org "
                    f"--server {q(answers.hostname)}   # expect 'Relay access denied'")
        return cmds


def _spf_checks(ctx: VerifyContext) -> List[CheckResult]:
    """The spawn service is in master.cf and its program is installed."""
    ex = ctx.executor
    entry = confedit.read_master_cf(ex.read_text(MASTER_CF)).get((SPF_SERVICE, "unix"), "")
    want = spf_entry(ctx.platform).command
    program = want.split("argv=", 1)[1].split()[0]
    out = [CheckResult("SPF policy service in master.cf", " ".join(entry.split()).endswith(want),
                       " ".join(entry.split()) or "missing",
                       "" if entry else f"add: {spf_entry(ctx.platform).render().strip()}")]
    if ex.rehearsal:  # the packages were not really installed
        out.append(checks.not_checked("SPF policy server installed", "the installed packages"))
    elif ex.exists(program):
        out.append(checks.passed("SPF policy server installed", program))
    else:
        out.append(checks.failed("SPF policy server installed", f"{program} is missing",
                                 "install " + " ".join(ctx.platform.packages_spf)
                                 + (" (from EPEL)" if ctx.platform.is_el else "")))
    return out


def _sender_login_checks(ctx: VerifyContext) -> List[CheckResult]:
    """The sender login map answers each address with its owner (postmap -q)."""
    ex = ctx.executor
    if not ex.which("postmap"):
        return [checks.info("sender login map answers", "postfix is not installed")]
    if ex.rehearsal:
        return [checks.not_checked("sender login map answers", "postmap on the server")]
    ref = map_ref(ctx.platform.default_database_type, SENDER_LOGINS)
    out = []
    logins = sender_logins(ctx.answers)
    table = checks.map_lookup(ex, ref, [address for address, _ in logins])
    for address, login in logins:
        got = (table or {}).get(address, "")
        ok = table is not None and got == login
        out.append(CheckResult(f"sender login map answers {address}", ok,
                               f"postmap -q {address} {ref} -> {got or 'nothing'}",
                               "" if ok else f"expected {login}; run: postmap {ref}"))
    return out


def _source_address(host: str) -> Optional[str]:
    """The local address the kernel would use to reach ``host`` (no packet is sent)."""
    try:
        infos = socket.getaddrinfo(host, 25, type=socket.SOCK_DGRAM)
        family, _, _, _, addr = infos[0]
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect(addr)
            return str(s.getsockname()[0])
    except OSError:
        return None


def _in_networks(address: str, networks: tuple) -> bool:  # type: ignore[type-arg]
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    for net in networks:
        try:
            if ip in ipaddress.ip_network(net.replace("[", "").replace("]", ""), strict=False):
                return True
        except ValueError:
            continue
    return False
