"""Step 4: Dovecot serves IMAP/POP3 from each user's ~/Maildir."""

from __future__ import annotations

from shlex import quote as q
from typing import Dict, List, Mapping, Optional, cast

from wizard import checks
from wizard.answers import Answers
from wizard.changes import Change, DovecotSettings
from wizard.checks import CheckResult, failed, info, passed
from wizard.platforms import Platform
from wizard.recipe import ForFamily, PlanContext, Recipe, VerifyContext

from ._dovecot import dovecot_file, wanted_protocols

UIDL_23 = "%08Xu%08Xv"
UIDL_24 = "%{uid | hex(8)}%{uidvalidity | hex(8)}"


def mail_settings(platform: Platform) -> Dict[str, Optional[str]]:
    """Mailbox settings for 10-mail.conf in the platform's Dovecot dialect (None = remove)."""
    if platform.dovecot_syntax == "2.4":
        # 2.4 splits the old mail_location; Debian 13 also ships mail_inbox_path pointing at
        # /var/mail (mbox), which would put INBOX outside the Maildir: it goes.
        return {"mail_driver": "maildir", "mail_path": "~/Maildir", "mail_inbox_path": None}
    return {"mail_location": "maildir:~/Maildir"}


def protocols_value(answers: Answers) -> str:
    return " ".join(wanted_protocols(answers)) or "none"


def expected_values(answers: Answers, platform: Platform) -> Dict[str, str]:
    """What ``doveconf -h`` should report after this step."""
    out = {k: v for k, v in mail_settings(platform).items() if v is not None}
    if answers.pop3:
        out["pop3_uidl_format"] = UIDL_24 if platform.dovecot_syntax == "2.4" else UIDL_23
    return out


class DovecotBasicsRecipe(Recipe):
    id = "dovecot-basics"
    title = "Dovecot basics"
    guide = "Guide 000, part 1 section 3.2 'Dovecot'"
    summary = (
        "Points Dovecot at the same Maildir that Postfix delivers to (~/Maildir) and serves "
        "only the access protocols chosen in the answers. The settings are written in the "
        "configuration dialect of the installed Dovecot: 2.2/2.3 on EL, Debian 12 and Ubuntu, "
        "2.4 on Debian 13.")
    outdated = (
        "The guide edits a single /etc/dovecot.conf (Dovecot 1.x). Dovecot 2 splits the "
        "settings into /etc/dovecot/dovecot.conf and conf.d/*.conf; mailwizard edits the file "
        "that holds each setting.",
        "'protocols = imap imaps pop3 pop3s' is invalid since Dovecot 2.0: the TLS ports come "
        "from the imaps/pop3s listeners in 10-master.conf. On Debian and Ubuntu the protocols "
        "come from the installed dovecot-imapd/dovecot-pop3d packages, so we do not set "
        "'protocols' there; on EL we set 'protocols = imap pop3' (or just the chosen one).",
        "pop3_uidl_format = %08Xu%08Xv was needed on Dovecot 1.0, which had no default. Since "
        "2.0 that is the default (2.4 spells it %{uid | hex(8)}%{uidvalidity | hex(8)}), so "
        "we leave it alone and only check it.",
        "login_process_size = 64 (a CentOS 5.1 x86_64 workaround) no longer exists; Dovecot 2 "
        "sets process limits per service.",
        ForFamily("debian",
        "Dovecot 2.4 (Debian 13) replaces mail_location with mail_driver plus mail_path, and "
        "will not start with the old name."),
    )
    touches = ("/etc/dovecot/dovecot.conf (EL only: protocols)",
               "/etc/dovecot/conf.d/10-mail.conf")

    def plan(self, ctx: PlanContext) -> List[Change]:
        p = ctx.platform
        changes: List[Change] = []
        if p.is_el:
            changes.append(DovecotSettings(dovecot_file(p, "main"),
                                           {"protocols": protocols_value(ctx.answers)}))
        # DovecotSettings removes a key whose value is None (its editor supports it)
        settings = cast(Mapping[str, str], mail_settings(p))
        changes.append(DovecotSettings(dovecot_file(p, "mail"), settings))
        return changes

    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        ex = ctx.executor
        out = [checks.doveconf_check(ex)]
        out.extend(checks.doveconf_values(ex, expected_values(ctx.answers, ctx.platform)))
        if ex.which("doveconf"):
            res = ex.run(["doveconf", "-h", "protocols"], quiet=True, timeout=60)
            got = set(res.stdout.split()) if res.ok else set()
            want = set(wanted_protocols(ctx.answers))
            extra = {"imap", "pop3"} & (got - want)
            if not res.ok:
                out.append(failed("dovecot protocols", res.output[-300:]))
            elif want <= got and not extra:
                out.append(passed("dovecot protocols", " ".join(sorted(got))))
            else:
                fix = ("remove dovecot-pop3d / dovecot-imapd as needed"
                       if ctx.platform.is_debian else "set protocols in dovecot.conf")
                out.append(failed("dovecot protocols",
                                  f"serving {' '.join(sorted(got)) or 'nothing'}, wanted "
                                  f"{' '.join(sorted(want)) or 'none'}", fix))
        else:
            out.append(info("dovecot protocols", "dovecot is not installed"))
        return out

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        keys = " ".join(["protocols", *expected_values(answers, platform)])
        return ["doveconf -n", f"doveconf -h {keys}",
                f"doveadm user {q(answers.admin_user)}   # home and mail location",
                f"doveadm mailbox list -u {q(answers.admin_user)}   # INBOX is the Maildir"]
