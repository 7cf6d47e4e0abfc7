"""Block lists (issue 10): Postfix's return-code filter in the answers, the resolver check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from recipe_plans import DEMO, Planned

from recipes._dnsbl import nameservers, resolver_check
from wizard.answers import parse_answers
from wizard.answers.smtpd import check_rbl
from wizard.errors import AnswersError
from wizard.platforms import get_platform

GOOD = ["zen.spamhaus.org", "zen.spamhaus.org=127.0.0.[2..11]", "bl.example.net=127.0.0.2",
        "bl.example.net=127.0.0.[2;4;10..11]", "bl.example.net=127.[0..1].0.[2..255]"]
BAD = ["zen", "zen.spamhaus.org=", "zen.spamhaus.org=127.0.0", "zen.spamhaus.org=127.0.0.256",
       "zen.spamhaus.org=127.0.0.[11..2]", "zen.spamhaus.org=127.0.0.2..3",
       "zen.spamhaus.org=127.0.0.[]", "zen.spamhaus.org=127.0.0.[2..11",
       "zen.spamhaus.org=127.0.0.2=3", "zen.spamhaus.org=127.0.0.[2..11];x",
       "zen.spamhaus.org=127.0.0.2,reject", "zen.spamhaus.org=127.0.0.x",
       "zen.spamhaus.org=127.0.0.[2..1000]", "bad_name.example=127.0.0.2"]


@pytest.mark.parametrize("entry", GOOD)
def test_filters_postfix_documents_are_accepted(entry: str) -> None:
    assert check_rbl(entry) is None
    raw = DEMO.to_dict(include_secrets=True)
    raw["restrictions"]["rbl"] = [entry]
    assert parse_answers(raw).restrictions.rbl == (entry,)


@pytest.mark.parametrize("entry", BAD)
def test_anything_else_is_refused_with_the_field_named(entry: str) -> None:
    raw: Any = DEMO.to_dict(include_secrets=True)
    raw["restrictions"]["rbl"] = ["bl.example.net", entry]
    with pytest.raises(AnswersError) as ei:
        parse_answers(raw)
    assert [f for f, _ in ei.value.errors] == ["restrictions.rbl[1]"]


def test_demo_default_uses_the_filter_and_the_plan_keeps_it(tmp_path: Path) -> None:
    assert DEMO.restrictions.rbl == ("zen.spamhaus.org=127.0.0.[2..11]",)
    rules = Planned(tmp_path, get_platform("debian12")).main_cf()[
        "smtpd_recipient_restrictions"].split(", ")
    assert "reject_rbl_client zen.spamhaus.org=127.0.0.[2..11]" in rules


def test_nameservers_are_read_in_order() -> None:
    text = "# comment\nsearch lan\nnameserver 10.0.0.1\nnameserver  fe80::1%eth0\noptions x\n"
    assert nameservers(text) == ["10.0.0.1", "fe80::1%eth0"]
    assert nameservers(None) == []


def test_a_private_resolver_passes() -> None:
    res = resolver_check("nameserver 10.0.0.1\nnameserver 127.0.0.53\n", ("zen.spamhaus.org",))
    assert res.ok is True


@pytest.mark.parametrize("server", ["8.8.8.8", "1.1.1.1", "9.9.9.9", "2620:fe::fe",
                                    "2001:4860:4860:0:0:0:0:8888"])
def test_a_public_resolver_fails_an_unfiltered_list(server: str) -> None:
    res = resolver_check(f"nameserver 10.0.0.1\nnameserver {server}\n",
                         ("zen.spamhaus.org", "bl.example.net=127.0.0.2"))
    assert res.ok is False
    assert "zen.spamhaus.org" in res.detail and "bl.example.net" not in res.detail
    assert "127.255.255" in res.explanation


def test_a_public_resolver_with_filtered_lists_only_warns() -> None:
    res = resolver_check("nameserver 1.1.1.1\n", ("zen.spamhaus.org=127.0.0.[2..11]",))
    assert res.ok is None and "1.1.1.1" in res.detail and "127.255.255" in res.explanation


def test_verify_reads_the_targets_resolv_conf(tmp_path: Path) -> None:
    from recipes.restrictions import RestrictionsRecipe
    from wizard.executor import FakeCommand, ScriptedExecutor
    from wizard.recipe import Facts, VerifyContext

    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/resolv.conf").write_text("nameserver 8.8.4.4\n")
    ex = ScriptedExecutor(tmp_path, {"daemon-pid": FakeCommand(1)})
    ctx = VerifyContext(DEMO, get_platform("rocky9"), Facts(), ex)
    got = [c for c in RestrictionsRecipe().verify(ctx)
           if c.name == "block lists reachable (resolver)"]
    assert len(got) == 1 and got[0].ok is None and "8.8.4.4" in got[0].detail


@pytest.mark.parametrize("pid", ["rocky9", "debian13"])
def test_verify_spf_service_and_program(pid: str, tmp_path: Path) -> None:
    from recipes.restrictions import RestrictionsRecipe, spf_entry
    from wizard.executor import FakeCommand, ScriptedExecutor
    from wizard.recipe import Facts, VerifyContext

    p = get_platform(pid)
    ex = ScriptedExecutor(tmp_path, {"daemon-pid": FakeCommand(1)})
    ctx = VerifyContext(DEMO, p, Facts(), ex)

    def spf_results() -> dict:
        return {c.name: c.ok for c in RestrictionsRecipe().verify(ctx) if "SPF" in c.name}

    assert spf_results() == {"SPF policy service in master.cf": False,
                             "SPF policy server installed": False}
    (tmp_path / "etc/postfix").mkdir(parents=True)
    (tmp_path / "etc/postfix/master.cf").write_text(spf_entry(p).render())
    program = p.spf_policy_argv.split("argv=")[1]
    (tmp_path / program.lstrip("/")).parent.mkdir(parents=True)
    (tmp_path / program.lstrip("/")).write_text("#!/bin/sh\n")
    assert spf_results() == {"SPF policy service in master.cf": True,
                             "SPF policy server installed": True}

