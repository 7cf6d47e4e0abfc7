"""Step 9: SMTP authentication (SASL) through Dovecot's auth socket or Cyrus saslauthd."""

from __future__ import annotations

import os
from shlex import quote as q
from typing import List

from wizard import checks
from wizard.answers import Answers
from wizard.changes import (
    Change,
    Command,
    Directory,
    DovecotSettings,
    FileWrite,
    PostfixParams,
    ShellVars,
    SystemdDropIn,
    UserGroup,
)
from wizard.checks import CheckResult
from wizard.platforms import Platform
from wizard.recipe import ForFamily, PlanContext, Recipe, VerifyContext

from ._daemons import dovecot_running, pidfile_direct
from ._dovecot import DOVECOT_CONFD
from ._pam import pam_with_group
from ._postfix import MAIN_CF

DOVECOT_AUTH_DROPIN = f"{DOVECOT_CONFD}/99-mailwizard-auth.conf"
AUTH_SOCKET = "/var/spool/postfix/private/auth"
DEB_SASL_RUN = "/var/spool/postfix/var/run/saslauthd"
EL_SASL_RUN = "/run/saslauthd"
SASLAUTHD_DROPIN = "/etc/systemd/system/saslauthd.service.d/mailwizard.conf"

DOVECOT_AUTH_TEXT = """\
# Written by mailwizard (step "sasl").
# Postfix asks Dovecot to check SMTP logins through this socket inside the Postfix queue
# directory (smtpd_sasl_path = private/auth). Only the postfix user may connect.
service auth {
  unix_listener /var/spool/postfix/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
"""

SASLAUTHD_DROPIN_TEXT = f"""\
# Written by mailwizard (step "sasl").
# The native saslauthd unit does not follow the socket directory set in /etc/default/saslauthd.
# Postfix's smtpd runs chrooted in /var/spool/postfix, so the socket (and the pid file, which
# saslauthd writes next to it) must live inside the chroot.
[Service]
Type=forking
PIDFile={DEB_SASL_RUN}/saslauthd.pid
ExecStart=
ExecStart=/usr/sbin/saslauthd -a pam -c -m {DEB_SASL_RUN} -n 5
"""


def cyrus_smtpd_conf_text(platform: Platform) -> str:
    mechs = "PLAIN LOGIN" if platform.is_debian else "plain login"
    return f"pwcheck_method: saslauthd\nmech_list: {mechs}\n"


def native_saslauthd_unit(platform: Platform) -> bool:
    """Debian 13's sasl2-bin replaced the init script by a native systemd unit."""
    return platform.is_debian and platform.id.startswith("debian") and platform.major >= 13


def saslauthd_direct(platform: Platform):  # type: ignore[no-untyped-def]
    """How to run saslauthd without systemd or an init script."""
    if platform.is_debian:
        return pidfile_direct([["mkdir", "-p", DEB_SASL_RUN],
                               ["saslauthd", "-a", "pam", "-c", "-m", DEB_SASL_RUN, "-n", "5"]],
                              f"{DEB_SASL_RUN}/saslauthd.pid")
    return pidfile_direct([["mkdir", "-p", EL_SASL_RUN],
                           ["saslauthd", "-m", EL_SASL_RUN, "-a", "pam"]],
                          f"{EL_SASL_RUN}/saslauthd.pid")


def sasl_params(answers: Answers, platform: Platform) -> dict:  # type: ignore[type-arg]
    params = {
        # AUTH is switched on for the submission service (port 587) only, in master.cf
        "smtpd_sasl_auth_enable": "no",
        "smtpd_sasl_security_options": "noanonymous",
    }
    if answers.sasl.backend == "dovecot":
        params.update(smtpd_sasl_type="dovecot", smtpd_sasl_path="private/auth")
    else:
        params.update(smtpd_sasl_type="cyrus", smtpd_sasl_path="smtpd",
                      cyrus_sasl_config_path=os.path.dirname(platform.cyrus_smtpd_conf))
    return params


PAM_SERVICE = "smtp"
"""The PAM service SMTP logins are checked with, whichever backend: saslauthd asks for it, and
Dovecot is told to use it for SMTP (see :func:`smtp_pam_dropin_text`)."""

SMTP_PAM_DROPIN = f"{DOVECOT_CONFD}/05-mailwizard-smtp-pam.conf"
"""Sorts before 10-auth.conf: on Dovecot 2.2/2.3 its passdb must be the first one."""


def smtp_pam_dropin_text(platform: Platform) -> str:
    """Dovecot checks SMTP logins (the requests Postfix sends, service=smtp) with PAM service
    smtp and every other login (IMAP, POP3) with PAM service dovecot, as before."""
    head = ("# Written by mailwizard (step \"sasl\"): SMTP logins from Postfix go through PAM\n"
            "# service smtp (/etc/pam.d/smtp, which holds the group rule); IMAP and POP3 keep\n"
            "# PAM service dovecot.\n")
    if platform.dovecot_syntax == "2.4":
        return head + ("protocol smtp {\n  passdb pam {\n    service_name = smtp\n  }\n}\n")
    return head + (
        "# The first passdb: its answer is final, so a refused SMTP login never falls through\n"
        "# to the system passdb of auth-system.conf.ext.\n"
        "passdb {\n  driver = pam\n  args = %{if;%s;eq;smtp;smtp;dovecot}\n"
        "  result_failure = return-fail\n  result_internalfail = return-fail\n}\n")


class SaslRecipe(Recipe):
    id = "sasl"
    title = "SMTP authentication (SASL)"
    guide = ("Guide 000, part 3 sections 2-5 (SASL with Dovecot); guide 001 (Cyrus SASL, PAM "
             "group allow-list); guide 002 (saslauthd)")
    summary = (
        "Lets your users log in to Postfix with their system password so they can send mail "
        "from anywhere. With the default Dovecot backend, Postfix hands each login to Dovecot "
        "through a socket in its queue directory; with the Cyrus backend, saslauthd checks the "
        "password through PAM (on Debian its socket is moved into Postfix's chroot). "
        "Authentication is offered only on the submission port 587, after STARTTLS (set up by "
        "the tls-postfix step); port 25 stays for other mail servers and offers no AUTH at "
        "all, which keeps password-guessing bots away. Optionally only members of one group "
        "may log in; every user named in the answers is added to that group first, so nobody "
        "is locked out by surprise. As in guide 001 the group limits SMTP AUTH only (sending), "
        "with either backend: IMAP and POP3 logins are not affected. With the Dovecot backend, "
        "Dovecot is told to check SMTP logins with PAM service smtp, which holds the group "
        "rule, and every other login with its own PAM service as before.")
    outdated = (
        "The guides enable smtpd_sasl_auth_enable globally (port 25). Today mail clients "
        "submit on 587; offering AUTH on 25 only attracts brute-force attempts. We enable it on "
        "587 only, and smtpd_tls_auth_only keeps it behind TLS everywhere.",
        "broken_sasl_auth_clients is for Outlook Express and Outlook 2003-era clients; we do "
        "not set it.",
        "Dovecot 1.x's `auth default { socket listen { client { ... } } }` block is gone since "
        "Dovecot 2.0; the socket is a unix_listener of `service auth`, which we add in a "
        "separate drop-in file instead of editing 10-master.conf.",
        "saslauthd with MECH=shadow (guide 002) bypasses PAM; we use pam, so the optional "
        "group allow-list and account locks apply.",
        "pam_listfile with a separate allow file (guide 001) works, but pam_succeed_if "
        "`user ingroup` does the same in one line without an extra file.",
        ForFamily("debian",
        "On Debian 13 saslauthd runs from a native systemd unit that ignores the socket "
        "directory in /etc/default/saslauthd; a small unit drop-in fixes that."),
    )
    touches = (MAIN_CF, DOVECOT_AUTH_DROPIN, SMTP_PAM_DROPIN, "/etc/dovecot/conf.d/10-auth.conf",
               "/etc/default/saslauthd", "/etc/sysconfig/saslauthd", "/etc/pam.d")

    def plan(self, ctx: PlanContext) -> List[Change]:
        a, p = ctx.answers, ctx.platform
        changes: List[Change] = []
        if a.sasl.backend == "dovecot":
            changes.append(FileWrite(DOVECOT_AUTH_DROPIN, DOVECOT_AUTH_TEXT, mode=0o644,
                                     reason="Dovecot's auth socket for Postfix"))
            changes.append(DovecotSettings(f"{DOVECOT_CONFD}/10-auth.conf",
                                           {"auth_mechanisms": "plain login"},
                                           reason="LOGIN too, for older mail clients"))
        elif p.is_debian:
            changes += self._cyrus_debian(ctx)
        else:
            changes.append(ShellVars(p.saslauthd_conf, {"MECH": "pam"},
                                     reason="saslauthd checks passwords through PAM"))
            changes.append(FileWrite(p.cyrus_smtpd_conf, cyrus_smtpd_conf_text(p), mode=0o644,
                                     reason="Postfix's smtpd asks saslauthd"))
        if a.sasl.pam_group:
            changes += self._pam_group(ctx)
        changes.append(PostfixParams(sasl_params(a, p), reason="SASL backend for smtpd"))
        return changes

    def _cyrus_debian(self, ctx: PlanContext) -> List[Change]:
        p = ctx.platform
        out: List[Change] = [
            ShellVars(p.saslauthd_conf, {
                "START": "yes",
                "MECHANISMS": "pam",
                "OPTIONS": f"-c -m {DEB_SASL_RUN}",
            }, reason="socket inside the Postfix chroot; START=yes for the init script"),
            Directory("/var/spool/postfix/var", 0o755),
            Directory("/var/spool/postfix/var/run", 0o755),
            Directory(DEB_SASL_RUN, 0o710, "root", "sasl"),
            Command(["dpkg-statoverride", "--add", "--update", "root", "sasl", "710",
                     DEB_SASL_RUN],
                    unless=["dpkg-statoverride", "--list", DEB_SASL_RUN],
                    undo=["dpkg-statoverride", "--remove", DEB_SASL_RUN],
                    description="keep the socket directory's owner and mode across upgrades"),
            UserGroup(user="postfix", member_of="sasl"),
            FileWrite(p.cyrus_smtpd_conf, cyrus_smtpd_conf_text(p), mode=0o644,
                      reason="Postfix's smtpd asks saslauthd"),
        ]
        if native_saslauthd_unit(p) and ctx.facts.service_manager == "systemd":
            out.append(SystemdDropIn(SASLAUTHD_DROPIN, SASLAUTHD_DROPIN_TEXT, mode=0o644,
                                     reason="the native unit ignores OPTIONS' socket path"))
        return out

    def _pam_group(self, ctx: PlanContext) -> List[Change]:
        a, p = ctx.answers, ctx.platform
        group = a.sasl.pam_group
        members: List[str] = []
        for name in [a.admin_user, *a.user_names()]:
            if name and name not in members:
                members.append(name)
        out: List[Change] = [UserGroup(group=group, system=True)]
        out += [UserGroup(user=u, member_of=group) for u in members]
        path = f"/etc/pam.d/{PAM_SERVICE}"
        out.append(FileWrite(path, pam_with_group(ctx.view.read_text(path), p, PAM_SERVICE,
                                                  group),
                             mode=0o644, reason=f"only members of {group} may send with SMTP "
                             "AUTH (IMAP and POP3 logins are not limited)"))
        if a.sasl.backend == "dovecot":
            out.append(FileWrite(SMTP_PAM_DROPIN, smtp_pam_dropin_text(p), mode=0o644,
                                 reason="Dovecot checks SMTP logins with PAM service smtp"))
        return out

    # ------------------------------------------------------------------ verify
    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        a, p, ex = ctx.answers, ctx.platform, ctx.executor
        out = checks.main_cf_values(ex, sasl_params(a, p))
        if a.sasl.backend == "dovecot":
            if dovecot_running(ex):
                out.append(checks.exists(ex, AUTH_SOCKET, "Dovecot auth socket for Postfix"))
            else:
                out.append(checks.info("Dovecot auth socket for Postfix",
                                       "dovecot is not running", "start it (step services)"))
        else:
            mux = f"{DEB_SASL_RUN if p.is_debian else EL_SASL_RUN}/mux"
            if ex.exists(mux):
                out.append(checks.passed("saslauthd socket", mux))
            else:
                out.append(checks.info("saslauthd socket", f"{mux} is missing",
                                       "saslauthd is not running yet (step services)"))
        if a.sasl.pam_group and a.sasl.backend == "dovecot":
            want = smtp_pam_dropin_text(p)
            ok = ex.read_text(SMTP_PAM_DROPIN) == want
            out.append(CheckResult("Dovecot checks SMTP logins with PAM service smtp", ok,
                                   SMTP_PAM_DROPIN if ok else f"{SMTP_PAM_DROPIN} differs",
                                   "" if ok else "apply the step sasl again"))
        if a.sasl.pam_group:
            groups = ex.groups()
            members = groups.get(a.sasl.pam_group, (0, []))[1]
            for u in [a.admin_user, *a.user_names()]:
                ok = u in members
                out.append(CheckResult(f"{u} may log in", ok,
                                       f"member of {a.sasl.pam_group}" if ok else "not a member",
                                       "" if ok else f"usermod -a -G {a.sasl.pam_group} {u}"))
        return out

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        if answers.sasl.backend == "dovecot":
            return [f"ls -l {AUTH_SOCKET}   # srw-rw---- postfix postfix",
                    f"doveadm auth test {q(answers.admin_user)}   # asks for the password"]
        run = DEB_SASL_RUN if platform.is_debian else EL_SASL_RUN
        return [f"testsaslauthd -u {q(answers.admin_user)} -p PASSWORD -s smtp "
                f"-f {q(run + '/mux')}"]
