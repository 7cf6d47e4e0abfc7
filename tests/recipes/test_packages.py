"""Step 2 (packages): what is installed and removed on each platform."""

from __future__ import annotations

from pathlib import Path

import pytest
from recipe_plans import ANSWERS, PLATFORMS, dry_plan

from recipes._dovecot import dovecot_packages
from wizard import changes as ch
from wizard.platforms import get_platform


@pytest.mark.parametrize("pid", PLATFORMS)
def test_packages_per_platform(tmp_path: Path, pid: str) -> None:
    p = get_platform(pid)
    changes = dry_plan(tmp_path, pid)["packages"].changes
    pkgs = changes[0]
    assert isinstance(pkgs, ch.Packages)
    assert pkgs.manager == {"centos7": "yum", "debian12": "apt", "debian13": "apt",
                            "ubuntu24.04": "apt"}.get(pid, "dnf")
    assert "postfix" in pkgs.install
    if p.is_debian:
        assert {"dovecot-core", "dovecot-imapd", "dovecot-pop3d"} <= set(pkgs.install)
        assert "dovecot" not in pkgs.install and "sendmail" not in pkgs.remove
        assert "exim4-daemon-light" in pkgs.remove
        assert "postfix postfix/main_mailer_type select Internet Site" in pkgs.debconf
        assert "postfix postfix/mailname string mail.example.com" in pkgs.debconf
    else:
        assert "dovecot" in pkgs.install and pkgs.remove == ["sendmail"]
        assert pkgs.debconf == []
    alt = [c for c in changes if isinstance(c, ch.Command)]
    if p.is_el and p.major >= 8:
        assert len(alt) == 1
        assert alt[0].argv == ["alternatives", "--set", "mta", "/usr/sbin/sendmail.postfix"]
        assert alt[0].unless  # a real probe, not the once-per-session ledger
    else:
        assert alt == []
    # neither cyrus nor postgrey with the demo answers
    assert not set(p.packages_cyrus) & set(pkgs.install)
    assert "postgrey" not in pkgs.install


def test_el_needs_one_dovecot_package_for_every_protocol() -> None:
    answers = ANSWERS.with_changes(pop3=False)
    assert dovecot_packages(get_platform("rocky9"), answers) == ["dovecot"]
    assert dovecot_packages(get_platform("debian12"), answers) == ["dovecot-core",
                                                                   "dovecot-imapd"]
