"""Sender binding on the submission port (guide 002): the sender login map and its rule."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import List

import pytest
from recipe_plans import DEMO, Planned, with_

from recipes._senders import SENDER_LOGINS, sender_logins, sender_logins_text
from recipes.restrictions import RestrictionsRecipe
from wizard import changes as ch
from wizard.answers import parse_answers
from wizard.errors import AnswersError
from wizard.executor import FakeCommand, ScriptedExecutor
from wizard.platforms import get_platform
from wizard.recipe import Facts, VerifyContext


def test_demo_map_owners() -> None:
    # info -> alice, bob and contact@example.net -> alice, bob have no single owner
    assert sender_logins(DEMO) == [
        ("alice@example.com", "alice"), ("bob@example.com", "bob"),
        ("root@example.com", "alice"), ("postmaster@example.com", "alice"),
        ("abuse@example.com", "alice"), ("sales@example.com", "bob"),
        ("sales@example.net", "bob")]


def test_aliases_that_leave_the_server_or_reach_two_users_have_no_owner() -> None:
    a = with_(DEMO, aliases=(("fwd", ("bob", "bob@elsewhere.example")),
                             ("team", ("sales", "alice")), ("boss", ("sales",)),
                             ("sales", ("bob",))),
              virtual_aliases=(("@example.net", ("alice",)),
                               ("x@example.net", ("bob@example.com",))))
    got = dict(sender_logins(a))
    assert "fwd@example.com" not in got and "team@example.com" not in got
    assert got["boss@example.com"] == "bob"          # boss -> sales -> bob
    assert got["x@example.net"] == "bob"              # a local address of the mail domain
    assert not any(k.startswith("@") for k in got)    # a catch-all is nobody's


def test_virtual_addresses_only_with_the_step_on() -> None:
    a = with_(DEMO, steps=(("firewall", True), ("postgrey", False),
                           ("virtual-aliases", False)))
    assert not any(addr.endswith("@example.net") for addr, _ in sender_logins(a))


@pytest.mark.parametrize("pid", ["rocky9", "almalinux10", "debian12"])
def test_plan_binds_senders_first_with_the_platform_map_type(pid: str, tmp_path: Path) -> None:
    p = get_platform(pid)
    planned = Planned(tmp_path, p)
    values = planned.main_cf()
    db = p.default_database_type
    assert values["smtpd_sender_login_maps"] == f"{db}:{SENDER_LOGINS}"
    rules = values["smtpd_sender_restrictions"].split(", ")
    assert rules[0] == "reject_authenticated_sender_login_mismatch"
    assert rules.index("reject_authenticated_sender_login_mismatch") < rules.index(
        "permit_sasl_authenticated")
    assert planned.text(SENDER_LOGINS) == sender_logins_text(DEMO, db)
    cmds = [c for c in planned.changes["restrictions"] if isinstance(c, ch.Command)]
    assert any(c.argv == ["postmap", f"{db}:{SENDER_LOGINS}"] for c in cmds)


def test_off_writes_no_map_and_no_rule(tmp_path: Path) -> None:
    a = with_(DEMO, restrictions=replace(DEMO.restrictions, sender_login=False))
    planned = Planned(tmp_path, get_platform("debian12"), a)
    values = planned.main_cf()
    assert "smtpd_sender_login_maps" not in values
    assert "login_mismatch" not in values["smtpd_sender_restrictions"]
    assert planned.text(SENDER_LOGINS) == ""


def test_answer_must_be_a_boolean() -> None:
    raw = DEMO.to_dict(include_secrets=True)
    raw["restrictions"]["sender_login"] = "yes"
    with pytest.raises(AnswersError) as ei:
        parse_answers(raw)
    assert [f for f, _ in ei.value.errors] == ["restrictions.sender_login"]


def _verify(tmp_path: Path, answer: str) -> list:
    def lookup(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
        assert argv[:3] == ["postmap", "-q", "-"]  # one process for every address
        keys = (ex.last_input or "").splitlines()
        return FakeCommand(0, "".join(f"{k}\t{'bob' if k == 'bob@example.com' else answer}\n"
                                      for k in keys))

    script = {"postmap -q": lookup,
        "daemon-pid": FakeCommand(1)}  # postfix is not running: no network probe
    tool = tmp_path / "usr/sbin/postmap"
    tool.parent.mkdir(parents=True, exist_ok=True)
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    ex = ScriptedExecutor(tmp_path, script)
    ctx = VerifyContext(DEMO, get_platform("debian12"), Facts(), ex)
    return [c for c in RestrictionsRecipe().verify(ctx)
            if c.name.startswith("sender login map answers")]


def test_verify_asks_the_map_for_each_owner(tmp_path: Path) -> None:
    good = _verify(tmp_path, "alice")
    assert len(good) == len(sender_logins(DEMO))
    bad = {c.name: c.ok for c in _verify(tmp_path, "mallory")}
    assert bad["sender login map answers bob@example.com"] is True
    assert bad["sender login map answers alice@example.com"] is False
    assert bad["sender login map answers sales@example.com"] is False
