"""Step 2: install Postfix and Dovecot, remove other MTAs, make Postfix the system MTA."""

from __future__ import annotations

import os
from typing import List

from wizard.answers import Answers
from wizard.changes import Change, Command, Packages
from wizard.checks import CheckResult, failed, info, not_checked, passed
from wizard.facts import installed_packages
from wizard.platforms import Platform
from wizard.recipe import ForFamily, PlanContext, Recipe, VerifyContext

from ._dovecot import dovecot_packages

POSTFIX_SENDMAIL = "/usr/sbin/sendmail.postfix"
MTA_LINK = "/etc/alternatives/mta"


def wanted_packages(answers: Answers, platform: Platform) -> List[str]:
    """Every package this step installs, in order, without duplicates."""
    names = list(platform.packages_base) + dovecot_packages(platform, answers)
    if answers.sasl.backend == "cyrus":
        names += list(platform.packages_cyrus)
    if answers.step_enabled("postgrey"):
        names += list(platform.packages_postgrey)
    if answers.restrictions.spf:
        names += list(platform.packages_spf)
    if answers.certificate.mode == "acme":
        names += list(platform.packages_acme)
    if answers.dkim.enabled:
        names += list(platform.packages_dkim)
    return list(dict.fromkeys(names))


def debconf_lines(answers: Answers) -> List[str]:
    """Answers for postfix's debconf questions, so apt installs it without asking."""
    return [
        "postfix postfix/main_mailer_type select Internet Site",
        f"postfix postfix/mailname string {answers.hostname}",
    ]


class PackagesRecipe(Recipe):
    id = "packages"
    title = "Install the mail packages"
    guide = ("Guide 000, part 1 section 2 'Installation'; Guide 001 'Installing Postfix and "
             "Cyrus' (its Cyrus packages only with the Cyrus SASL backend)")
    summary = (
        "Installs Postfix, Dovecot and the tools the later steps need, with the distribution's "
        "own package manager, and removes other mail servers (sendmail, exim4) if they are "
        "installed. On Debian and Ubuntu the postfix install questions are answered in "
        "advance; on EL 8 and newer Postfix is also made the system's sendmail.")
    outdated = (
        ForFamily("el",
        "The guide installs system-switch-mail to pick the MTA. That tool is gone since EL6; "
        "EL uses 'alternatives --set mta /usr/sbin/sendmail.postfix' (the target is "
        "sendmail.postfix, not /usr/sbin/postfix)."),
        "The guide's 'chkconfig ... on' and /etc/init.d scripts belong to SysV init; EL7 and "
        "newer and current Debian/Ubuntu use systemd (the services step handles that).",
        ForFamily("el",
        "yum is replaced by dnf on EL8 and newer (yum remains only as an alias)."),
        "The old 'mailx' package does not exist any more: EL9+ ships s-nail, Debian and Ubuntu "
        "bsd-mailx ('apt install mailx' fails because mailx is a virtual name).",
        ForFamily("debian",
        "On Debian and Ubuntu, Dovecot is split: dovecot-core plus dovecot-imapd and "
        "dovecot-pop3d, and installing a protocol package is what turns the protocol on."),
        "The guide says Dovecot pulls in MySQL and Perl; current packages do not.",
    )
    touches = ("packages: postfix, dovecot (+ cyrus-sasl / postgrey / opendkim when chosen)",
               "removes: sendmail / exim4 when installed",
               "/etc/alternatives/mta (EL8+)")

    def plan(self, ctx: PlanContext) -> List[Change]:
        p = ctx.platform
        changes: List[Change] = [Packages(
            p.pkg_manager,
            install=wanted_packages(ctx.answers, p),
            remove=list(p.packages_remove),
            debconf=debconf_lines(ctx.answers) if p.is_debian else (),
        )]
        if p.mta_alternative:
            # Undo: none. Rolling back the package step removes what it installed, and
            # alternatives then falls back to whatever MTA is left on its own.
            changes.append(Command(
                ["alternatives", "--set", "mta", POSTFIX_SENDMAIL],
                unless=["test", MTA_LINK, "-ef", POSTFIX_SENDMAIL],
                description="make Postfix the system MTA (alternatives)"))
        return changes

    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        ex, p = ctx.executor, ctx.platform
        out: List[CheckResult] = []
        if ex.rehearsal:  # nothing was installed: the commands were only recorded
            return [not_checked("packages installed", "the package database"),
                    not_checked("Postfix is the system MTA", "the installed packages")]
        want = wanted_packages(ctx.answers, p)
        have = installed_packages(ex, p.pkg_manager, want + list(p.packages_remove))
        missing = [n for n in want if n not in have]
        if missing:
            out.append(failed("packages installed", "missing: " + " ".join(missing),
                              "install them with " + p.pkg_manager))
        else:
            out.append(passed("packages installed", " ".join(want)))
        other = [n for n in p.packages_remove if n in have]
        if other:
            out.append(failed("no other MTA installed", " ".join(other),
                              "they compete with Postfix for port 25 and /usr/sbin/sendmail"))
        else:
            out.append(passed("no other MTA installed"))
        if p.mta_alternative:
            link = ex.path(MTA_LINK)
            target = os.readlink(link) if os.path.islink(link) else None
            if target == POSTFIX_SENDMAIL:
                out.append(passed("Postfix is the system MTA", f"{MTA_LINK} -> {target}"))
            elif target is None:
                out.append(info("Postfix is the system MTA", f"{MTA_LINK} is missing"))
            else:
                out.append(failed("Postfix is the system MTA", f"{MTA_LINK} -> {target}",
                                  f"alternatives --set mta {POSTFIX_SENDMAIL}"))
        return out

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        names = " ".join(wanted_packages(answers, platform))
        if platform.pkg_manager == "apt":
            cmds = [f"dpkg -l {names}", "debconf-show postfix"]
        else:
            cmds = [f"rpm -q {names}", "rpm -q sendmail   # expect: not installed"]
        if platform.mta_alternative:
            cmds.append("alternatives --display mta")
        return cmds
