"""Step relay (optional, on when ``relayhost`` is answered): outbound mail through a smarthost.

Touches: main.cf (relayhost, smtp_sasl_*), /etc/postfix/sasl_passwd (0600 root, holds the
relay password) and its indexed map (``.db``/``.lmdb``, 0600). The TLS level of the SMTP client
(``smtp_tls_security_level = encrypt`` with a relay) belongs to the tls-postfix step.
"""

from __future__ import annotations

from shlex import quote as q
from typing import Dict, List

from wizard import checks
from wizard.answers import Answers
from wizard.changes import Change, Command, Note, PostfixParams, SecretFile
from wizard.checks import CheckResult, failed, info, passed
from wizard.platforms import Platform
from wizard.recipe import ForFamily, PlanContext, Recipe, VerifyContext

from ._postfix import MAIN_CF, map_output, map_ref, postmap_changes

SASL_PASSWD = "/etc/postfix/sasl_passwd"
PLACEHOLDER = "PASSWORD"


def relay_params(answers: Answers, db: str) -> Dict[str, str]:
    """main.cf for the relay: the smarthost, and SASL client login when a user is given."""
    out = {"relayhost": answers.relayhost}
    if answers.relay_user:
        out.update({
            "smtp_sasl_auth_enable": "yes",
            "smtp_sasl_password_maps": map_ref(db, SASL_PASSWD),
            "smtp_sasl_security_options": "noanonymous",
            "smtp_sasl_tls_security_options": "noanonymous",
        })
    return out


def passwd_line(answers: Answers, password: str) -> str:
    """The one line of sasl_passwd: the relayhost exactly as main.cf names it (brackets and
    port included: that is the key Postfix looks up), then ``user:password``."""
    return f"{answers.relayhost} {answers.relay_user}:{password}\n"


class RelayRecipe(Recipe):
    id = "relay"
    title = "Outbound relay (smarthost)"
    guide = "Guide 004 (main.cf: relayhost, what delivery method to use)"
    summary = (
        "Sends all outbound mail through your provider's mail relay instead of delivering it "
        "directly, for networks that block outgoing port 25 (many home and cloud networks "
        "do). Postfix hands every message to the relayhost; brackets around the name "
        "([smtp.provider]:587) mean 'this host, no MX lookup'. With a login, Postfix "
        "authenticates with SASL from a password map that only root can read "
        "(/etc/postfix/sasl_passwd and its indexed copy, mode 0600), never anonymously, and "
        "only inside TLS: the tls-postfix step raises the SMTP client's TLS level to "
        "'encrypt' when a relay is set, so the password never crosses the network in clear. "
        "The password is not kept in the session or shown anywhere; the runbook shows "
        "PASSWORD in its place. Off unless a relayhost is answered.")
    outdated = (
        "Guide 004 only names relayhost; a provider's relay today almost always wants SASL "
        "authentication on port 587 with TLS, which needs smtp_sasl_* settings and a "
        "password map (Postfix's SASL_README).",
        ForFamily("el",
        "The map type is the platform's (lmdb on EL10, which has no Berkeley DB), not a "
        "fixed hash:."),
    )
    touches = (MAIN_CF, SASL_PASSWD)

    def enabled_for(self, answers: Answers, platform: Platform) -> bool:
        # driven by an answer, not a step switch: without a relayhost the step is not in
        # the plan at all (direct delivery needs nothing)
        return bool(answers.relayhost)

    def plan(self, ctx: PlanContext) -> List[Change]:
        a = ctx.answers
        changes: List[Change] = [PostfixParams(
            relay_params(a, ctx.db),
            reason="outbound mail through the relay; SASL login only, never anonymous")]
        if a.relay_user and a.relay_password is not None:
            secret = a.relay_password
            out = map_output(ctx.db, SASL_PASSWD)
            changes += postmap_changes(
                ctx.view, ctx.db, SASL_PASSWD,
                SecretFile(SASL_PASSWD, lambda pw: passwd_line(a, pw), secret, PLACEHOLDER,
                           mode=0o600, reason="the relay login; root only (0600), the "
                           "password is never shown"),
                description=f"build {out} from {SASL_PASSWD} (postmap)")
            changes.append(Command(["chmod", "0600", out], after_files=[SASL_PASSWD],
                                   description=f"keep {out} readable by root only"))
        elif a.relay_user:
            changes.append(Note(
                "password map not written: no relay_password given (e.g. a resumed run)",
                f"{SASL_PASSWD} is left as it is; give relay_password in the answers to "
                "write it, or write it by hand (see the runbook)"))
        return changes

    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        a, ex, p = ctx.answers, ctx.executor, ctx.platform
        db = p.default_database_type
        out = checks.main_cf_values(ex, relay_params(a, db))
        if not a.relay_user:
            return out
        output = map_output(db, SASL_PASSWD)
        out.append(checks.file_mode(ex, SASL_PASSWD, 0o600))
        out.append(checks.file_mode(ex, output, 0o600))
        if not ex.which("postmap"):
            out.append(info("relay login in the password map", "postfix is not installed"))
            return out
        res = ex.run(["postmap", "-q", a.relayhost, map_ref(db, SASL_PASSWD)], quiet=True,
                     timeout=60)
        # the answer holds the password: only its user part is ever compared or shown
        user = res.stdout.strip().split(":", 1)[0] if res.ok else ""
        name = "relay login in the password map"
        if user == a.relay_user:
            out.append(passed(name, f"{a.relayhost} -> {a.relay_user}:(password not shown)"))
        elif res.ok and user:
            out.append(failed(name, f"{a.relayhost} -> another user ({user})",
                              f"rebuild it: postmap {map_ref(db, SASL_PASSWD)}"))
        else:
            out.append(failed(name, f"no entry for {a.relayhost}",
                              "the key must be the relayhost exactly as main.cf has it"))
        return out

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        db = platform.default_database_type
        ref = q(map_ref(db, SASL_PASSWD))
        return [
            "postconf relayhost smtp_sasl_auth_enable smtp_sasl_password_maps "
            "smtp_sasl_security_options smtp_sasl_tls_security_options smtp_tls_security_level",
            f"ls -l {SASL_PASSWD} {map_output(db, SASL_PASSWD)}   # both -rw------- root",
            f"postmap -q {q(answers.relayhost)} {ref} | cut -d: -f1   # the user, not the "
            "password",
            "postqueue -p   # after a test message: nothing stuck with 'SASL authentication "
            "failed' or 'TLS is required'",
        ]
