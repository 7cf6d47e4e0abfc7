"""Step 9 (sasl): logins limited to a group through PAM."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from recipe_plans import DEMO, Planned, with_

from wizard import changes as ch
from wizard.platforms import get_platform


# guide 001: the group limits SMTP AUTH only, so its rule is in PAM service smtp with either
# backend (Dovecot is told to use that service for SMTP logins), never in Dovecot's own
@pytest.mark.parametrize("backend,service", [("dovecot", "smtp"), ("cyrus", "smtp")])
@pytest.mark.parametrize("pid", ["rocky9", "debian12"])
def test_pam_group_adds_every_user_first(backend: str, service: str, pid: str,
                                         empty_root: Path) -> None:
    a = with_(DEMO, sasl=replace(DEMO.sasl, backend=backend, pam_group="mailusers"))
    plan = Planned(empty_root, get_platform(pid), a)
    sasl = plan.changes["sasl"]
    accounts = [c for c in sasl if isinstance(c, ch.UserGroup)]
    group_idx = [i for i, c in enumerate(sasl) if isinstance(c, ch.UserGroup)
                 and c.group == "mailusers"][0]
    members = {c.user for c in accounts if c.member_of == "mailusers"}
    assert members == {"alice", "bob"}
    pam_idx = [i for i, c in enumerate(sasl) if getattr(c, "path", "") ==
               f"/etc/pam.d/{service}"][0]
    member_idx = [i for i, c in enumerate(sasl) if isinstance(c, ch.UserGroup)
                  and c.member_of == "mailusers"]
    assert group_idx < min(member_idx) and max(member_idx) < pam_idx
    pam = plan.text(f"/etc/pam.d/{service}")
    lines = [x for x in pam.splitlines() if x and not x.startswith("#")]
    assert lines[0].split()[:3] == ["auth", "required", "pam_succeed_if.so"]
    assert lines[0].endswith("user ingroup mailusers")
    assert all(getattr(c, "path", "") != "/etc/pam.d/dovecot" for c in sasl)


def test_pam_edit_is_idempotent_and_keeps_the_file() -> None:
    from recipes._pam import pam_with_group

    p = get_platform("debian12")
    orig = "#%PAM-1.0\n\n@include common-auth\n@include common-account\n"
    once = pam_with_group(orig, p, "dovecot", "g1")
    assert pam_with_group(once, p, "dovecot", "g1") == once
    other = pam_with_group(once, p, "dovecot", "g2")
    assert "ingroup g1" not in other and other.count("pam_succeed_if") == 1
    assert once.replace(once.splitlines(True)[2] + once.splitlines(True)[3], "") == orig
