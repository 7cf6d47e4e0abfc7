"""The DNS records computed from the answers (issue 11): every kind, hostile input, rendering."""

from __future__ import annotations

import copy
from typing import Any, Dict, List

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest
import yaml

from wizard.answers import demo_answers_path, parse_answers
from wizard.dnsrecords import (
    ADVICE,
    FILL,
    PENDING,
    DkimKey,
    Record,
    expected_records,
    render_table,
    render_zone,
    txt_strings,
)
from wizard.dnsrecords.gather import dns_plan
from wizard.dnsrecords.policy import mta_sts_id, mta_sts_policy, relay_host, spf_value
from wizard.errors import AnswersError

DEMO: Dict[str, Any] = yaml.safe_load(demo_answers_path().read_text())
KEY = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 9


def answers(**changes: Any) -> Any:
    d = copy.deepcopy(DEMO)
    d.update(changes)
    return parse_answers(d)


def by(records: List[Record], name: str, rtype: str) -> List[Record]:
    return [r for r in records if r.name == name and r.type == rtype]


def one(records: List[Record], name: str, rtype: str) -> Record:
    found = by(records, name, rtype)
    assert len(found) == 1, (name, rtype, found)
    return found[0]


def test_host_addresses_give_a_aaaa_and_ptr_advice() -> None:
    recs = expected_records(answers(), ["198.51.100.7", "2a01:4f8::25"])
    assert one(recs, "mail.example.com.", "A").value == "198.51.100.7"
    assert one(recs, "mail.example.com.", "AAAA").value == "2a01:4f8::25"
    ptr = one(recs, "7.100.51.198.in-addr.arpa.", "PTR")
    assert ptr.value == "mail.example.com." and ptr.state == ADVICE
    assert "hosting provider" in ptr.explanation
    assert by(recs, "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.f.4.0.1.0.a.2.ip6.arpa.",
              "PTR")


def test_unknown_address_is_a_marked_placeholder() -> None:
    recs = expected_records(answers(), [])
    a = one(recs, "mail.example.com.", "A")
    assert a.state == FILL and a.value.startswith("<") and not a.known
    zone = render_zone(recs)
    line = next(x for x in zone.splitlines() if " IN A " in x)
    assert line.startswith("; ")  # a comment: the fragment never publishes a fake address


def test_mx_spf_dmarc_mta_sts_tlsrpt_for_every_receiving_domain() -> None:
    recs = expected_records(answers(), ["198.51.100.7"])
    for d in ("example.com", "example.net"):
        assert one(recs, f"{d}.", "MX").value == "10 mail.example.com."
        assert one(recs, f"{d}.", "TXT").value == "v=spf1 mx -all"
        dmarc = one(recs, f"_dmarc.{d}.", "TXT")
        assert dmarc.value == "v=DMARC1; p=none; rua=mailto:postmaster@example.com"
        assert "quarantine" in dmarc.explanation and "reject" in dmarc.explanation
        assert one(recs, f"_mta-sts.{d}.", "TXT").value.startswith("v=STSv1; id=")
        assert one(recs, f"mta-sts.{d}.", "CNAME").value == "mail.example.com."
        assert one(recs, f"_smtp._tls.{d}.", "TXT").value == \
            "v=TLSRPTv1; rua=mailto:postmaster@example.com"
    # reports for example.net go to example.com, which must agree to take them
    assert one(recs, "example.net._report._dmarc.example.com.", "TXT").value == "v=DMARC1"
    assert not by(recs, "example.com._report._dmarc.example.com.", "TXT")


def test_alias_domains_are_left_out_when_their_step_is_off() -> None:
    recs = expected_records(answers(steps={"virtual-aliases": False}), [])
    assert not [r for r in recs if "example.net" in r.name]


def test_mta_sts_id_follows_the_policy_text() -> None:
    p1 = mta_sts_policy(["mail.example.com"])
    assert "mode: testing" in p1 and "mx: mail.example.com" in p1
    assert mta_sts_id(p1) == mta_sts_id(mta_sts_policy(["mail.example.com"]))
    assert mta_sts_id(p1) != mta_sts_id(mta_sts_policy(["mx.example.org"]))
    assert mta_sts_id(p1).isalnum() and 1 <= len(mta_sts_id(p1)) <= 32
    plan = dns_plan(answers(), [])
    assert plan.policies[0][0] == "https://mta-sts.example.com/.well-known/mta-sts.txt"
    assert plan.policies[0][1] == p1


@pytest.mark.parametrize("relayhost, host, mech", [
    ("[smtp.provider.example]:587", "smtp.provider.example", "a:smtp.provider.example"),
    ("smtp.provider.example", "smtp.provider.example", "a:smtp.provider.example"),
    ("[192.0.2.25]", "192.0.2.25", "ip4:192.0.2.25"),
])
def test_spf_names_the_relay(relayhost: str, host: str, mech: str) -> None:
    assert relay_host(relayhost) == host
    value, why = spf_value(relayhost)
    assert value == f"v=spf1 mx {mech} ~all"
    assert "include:" in why and host in why
    recs = expected_records(answers(relayhost=relayhost), [])
    assert one(recs, "example.com.", "TXT").value == value


def test_dkim_record_per_signing_domain_and_pending_key() -> None:
    dkim = DkimKey("s202612", ("example.com", "example.net"), KEY)
    recs = expected_records(answers(), [], dkim)
    for d in ("example.com", "example.net"):
        assert one(recs, f"s202612._domainkey.{d}.", "TXT").value == KEY
    pending = expected_records(answers(), [], DkimKey("s202612", ("example.com",), None))
    r = one(pending, "s202612._domainkey.example.com.", "TXT")
    assert r.state == PENDING and "made at apply" in r.value
    assert "; made at apply:" in render_zone(pending)
    assert not [r for r in expected_records(answers(), []) if r.purpose == "DKIM"]


def test_srv_records_follow_rfc_6186() -> None:
    recs = expected_records(answers(), [])
    val = {r.name: r.value for r in recs if r.type == "SRV"}
    assert val["_submission._tcp.example.com."] == "0 1 587 mail.example.com."
    assert val["_imaps._tcp.example.com."] == "0 1 993 mail.example.com."
    assert val["_pop3s._tcp.example.com."] == "10 1 995 mail.example.com."
    assert val["_imap._tcp.example.com."] == "0 0 0 ."   # no plain-text ports
    assert val["_pop3._tcp.example.com."] == "0 0 0 ."
    assert val["_submissions._tcp.example.com."] == "0 0 0 ."
    plain = {r.name: r.value for r in expected_records(
        answers(plaintext_ports=True, pop3=False), []) if r.type == "SRV"}
    assert plain["_imap._tcp.example.com."] == "20 1 143 mail.example.com."
    assert plain["_pop3._tcp.example.com."] == "0 0 0 ."
    assert plain["_pop3s._tcp.example.com."] == "0 0 0 ."


@pytest.mark.parametrize("size, parts", [(0, [0]), (255, [255]), (256, [255, 1]),
                                         (600, [255, 255, 90])])
def test_txt_split_into_255_byte_strings(size: int, parts: List[int]) -> None:
    text = "a" * size
    pieces = txt_strings(text)
    assert [len(p) for p in pieces] == parts and "".join(pieces) == text


def test_zone_fragment_loads_with_dnspython_and_keeps_long_txt() -> None:
    dkim = DkimKey("s1", ("example.com",), KEY)
    recs = expected_records(answers(), ["198.51.100.7"], dkim)
    text = "$ORIGIN .\n$TTL 3600\n" + render_zone(recs, dns_plan(answers(), []).policies)
    zone = dns.zone.from_text(text, origin=".", relativize=False, check_origin=False)
    rds = zone.find_rdataset("s1._domainkey.example.com.", "TXT")
    (rd,) = list(rds)
    assert len(rd.strings) > 1 and all(len(s) <= 255 for s in rd.strings)
    assert b"".join(rd.strings).decode() == KEY
    mx = zone.find_rdataset("example.com.", "MX")
    assert [r.to_text() for r in mx] == ["10 mail.example.com."]
    # the PTR advice and the policy file are comments, not records of this zone
    assert "in-addr.arpa" not in {n.to_text() for n in zone.nodes}


def test_every_published_record_parses_as_its_type() -> None:
    dkim = DkimKey("s1", ("example.com",), KEY)
    for r in expected_records(answers(), ["198.51.100.7", "2a01:4f8::25"], dkim):
        if not r.known:
            continue
        from wizard.dnsrecords.render import rdata_text
        dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(r.type), rdata_text(r))


def test_table_shows_each_record_whole() -> None:
    dkim = DkimKey("s1", ("example.com",), KEY)
    table = render_table(expected_records(answers(), [], dkim))
    assert KEY in table and "fill in" in table and "(MX, required)" in table


def test_no_answer_reaches_a_record_unvalidated() -> None:
    # what would break a record (quotes, semicolons, spaces, line breaks) never passes the
    # host name and address validators
    for bad in ('mail.example.com"', "mail;x.example.com", "mail example.com",
                "mail.example.com\n@ IN NS evil."):
        with pytest.raises(AnswersError):
            answers(hostname=bad)
    with pytest.raises(AnswersError):
        answers(virtual_alias_domains=['evil.example"; v=spf1 +all'])


@pytest.mark.parametrize("value, field", [
    (["203.0.113.5\n"], "dns.public_addresses[0]"),
    (["127.0.0.1"], "dns.public_addresses[0]"),
    (["fe80::1%eth0"], "dns.public_addresses[0]"),
    (["fe80::1"], "dns.public_addresses[0]"),
    (["mail.example.com"], "dns.public_addresses[0]"),
    (["198.51.100.7", 5], "dns.public_addresses[1]"),
    (["198.51.100.7"] * 17, "dns.public_addresses"),
])
def test_hostile_public_addresses_are_refused_by_field(value: Any, field: str) -> None:
    with pytest.raises(AnswersError) as ei:
        answers(dns={"public_addresses": value})
    assert field in dict(ei.value.errors)


def test_unknown_dns_key_is_refused() -> None:
    with pytest.raises(AnswersError) as ei:
        answers(dns={"public_adresses": ["198.51.100.7"]})
    assert "dns.public_adresses" in dict(ei.value.errors)


def test_answered_addresses_win_over_the_interfaces() -> None:
    a = answers(dns={"public_addresses": ["2a01:4f8:0:0::25", "198.51.100.7"]})
    assert a.dns.public_addresses == ("2a01:4f8::25", "198.51.100.7")
    plan = dns_plan(a, ["198.51.100.99"])
    assert plan.addresses == ("2a01:4f8::25", "198.51.100.7")
    assert "dns.public_addresses" in plan.notes[0]
    # without the answer: the global interface addresses, private ones left out
    plan = dns_plan(answers(), ["10.0.0.5", "93.184.215.14", "192.0.2.1"])
    assert plan.addresses == ("93.184.215.14",)
    assert dns_plan(answers(), ["10.0.0.5"]).addresses == ()
    assert "dns.public_addresses" in dns_plan(answers(), ["10.0.0.5"]).notes[0]
    assert "Public addresses" in dict(a.summary())
    assert a.to_dict()["dns"] == {"public_addresses": ["2a01:4f8::25", "198.51.100.7"]}


# --------------------------------------------------------------------------- DKIM key
def test_dkim_record_comes_from_the_key_on_the_target(tmp_path: Any) -> None:
    from wizard.dkimkey import generate_key, key_path, private_pem, txt_value
    from wizard.dnsrecords.dkim import dkim_key, target_dkim_key
    from wizard.dnsrecords.gather import target_dns_plan
    from wizard.executor import ScriptedExecutor

    a = answers()
    ex = ScriptedExecutor(tmp_path)
    # no key yet: the record is pending, for every signing domain
    base = dkim_key(a)
    assert base is not None and base.txt is None
    assert base.domains == ("example.com", "example.net")
    plan = target_dns_plan(ex, a)
    pending = [r for r in plan.records if r.purpose == "DKIM"]
    assert [r.state for r in pending] == [PENDING, PENDING]
    assert pending[0].name == f"{a.dkim.selector}._domainkey.example.com."
    # the key made at apply: its public half is the record
    key = generate_key()
    path = tmp_path / key_path(a.dkim.selector).lstrip("/")
    path.parent.mkdir(parents=True)
    path.write_text(private_pem(key))
    got, note = target_dkim_key(ex, a)
    assert got is not None and got.txt == txt_value(key) and note == ""
    recs = [r for r in target_dns_plan(ex, a).records if r.purpose == "DKIM"]
    assert {r.value for r in recs} == {txt_value(key)} and all(r.known for r in recs)
    assert "PRIVATE" not in render_zone(recs)
    # not a key: said so, the record stays pending
    path.write_text("garbage")
    got, note = target_dkim_key(ex, a)
    assert got is not None and got.txt is None and "not a usable RSA key" in note
    # signing off: no DKIM record at all
    off = answers(dkim={"enabled": False})
    assert dkim_key(off) is None
    assert not [r for r in target_dns_plan(ex, off).records if r.purpose == "DKIM"]
