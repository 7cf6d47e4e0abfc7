"""Step 2a (EL only): the EPEL repository, and CRB/PowerTools where EPEL needs it.

Touches: package ``epel-release`` (``oracle-epel-release-elN`` on Oracle Linux, the Fedora
project's rpm on RHEL), the CRB repository switch (``dnf config-manager``; RHEL:
``subscription-manager``). Runs only on EL, and only when a chosen step needs a package that
only EPEL has (postgrey, pypolicyd-spf, certbot, opendkim); it comes before the package step
that installs it.
"""

from __future__ import annotations

from shlex import quote as q
from typing import List, Set

from wizard.answers import Answers
from wizard.changes import Change, Command, Packages
from wizard.checks import CheckResult, failed, info, passed
from wizard.facts import installed_packages
from wizard.platforms import Platform
from wizard.recipe import PlanContext, Recipe, VerifyContext

from .packages import wanted_packages


def epel_needed(answers: Answers, platform: Platform) -> List[str]:
    """The packages of this plan that only EPEL provides here (none off EL)."""
    if not platform.is_el or not platform.epel_release:
        return []
    return [n for n in wanted_packages(answers, platform) if n in platform.packages_epel]


def _crb_is_rhel(platform: Platform) -> bool:
    return platform.crb_repo.startswith("codeready-builder-for-rhel-")


def crb_changes(platform: Platform) -> List[Change]:
    """Enable CRB (PowerTools on EL8) unless it already is; undo disables it again only
    when this run enabled it (the probe skips the change otherwise, so nothing is journaled)."""
    repo = platform.crb_repo
    if not repo:
        return []
    enabled = f"{platform.pkg_manager} -q repolist --enabled | awk '{{print $1}}' | " \
              f"sed 's,/.*,,' | grep -qx \"{repo}\""
    if _crb_is_rhel(platform):
        # RHEL's repositories belong to subscription-manager; the repo id names the machine
        return [Command(["sh", "-c", f'subscription-manager repos --enable "{repo}"'],
                        unless=["sh", "-c", enabled],
                        undo=["sh", "-c", f'subscription-manager repos --disable "{repo}"'],
                        description="enable the CodeReady Builder repository "
                                    "(EPEL packages depend on it)")]
    return [Command(["dnf", "config-manager", "--set-enabled", repo],
                    unless=["sh", "-c", enabled],
                    undo=["dnf", "config-manager", "--set-disabled", repo],
                    description=f"enable the {repo} repository (EPEL packages depend on it)")]


def enabled_repos(out: str) -> Set[str]:
    """Repository ids from ``dnf repolist --enabled`` / ``yum repolist enabled`` output."""
    ids = set()
    for line in out.splitlines():
        first = line.split()[0] if line.split() else ""
        first = first.lstrip("!*").split("/")[0]
        if first and first not in ("repo", "Last", "repolist:"):
            ids.add(first)
    return ids


class EpelRecipe(Recipe):
    id = "epel"
    title = "EPEL repository (EL only)"
    guide = ("Guide 002 (SPF: packages from EPEL with --enablerepo=epel; postgrey with yum "
             "install); guide 000, part 2 (postgrey)")
    summary = (
        "On RHEL-family systems postgrey, the SPF policy daemon, certbot (ACME "
        "certificates) and OpenDKIM (DKIM signing) are not in the distribution's own "
        "repositories but in EPEL, "
        "Fedora's Extra Packages for Enterprise Linux. This step installs the package that "
        "defines the EPEL repositories "
        "(epel-release; oracle-epel-release on Oracle Linux; on RHEL the Fedora project's "
        "rpm) and, on EL 8 and newer, enables the CodeReady Builder repository (crb, "
        "PowerTools on EL8), which EPEL packages may depend on, as the EPEL documentation "
        "asks. It runs only when a chosen step needs an EPEL package, before the package "
        "step. Rollback disables CRB only if this step enabled it and removes epel-release "
        "only if this step installed it.")
    outdated = (
        "Guide 002 enables EPEL per command (`yum install ... --enablerepo=epel`), which "
        "assumes the repository is already defined but disabled; today epel-release defines "
        "and enables it, and EL8+ also needs CRB/PowerTools for some dependencies.",
        "The guides' RPMforge/DAG repositories are gone; EPEL is the maintained source.",
        "yum is replaced by dnf on EL8 and newer; `dnf config-manager` switches repositories "
        "(RHEL: `subscription-manager repos`).",
    )
    touches = ("package: epel-release", "repository: crb / powertools (EL8+)")

    def enabled_for(self, answers: Answers, platform: Platform) -> bool:
        return bool(epel_needed(answers, platform))

    def plan(self, ctx: PlanContext) -> List[Change]:
        p = ctx.platform
        if not epel_needed(ctx.answers, p):
            return []
        changes: List[Change] = []
        if p.epel_release_url:
            changes.append(Command(
                [p.pkg_manager, "install", "-y", p.epel_release_url],
                unless=["rpm", "-q", p.epel_release],
                undo=[p.pkg_manager, "remove", "-y", p.epel_release],
                description=f"install {p.epel_release} from the Fedora project (EPEL)"))
        else:
            install = [p.epel_release]
            if p.crb_repo and p.pkg_manager == "dnf":
                install.append("dnf-plugins-core")  # dnf config-manager
            changes.append(Packages(p.pkg_manager, install=install))
        changes += crb_changes(p)
        return changes

    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        ex, p = ctx.executor, ctx.platform
        if not epel_needed(ctx.answers, p):
            return []
        out: List[CheckResult] = []
        have = installed_packages(ex, p.pkg_manager, [p.epel_release])
        if p.epel_release in have:
            out.append(passed(f"{p.epel_release} installed"))
        else:
            out.append(failed(f"{p.epel_release} installed", "not installed",
                              f"{p.pkg_manager} install {p.epel_release}"))
        if not ex.which(p.pkg_manager):
            out.append(info("EPEL repository enabled", f"{p.pkg_manager} is not available"))
            return out
        argv = [p.pkg_manager, "-q", "repolist"] + (
            ["--enabled"] if p.pkg_manager == "dnf" else ["enabled"])
        res = ex.run(argv, quiet=True, timeout=300)
        ids = enabled_repos(res.stdout) if res.ok else set()
        shown = " ".join(sorted(ids)) or (res.output[-300:] if not res.ok else "none")
        out.append(CheckResult("EPEL repository enabled", "epel" in ids, shown,
                               "" if "epel" in ids else "reinstall epel-release"))
        if p.crb_repo:
            if _crb_is_rhel(p):
                ok = any(i.startswith("codeready-builder-for-rhel-") for i in ids)
            else:
                ok = p.crb_repo in ids
            out.append(CheckResult(f"{p.crb_repo} repository enabled", ok, shown,
                                   "" if ok else "EPEL packages may miss dependencies"))
        return out

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        if not platform.is_el:
            return ["# Debian and Ubuntu need no extra repository"]
        listing = (f"{platform.pkg_manager} repolist --enabled" if platform.pkg_manager == "dnf"
                   else "yum repolist enabled")
        cmds = [f"rpm -q {q(platform.epel_release)}",
                f"{listing}   # expect epel" + (f" and {platform.crb_repo}"
                                                  if platform.crb_repo else "")]
        return cmds
