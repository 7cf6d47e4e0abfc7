"""Optional step: a per-user mailbox quota in Dovecot, checked by Postfix at RCPT time.

Touches ``/etc/dovecot/conf.d/90-mailwizard-quota.conf`` (the quota plugin, the limit and the
quota-status policy service, whose socket lives in Postfix's queue directory). The Postfix side,
``check_policy_service unix:private/quota-status`` in ``smtpd_recipient_restrictions``, is
written by the restrictions step (each main.cf key has one owner); see
:func:`quota_policy`.

Example answers: ``mail_quota: 1G`` (``off``, the default, skips the step).
"""

from __future__ import annotations

import os
import socket
from shlex import quote as q
from typing import List

from wizard.answers import Answers
from wizard.changes import Change, FileWrite
from wizard.checks import CheckResult, failed, info, passed
from wizard.executor import Executor
from wizard.platforms import Platform
from wizard.recipe import ForFamily, PlanContext, Recipe, VerifyContext

from ._daemons import dovecot_running
from ._dovecot import DOVECOT_CONFD

QUOTA_CONF = f"{DOVECOT_CONFD}/90-mailwizard-quota.conf"
QUOTA_SOCKET = "/var/spool/postfix/private/quota-status"
OVERQUOTA_REPLY = "552 5.2.2 Mailbox is full"
TOOLARGE_REPLY = "552 5.2.3 Message is larger than the mailbox quota"


def quota_policy(answers: Answers) -> List[str]:
    """The smtpd_recipient_restrictions item that asks Dovecot's quota-status service (none
    without a quota). Relative to the queue directory, so it works in Debian's chroot."""
    return ["check_policy_service unix:private/quota-status"] if answers.mail_quota else []


_LISTENER = f"""\
service quota-status {{
  executable = quota-status -p postfix
  # Postfix's smtpd asks here at RCPT time (inside its queue directory: Debian chroots it)
  unix_listener {QUOTA_SOCKET} {{
    mode = 0660
    user = postfix
    group = postfix
  }}
  client_limit = 1
}}
"""


def quota_conf_text(answers: Answers, platform: Platform) -> str:
    """The drop-in in the platform's Dovecot dialect."""
    limit = answers.mail_quota
    head = ("# Written by mailwizard (step \"quota\"). Every user may keep "
            f"{limit} of mail.\n# Postfix asks the quota-status service before it accepts a "
            "message, so mail for a full\n# mailbox is refused while the sender is still "
            "connected (no bounce later).\n")
    if platform.dovecot_syntax == "2.4":
        return head + f"""\
mail_plugins {{
  quota = yes
}}
protocol imap {{
  mail_plugins {{
    imap_quota = yes
  }}
}}
quota "User quota" {{
  driver = count
  storage_size = {limit}
  # the limit is the limit (2.4's default grace is a flat 10M on top)
  storage_grace = 0
}}
quota_status_success = DUNNO
quota_status_nouser = DUNNO
quota_status_overquota = "{OVERQUOTA_REPLY}"
quota_status_toolarge = "{TOOLARGE_REPLY}"
# Postfix asks about user@domain; the system account is the part before the @
protocol quota-status {{
  auth_username_format = %{{user | username | lower}}
}}
""" + _LISTENER
    return head + f"""\
mail_plugins = $mail_plugins quota
protocol imap {{
  mail_plugins = $mail_plugins imap_quota
}}
plugin {{
  quota = count:User quota
  quota_vsizes = yes
  quota_rule = *:storage={limit}
  # the limit is the limit (the default grace lets the last message go 10% over)
  quota_grace = 0
  quota_status_success = DUNNO
  quota_status_nouser = DUNNO
  quota_status_overquota = "{OVERQUOTA_REPLY}"
  quota_status_toolarge = "{TOOLARGE_REPLY}"
}}
# Postfix asks about user@domain; the system account is the part before the @
protocol quota-status {{
  auth_username_format = %Ln
}}
""" + _LISTENER


def ask_policy(ex: Executor, recipient: str, timeout: float = 5.0) -> str:
    """One Postfix policy request to the quota-status socket; the ``action=`` it answers."""
    request = ("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
               f"recipient={recipient}\nsize=0\n\n").encode("ascii")
    full = str(ex.path(QUOTA_SOCKET))
    dirfd = os.open(os.path.dirname(full), os.O_RDONLY | os.O_DIRECTORY)
    try:
        # a socket path is limited to ~107 bytes; a deep --root would exceed it, so connect
        # through the directory's file descriptor (Linux /proc) when the path is long
        addr = full if len(full) < 100 else f"/proc/self/fd/{dirfd}/{os.path.basename(full)}"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(addr)
            data = _exchange(s, request)
    finally:
        os.close(dirfd)
    for line in data.decode("ascii", "replace").splitlines():
        if line.startswith("action="):
            return line[len("action="):]
    return ""


def _exchange(s: socket.socket, request: bytes) -> bytes:
    s.sendall(request)
    data = b""
    while not data.endswith(b"\n\n") and len(data) < 65536:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


class QuotaRecipe(Recipe):
    id = "quota"
    title = "Mailbox quota"
    guide = "Guide 004 (managing e-mail quotas)"
    summary = (
        "Gives every mail user the same mailbox limit (the mail_quota answer) with Dovecot's "
        "quota plugin, which also shows the usage to IMAP clients. Postfix asks Dovecot's "
        "quota-status service about each recipient before it accepts a message, so mail for a "
        "full mailbox is refused during the SMTP dialogue (552 5.2.2) and the sender's server "
        "reports it at once, instead of accepting the message and bouncing it later. Local "
        "mail is then stored by Dovecot's delivery agent (dovecot-lda, set as Postfix's "
        "mailbox_command by the postfix-basics step) into the same ~/Maildir, so every "
        "message is counted: mail Postfix wrote into the Maildir itself would not be. The "
        "check sits in the recipient restrictions after reject_unauth_destination (written by "
        "the restrictions step). Off unless the answers set a size.")
    outdated = (
        "Guide 004 lists e-mail quotas among an admin's duties but shows no setup. The old "
        "habit, filesystem quotas (quotaon, edquota), counts every file a user owns, needs a "
        "remounted filesystem, and makes delivery fail after the message was accepted. A "
        "Dovecot quota counts mail only and lets Postfix refuse it up front.",
        ForFamily("debian",
        "Dovecot 2.4 (Debian 13) writes the quota as a named 'quota' block with storage_size "
        "and mail_plugins as a list; 2.2/2.3 use quota_rule in the plugin block. mailwizard "
        "writes the dialect of the installed Dovecot."),
        "Mail from trusted networks and logged-in users is accepted before the check "
        "(permit_mynetworks, permit_sasl_authenticated come first); Dovecot's delivery agent "
        "still applies the limit when it stores such a message.",
    )
    touches = (QUOTA_CONF, "main.cf smtpd_recipient_restrictions (restrictions step)")
    optional = True

    def enabled(self, answers: Answers) -> bool:
        return bool(answers.mail_quota)

    def plan(self, ctx: PlanContext) -> List[Change]:
        return [FileWrite(QUOTA_CONF, quota_conf_text(ctx.answers, ctx.platform), mode=0o644,
                          reason=f"a {ctx.answers.mail_quota} quota and the quota-status "
                                 "service for Postfix")]

    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        ex, a = ctx.executor, ctx.answers
        want = quota_conf_text(a, ctx.platform)
        have = ex.read_text(QUOTA_CONF)
        out = [CheckResult(f"{QUOTA_CONF} holds the {a.mail_quota} quota", have == want,
                           "as planned" if have == want else
                           ("missing" if have is None else "edited since"),
                           "" if have == want else "apply the step quota again")]
        name = "Dovecot's quota-status answers Postfix"
        if not ex.which("doveconf"):
            out.append(info(name, "dovecot is not installed"))
            return out
        res = ex.run(["doveconf", "-n"], quiet=True, timeout=60)
        if not res.ok or "quota-status -p postfix" not in res.stdout:
            out.append(failed("quota-status service configured",
                              (res.output or "not in doveconf -n")[-300:],
                              f"check {QUOTA_CONF} with doveconf -n"))
            return out
        out.append(passed("quota-status service configured", "doveconf -n"))
        if not dovecot_running(ex):
            out.append(info(name, "dovecot is not running", "start it (step services)"))
            return out
        recipient = f"{a.admin_user}@{a.domain}"
        try:
            action = ask_policy(ex, recipient)
        except OSError as exc:
            out.append(failed(name, f"{QUOTA_SOCKET}: {exc}",
                              "reload Dovecot (doveadm reload) so it opens the socket"))
            return out
        ok = action.upper().startswith(("DUNNO", "OK")) or action.startswith("552")
        out.append(CheckResult(name, ok, f"{recipient}: action={action or '(none)'}",
                               "" if ok else "expected DUNNO (room left) or 552 (full)"))
        return out

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        user = q(answers.admin_user)
        rcpt = q(f"{answers.admin_user}@{answers.domain}")
        return [
            f"doveadm quota get -u {user}   # usage and the {answers.mail_quota} limit",
            "postconf -h smtpd_recipient_restrictions   # ... check_policy_service "
            "unix:private/quota-status",
            "printf 'request=smtpd_access_policy\\nprotocol_state=RCPT\\nrecipient=%s\\n"
            f"size=0\\n\\n' {rcpt} | nc -U {QUOTA_SOCKET}   # action=DUNNO: room left",
        ]
