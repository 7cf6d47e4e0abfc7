"""Step epel: EPEL (and CRB) on EL, only when a chosen step needs an EPEL package."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import List

import pytest
from allsteps import real_engine
from fake_target import DEMO_ANSWERS, FakeTarget

from recipes.epel import EpelRecipe, enabled_repos
from wizard.executor import DryRunExecutor, FakeCommand, ScriptedExecutor
from wizard.platforms import get_platform
from wizard.recipe import Facts, VerifyContext

NO_SPF = DEMO_ANSWERS.with_changes(
    restrictions=replace(DEMO_ANSWERS.restrictions, spf=False),
    dkim=replace(DEMO_ANSWERS.dkim, enabled=False))
DKIM_ONLY = NO_SPF.with_changes(dkim=DEMO_ANSWERS.dkim)
POSTGREY = NO_SPF.with_changes(steps=(("firewall", True), ("postgrey", True),
                                      ("virtual-aliases", True)))


def planned_ids(pid: str, answers, root: Path) -> List[str]:
    engine = real_engine(answers, get_platform(pid), DryRunExecutor(root))
    return [sp.recipe.id for sp in engine.plan() if sp.enabled]


@pytest.mark.parametrize("pid", ["rocky9", "centos7", "almalinux10", "rocky8"])
def test_epel_comes_before_the_packages_that_need_it(pid: str, tmp_path: Path) -> None:
    ids = planned_ids(pid, POSTGREY, tmp_path)
    assert ids.index("epel") == ids.index("packages") - 1
    # without an EPEL package there is nothing to enable
    assert "epel" not in planned_ids(pid, NO_SPF, tmp_path)
    # inbound SPF (on in the demo answers) needs pypolicyd-spf, which only EPEL has
    spf = planned_ids(pid, DEMO_ANSWERS, tmp_path)
    assert spf.index("epel") == spf.index("packages") - 1
    # DKIM signing (on by default) needs OpenDKIM, which only EPEL has: the same one step
    dkim = planned_ids(pid, DKIM_ONLY, tmp_path)
    assert dkim.count("epel") == 1 and dkim.index("epel") == dkim.index("packages") - 1


@pytest.mark.parametrize("pid", ["debian12", "debian13", "ubuntu24.04"])
def test_no_epel_off_el(pid: str, tmp_path: Path) -> None:
    assert "epel" not in planned_ids(pid, POSTGREY, tmp_path)
    assert not EpelRecipe().enabled_for(POSTGREY, get_platform(pid))


def test_enabled_repos_reads_dnf_and_yum_listings() -> None:
    dnf = ("repo id                         repo name\nappstream    Rocky Linux 9 - AppStream\n"
           "crb          Rocky Linux 9 - CRB\nepel         Extra Packages for EL 9 - x86_64\n")
    yum = ("repo id        repo name                     status\n!base/7/x86_64  CentOS-7 - Base"
           "  10,072\n*epel/x86_64    Extra Packages  13,791\nrepolist: 23,863\n")
    assert enabled_repos(dnf) == {"appstream", "crb", "epel"}
    assert enabled_repos(yum) == {"base", "epel"}


@pytest.mark.parametrize("listing,failing", [
    ("appstream x\ncrb y\nepel z\n", set()),
    ("appstream x\nepel z\n", {"crb repository enabled"}),
    ("appstream x\ncrb y\n", {"EPEL repository enabled"}),
])
def test_epel_verify_reads_the_enabled_repositories(listing: str, failing: set,
                                                    tmp_path: Path) -> None:
    p = get_platform("rocky9")
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/dnf").write_text("#!/bin/sh\n")
    (root / "usr/bin/dnf").chmod(0o755)
    script = FakeTarget(root, p).script()
    script["rpm -q"] = lambda argv, ex: FakeCommand(0, "epel-release\n")
    script["dnf -q repolist --enabled"] = lambda argv, ex: FakeCommand(0, listing)
    ex = ScriptedExecutor(root, script=script)
    results = EpelRecipe().verify(VerifyContext(POSTGREY, p, Facts(), ex))
    assert {r.name for r in results if r.ok is False} == failing
    assert "epel-release installed" in {r.name for r in results if r.ok}
