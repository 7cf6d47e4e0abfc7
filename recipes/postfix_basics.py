"""Step 3: the basic main.cf (names, interfaces, local domains, Maildir, aliases table)."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from wizard import checks, confedit
from wizard.answers import Answers
from wizard.changes import Change, PostfixParams
from wizard.checks import CheckResult, failed, info
from wizard.platforms import Platform
from wizard.recipe import ForFamily, PlanContext, Recipe, VerifyContext

from ._daemons import postfix_status
from ._dovecot import lda_mailbox_command
from ._postfix import ALIASES, MAIN_CF, berkeley_maps_to, map_ref

DEBIAN_TEMPLATE = {
    "biff": "no",
    "append_dot_mydomain": "no",
    "readme_directory": "no",
    "mailbox_size_limit": "0",
    "recipient_delimiter": "+",
}
"""What Debian's "Internet Site" main.cf sets besides the names (a "No configuration" install
has no main.cf at all). TLS, relay rules and the banner are set by this and later steps."""


def basic_params(answers: Answers, platform: Platform, db: str) -> Dict[str, str]:
    """The parameters this step owns, with the values it wants."""
    return {
        "myhostname": answers.hostname,
        "mydomain": answers.domain,
        # $mydomain everywhere, also on Debian (see PostfixBasicsRecipe.outdated)
        "myorigin": "$mydomain",
        "inet_interfaces": answers.inet_interfaces,
        "inet_protocols": answers.inet_protocols,
        "mydestination": "$myhostname, localhost.$mydomain, localhost, $mydomain",
        "mynetworks": " ".join(answers.mynetworks),
        "relay_domains": "",
        "home_mailbox": "Maildir/",
        "smtpd_banner": "$myhostname ESMTP",
        "alias_maps": map_ref(db, ALIASES),
        "alias_database": map_ref(db, ALIASES),
        # with a quota, Dovecot's LDA stores local mail (into the same ~/Maildir), so the
        # quota counts it and quota-status can refuse mail for a full mailbox (step quota)
        **({"mailbox_command": lda_mailbox_command(platform)} if answers.mail_quota else {}),
    }


def plan_params(answers: Answers, platform: Platform, db: str,
                current: Optional[str]) -> Tuple[Dict[str, str], List[str]]:
    """(parameters to set, parameters to remove) for main.cf whose text is ``current``."""
    values = confedit.read_main_cf(current)
    params: Dict[str, str] = {}
    if current is None:
        # Debian's "No configuration" choice leaves no main.cf: start like its template does
        if platform.compatibility_level:
            params["compatibility_level"] = platform.compatibility_level
        if platform.is_debian:
            params.update(DEBIAN_TEMPLATE)
    elif "compatibility_level" not in values and platform.compatibility_level:
        params["compatibility_level"] = platform.compatibility_level
    # EL10 has no Berkeley DB: every hash:/btree: table in the file must become lmdb:
    params.update(berkeley_maps_to(db, values))
    params.update(basic_params(answers, platform, db))
    remove = []
    if values.get("mailbox_command", "").strip() and not answers.mail_quota:
        # a mailbox_command (procmail on some Ubuntu installs) makes Postfix ignore home_mailbox
        remove.append("mailbox_command")
    return params, remove


class PostfixBasicsRecipe(Recipe):
    id = "postfix-basics"
    title = "Postfix basics"
    guide = "Guide 000, part 1 section 3.1 'Postfix' (main.cf); Guide 001 main.cf settings"
    summary = (
        "Sets the core of /etc/postfix/main.cf: the host and domain names, which interfaces "
        "and networks Postfix serves, which domains it delivers locally, and Maildir delivery "
        "into each user's home. The greeting no longer names the software or distribution, "
        "and the aliases table uses the map type the installed Postfix supports.")
    outdated = (
        ForFamily("el",
        "EL ships 'inet_interfaces = localhost'; the guide's 'all' is still needed, but it now "
        "replaces that line in place rather than being added."),
        ForFamily("el",
        "The guide writes hash: tables. EL10's Postfix is built without Berkeley DB, so "
        "hash: and btree: fail there; mailwizard writes lmdb: on EL10 and converts any "
        "hash:/btree: table already in main.cf."),
        "Postfix 3 reads compatibility_level; a missing level makes it run with old, less "
        "safe defaults and log warnings, so we set the distribution's level when none is set.",
        ForFamily("debian",
        "On Debian, myorigin defaults to /etc/mailname. We write 'myorigin = $mydomain' on "
        "every platform, as the guide does: mail from local users then reads "
        "user@<domain> everywhere, independent of a file other packages also edit."),
        "smtpd_banner: the default names the software ('ESMTP Postfix (Debian)'); we show only "
        "'$myhostname ESMTP', which is all RFC 5321 asks for.",
    )
    touches = (MAIN_CF,)

    def plan(self, ctx: PlanContext) -> List[Change]:
        current = ctx.view.read_text(MAIN_CF)
        params, remove = plan_params(ctx.answers, ctx.platform, ctx.db, current)
        reason = ""
        if current is None:
            reason = ("main.cf does not exist (Debian 'No configuration' install): it is "
                      "created with the distribution's compatibility level")
        return [PostfixParams(params, remove=remove, reason=reason)]

    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        ex = ctx.executor
        text = ex.read_text(MAIN_CF)
        if text is None:
            return [failed("main.cf exists", f"{MAIN_CF} is missing",
                           "is postfix installed? run the packages step")]
        db = ctx.platform.default_database_type
        out = checks.main_cf_values(ex, basic_params(ctx.answers, ctx.platform, db))
        values = confedit.read_main_cf(text)
        if values.get("mailbox_command", "").strip() and not ctx.answers.mail_quota:
            out.append(failed("main.cf mailbox_command empty", values["mailbox_command"],
                              "with a mailbox_command Postfix ignores home_mailbox"))
        leftovers = berkeley_maps_to(db, values)
        if leftovers:
            out.append(failed(f"no hash:/btree: tables ({db} only)", ", ".join(leftovers),
                              f"this Postfix has no Berkeley DB: use {db}: instead"))
        out.append(checks.postfix_check(ex))
        running = postfix_status(ex)
        if running:
            out.append(checks.port_open(ctx.probe_host, 25))
        else:
            out.append(info("port 25 answers",
                            "postfix is not running yet" if running is False
                            else "postfix is not installed",
                            "the services step starts it"))
        return out

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        return [
            "postconf -n myhostname mydomain myorigin inet_interfaces mydestination "
            "mynetworks home_mailbox alias_maps",
            "postconf -h default_database_type   # the map type to use (lmdb on EL10)",
            "postfix check",
            f"printf 'QUIT\\r\\n' | nc {answers.hostname} 25   # banner: {answers.hostname} "
            "ESMTP",
        ]
