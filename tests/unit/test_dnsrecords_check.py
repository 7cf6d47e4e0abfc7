"""``check_records`` and ``mailwizard dns [--check]`` against a local DNS server (issue 11)."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import yaml
from fake_dns import FakeDNS

from wizard import cli
from wizard.answers import demo_answers_path, parse_answers
from wizard.dnsrecords import (
    DIFFERENT,
    MISSING,
    OK,
    PRESENT,
    UNCHECKED,
    UNKNOWN,
    DkimKey,
    check_records,
    expected_records,
    make_resolver,
    parse_nameserver,
)
from wizard.dnsrecords.render import rdata_text

DEMO: Dict[str, Any] = yaml.safe_load(demo_answers_path().read_text())
KEY = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 9
ADDR = "93.184.215.14"


@pytest.fixture()
def server() -> Iterator[FakeDNS]:
    with FakeDNS() as s:
        yield s


def answers() -> Any:
    return parse_answers(copy.deepcopy(DEMO))


def records(dkim_txt: Any = KEY) -> List[Any]:
    return expected_records(answers(), [ADDR], DkimKey("s1", ("example.com",), dkim_txt))


def publish_all(server: FakeDNS, recs: List[Any]) -> None:
    for r in recs:
        if r.known:
            server.add(r.name, r.type, rdata_text(r))


def status_of(results: List[Any], name: str, rtype: str) -> Any:
    return next(c for c in results if c.record.name == name and c.record.type == rtype)


def test_all_published_is_all_ok(server: FakeDNS) -> None:
    recs = records()
    publish_all(server, recs)
    res = check_records(recs, make_resolver([server.spec], timeout=2))
    assert {c.status for c in res} == {OK}, [(c.record.name, c.status, c.detail) for c in res]


def test_missing_and_different_name_what_was_found(server: FakeDNS) -> None:
    recs = records()
    publish_all(server, [r for r in recs if r.type != "TXT" or r.name != "example.com."])
    server.records["_dmarc.example.com."]["TXT"] = ['"v=DMARC1; p=reject"']
    server.records["mail.example.com."]["A"] = ["192.0.2.99"]
    server.records["s1._domainkey.example.com."]["TXT"] = ['"v=DKIM1; k=rsa; p=OTHERKEY"']
    del server.records["_submission._tcp.example.com."]
    res = check_records(recs, make_resolver([server.spec], timeout=2))
    spf = status_of(res, "example.com.", "TXT")
    assert spf.status == MISSING and "no TXT record" in spf.detail
    dmarc = status_of(res, "_dmarc.example.com.", "TXT")
    assert dmarc.status == DIFFERENT and dmarc.found == ("v=DMARC1; p=reject",)
    a = status_of(res, "mail.example.com.", "A")
    assert a.status == DIFFERENT and a.found == ("192.0.2.99",)
    assert status_of(res, "s1._domainkey.example.com.", "TXT").status == DIFFERENT
    srv = status_of(res, "_submission._tcp.example.com.", "SRV")
    assert srv.status == MISSING and "NXDOMAIN" in srv.detail


def test_comparisons_are_semantic(server: FakeDNS) -> None:
    recs = records()
    publish_all(server, recs)
    # split DKIM strings with spaces inside p=, SPF in other spacing and case, DMARC tags
    # spaced differently, another TXT record beside the SPF one: all still ok
    half = len(KEY) // 2
    server.records["s1._domainkey.example.com."]["TXT"] = [f'"{KEY[:half]} " "{KEY[half:]}"']
    server.records["example.com."]["TXT"] = ['"V=SPF1   MX  -ALL"', '"google-site-verif=x"']
    server.records["_dmarc.example.com."]["TXT"] = [
        '"v=DMARC1;p=none;  rua=mailto:postmaster@example.com"']
    server.records["mail.example.com."]["A"] = ["192.0.2.1", ADDR]
    res = check_records(recs, make_resolver([server.spec], timeout=2))
    assert {c.status for c in res} == {OK}, [(c.record.name, c.status) for c in res
                                             if c.status != OK]


def test_two_spf_records_are_different(server: FakeDNS) -> None:
    recs = records()
    publish_all(server, recs)
    server.records["example.com."]["TXT"].append('"v=spf1 a -all"')
    res = check_records(recs, make_resolver([server.spec], timeout=2))
    spf = status_of(res, "example.com.", "TXT")
    assert spf.status == DIFFERENT and "more than one" in spf.detail


def test_pending_dkim_and_unknown_address(server: FakeDNS) -> None:
    recs = expected_records(answers(), [], DkimKey("s1", ("example.com",), None))
    server.add("s1._domainkey.example.com.", "TXT", '"v=DKIM1; p=OLD"')
    server.add("mail.example.com.", "A", "192.0.2.7")
    res = check_records(recs, make_resolver([server.spec], timeout=2))
    assert status_of(res, "s1._domainkey.example.com.", "TXT").status == PRESENT
    a = status_of(res, "mail.example.com.", "A")
    assert a.status == PRESENT and a.found == ("192.0.2.7",)
    assert status_of(res, "<address>.in-addr.arpa.", "PTR").status == UNCHECKED


@pytest.mark.parametrize("mode", ["refuse", "servfail"])
def test_refused_and_servfail_fail_fast_without_retry(server: FakeDNS, mode: str) -> None:
    recs = records()
    getattr(server, mode).add("_dmarc.example.com.")
    publish_all(server, recs)
    t0 = time.monotonic()
    res = check_records(recs, make_resolver([server.spec], timeout=5))
    assert time.monotonic() - t0 < 2.5
    dmarc = status_of(res, "_dmarc.example.com.", "TXT")
    assert dmarc.status == UNKNOWN and dmarc.detail.startswith("error")
    assert server.queries.count(("_dmarc.example.com.", "TXT")) == 1
    others = [c.status for c in res if c.record.name != "_dmarc.example.com."]
    assert set(others) == {OK}


def test_a_silent_resolver_is_asked_once_then_given_up(server: FakeDNS) -> None:
    recs = records()
    server.silent.update(r.name for r in recs)
    t0 = time.monotonic()
    res = check_records(recs, make_resolver([server.spec], timeout=0.5))
    assert time.monotonic() - t0 < 2.5
    assert {c.status for c in res} == {UNKNOWN}
    assert len({q for q in server.queries if q != (".", "NS")}) == 1


def _closed_udp_port() -> int:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_resolver_that_is_not_there_is_known_at_once_not_after_the_timeout() -> None:
    """Nothing listens on the resolver's port: the connected probe sees "connection refused"
    (an unconnected socket would wait the whole timeout) and no record is asked."""
    from wizard.dnsrecords.check import unreachable
    resolver = make_resolver([f"127.0.0.1#{_closed_udp_port()}"], timeout=30)
    assert "connection refused" in unreachable(resolver)
    res = check_records(records(), resolver)
    assert {c.status for c in res} == {UNKNOWN}
    assert all("connection refused" in c.detail for c in res)


@pytest.mark.parametrize("mode", ["refuse", "servfail"])
def test_a_resolver_that_refuses_is_there(server: FakeDNS, mode: str) -> None:
    """REFUSED and SERVFAIL are answers: the resolver is there, the records are asked."""
    from wizard.dnsrecords.check import unreachable
    getattr(server, mode).add(".")
    assert unreachable(make_resolver([server.spec], timeout=5)) == ""
    assert (".", "NS") in server.queries


def test_no_resolver_means_unknown() -> None:
    res = check_records(records(), None)
    assert {c.status for c in res} == {UNKNOWN}


@pytest.mark.parametrize("spec, want", [("192.0.2.53", ("192.0.2.53", 53)),
                                        ("::1#5353", ("::1", 5353))])
def test_nameserver_spec(spec: str, want: Any) -> None:
    assert parse_nameserver(spec) == want


@pytest.mark.parametrize("spec", ["ns.example.com", "192.0.2.53#0", "192.0.2.53#x",
                                  "192.0.2.53#70000", "192.0.2.53\n", "",
                                  "192.0.2.53#\u0665\u0663"])
def test_bad_nameserver_spec(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_nameserver(spec)


# --------------------------------------------------------------------------- CLI
def answers_file(tmp_path: Path) -> str:
    d = copy.deepcopy(DEMO)
    d["dns"] = {"public_addresses": [ADDR]}
    d["steps"]["virtual-aliases"] = False
    d["dkim"] = {"enabled": False}  # the key's record: test_dnsrecords.py
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump(d))
    return str(path)


def run_dns(tmp_path: Path, *extra: str) -> int:
    return cli.main(["dns", "--answers", answers_file(tmp_path), "--platform", "debian12",
                     "--state-dir", str(tmp_path / "state"), *extra])


def test_cli_prints_zone_and_table(tmp_path: Path, capsys: Any) -> None:
    assert run_dns(tmp_path) == 0
    out = capsys.readouterr().out
    assert f"mail.example.com. IN A     {ADDR}" in " ".join(out.split("  ")).replace(
        "  ", " ") or f"IN A     {ADDR}" in out
    assert '"v=spf1 mx -all"' in out and "mta-sts.txt" in out
    assert run_dns(tmp_path, "--format", "table") == 0
    assert "(SPF, required)" in capsys.readouterr().out


def test_cli_check_exit_codes(tmp_path: Path, server: FakeDNS, capsys: Any) -> None:
    recs = expected_records(parse_answers(yaml.safe_load(Path(answers_file(tmp_path))
                                                         .read_text())), [ADDR])
    publish_all(server, recs)
    assert run_dns(tmp_path, "--check", "--nameserver", server.spec) == 0
    assert "MISSING" not in capsys.readouterr().out
    del server.records["_dmarc.example.com."]
    assert run_dns(tmp_path, "--check", "--nameserver", server.spec) == 1
    out = capsys.readouterr().out
    assert "MISSING   _dmarc.example.com TXT" in out
    assert 'publish: _dmarc.example.com. IN TXT "v=DMARC1; p=none;' in out


def test_cli_check_reads_the_env_nameserver(tmp_path: Path, server: FakeDNS,
                                            monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setenv("MAILWIZARD_NAMESERVER", server.spec)
    assert run_dns(tmp_path, "--check") == 1   # nothing published
    assert server.queries


@pytest.mark.parametrize("extra", [["--format", "html"], ["--nameserver", "192.0.2.1"],
                                   ["--check", "--nameserver", "ns.example.com"]])
def test_cli_bad_options_exit_2(tmp_path: Path, extra: List[str]) -> None:
    assert run_dns(tmp_path, *extra) == 2


def test_docs_refuses_a_dns_format(tmp_path: Path) -> None:
    assert cli.main(["docs", "--answers", "demo", "--platform", "debian12", "--format",
                     "zone"]) == 2


def test_mta_sts_name_with_an_address_instead_of_a_cname(server: FakeDNS) -> None:
    recs = [r for r in records() if r.type == "CNAME"]
    server.add("mta-sts.example.com.", "A", "192.0.2.80")
    (res,) = check_records(recs[:1], make_resolver([server.spec], timeout=2))
    assert res.status == PRESENT and res.found == ("192.0.2.80",)
    server.add("mta-sts.example.com.", "CNAME", "web.example.org.")
    (res,) = check_records(recs[:1], make_resolver([server.spec], timeout=2))
    assert res.status == DIFFERENT and res.found == ("web.example.org.",)


def test_verify_results_never_fail(server: FakeDNS) -> None:
    from wizard.dnsrecords.report import as_check_results

    recs = records()
    publish_all(server, recs[:3])
    results = as_check_results(check_records(recs, make_resolver([server.spec], timeout=2)))
    assert [(r.name, r.ok) for r in results[:3]] == [
        ("DNS Address: mail.example.com A", True), ("DNS PTR: 14.215.184.93.in-addr.arpa PTR",
                                                    True), ("DNS MX: example.com MX", True)]
    assert not [r for r in results if r.ok is False]
    missing = [r for r in results if r.ok is None and r.explanation.startswith("publish: ")]
    assert missing and all(" IN " in r.explanation for r in missing)
