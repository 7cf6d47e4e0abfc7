"""Step 7 (restrictions): never an open relay, whatever the options."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Tuple

import pytest
from recipe_plans import DEMO, PLATFORMS, Planned, with_

from wizard.platforms import get_platform


@pytest.mark.parametrize("pid", PLATFORMS)
@pytest.mark.parametrize("spf", [False, True])
@pytest.mark.parametrize("postgrey", [False, True])
@pytest.mark.parametrize("rbl", [(), ("zen.spamhaus.org", "bl.spamcop.net")])
@pytest.mark.parametrize("access", [(), (("x@example.org", "OK"),)])
def test_never_an_open_relay(pid: str, spf: bool, postgrey: bool, rbl: Tuple[str, ...],
                             access: Tuple[Tuple[str, str], ...], empty_root: Path) -> None:
    a = with_(DEMO, restrictions=replace(DEMO.restrictions, rbl=rbl, sender_access=access,
                                         spf=spf),
              steps=(("firewall", True), ("postgrey", postgrey), ("virtual-aliases", True)))
    values = Planned(empty_root, get_platform(pid), a).main_cf()
    rules = values["smtpd_recipient_restrictions"].split(", ")
    assert "reject_unauth_destination" in rules
    # nothing before it may permit strangers
    assert rules[:rules.index("reject_unauth_destination")] == [
        "permit_mynetworks", "permit_sasl_authenticated"]
    if postgrey:
        policy = rules[-1]
        if get_platform(pid).is_debian:
            assert policy == "check_policy_service inet:127.0.0.1:10023"
        else:
            assert policy == "check_policy_service unix:postgrey/socket"
    # policy services come after the relay lock and the built-in checks: SPF, then postgrey
    policies = [r for r in rules if r.startswith("check_policy_service")]
    assert rules[len(rules) - len(policies):] == policies
    assert policies[:1] == (["check_policy_service unix:private/policyd-spf"] if spf else
                            policies[:1])
    assert len(policies) == int(spf) + int(postgrey)
    assert [r for r in rules if r.startswith("reject_rbl_client")] == [
        f"reject_rbl_client {x}" for x in rbl]
    assert ("check_sender_access" in values["smtpd_sender_restrictions"]) == bool(access)


@pytest.mark.parametrize("line,ok", [("", True), ("smtpd_delay_reject = yes\n", True),
                                     ("smtpd_delay_reject = no\n", False)])
def test_verify_wants_smtpd_delay_reject_yes(line: str, ok: bool, tmp_path: Path) -> None:
    from recipes.restrictions import RestrictionsRecipe
    from wizard.executor import FakeCommand, ScriptedExecutor
    from wizard.recipe import Facts, VerifyContext

    (tmp_path / "etc/postfix").mkdir(parents=True)
    (tmp_path / "etc/postfix/main.cf").write_text("myhostname = mail.example.com\n" + line)
    ex = ScriptedExecutor(tmp_path, {"daemon-pid": FakeCommand(1)})
    ctx = VerifyContext(DEMO, get_platform("debian12"), Facts(), ex)
    got = [c.ok for c in RestrictionsRecipe().verify(ctx)
           if c.name == "smtpd_delay_reject stays yes"]
    assert got == [ok]
