"""The lab's DNS (lab_dns.py) as a lab server sees it: through its resolv.conf, over UDP and
TCP, authoritative answers, NXDOMAIN and NODATA, and the system resolver (glibc) using it."""

from __future__ import annotations

import lab
import lab_dns
import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dns_server(lab_image: lab.Image, lab_dns: lab_dns.LabDNS):
    srv = lab.track_module_server(lab.Server(lab_image))
    try:
        srv.boot()
        lab_dns.attach(srv)
        srv.install_wheels()        # dnspython (a mailwizard dependency) for the probes
        yield srv
    finally:
        lab_dns.detach(srv)
        srv.halt()


def expected(srv: lab.Server):
    rbl_listed = lab_dns.rbl_query_name(srv.host_ip2)
    rbl_clean = lab_dns.rbl_query_name(srv.host_ip)
    return {
        ("mail.example.test", "A"): srv.ip,
        ("example.test", "MX"): "10 mail.example.test.",
        ("example.net", "MX"): "10 mail.example.test.",
        (".".join(reversed(srv.ip.split("."))) + ".in-addr.arpa", "PTR"): "mail.example.test.",
        (".".join(reversed(srv.host_ip.split("."))) + ".in-addr.arpa", "PTR"):
            "client.example.org.",
        ("client.example.org", "A"): srv.host_ip,
        (".".join(reversed(srv.host_ip2.split("."))) + ".in-addr.arpa", "PTR"): "NXDOMAIN",
        ("pass.lab.test", "MX"): "10 mx.pass.lab.test.",
        ("fail.lab.test", "TXT"): '"v=spf1 ip4:192.0.2.0/24 -all"',
        (rbl_listed, "A"): "127.0.0.2",
        (rbl_clean, "A"): "NXDOMAIN",
        (lab_dns.rbl_query_name(srv.host_ip, lab_dns.REFUSED_ZONE), "A"): "127.255.255.254",
        ("nosuch.lab.test", "A"): "NXDOMAIN",
        ("nosuch.lab.test", "MX"): "NXDOMAIN",
        ("mail.example.test", "AAAA"): "NODATA",
        ("unknown.invalid", "MX"): "NXDOMAIN",
    }


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_the_server_resolves_the_lab_zones(dns_server: lab.Server, tcp: bool):
    want = expected(dns_server)
    got = lab_dns.resolver_probe(dns_server, list(want), tcp=tcp)
    assert got == want


def test_spf_pass_record_authorises_the_first_client_only(dns_server: lab.Server):
    got = lab_dns.resolver_probe(dns_server, [("pass.lab.test", "TXT")])
    spf = got[("pass.lab.test", "TXT")]
    assert f"ip4:{dns_server.host_ip} " in spf and spf.endswith('-all"'), spf
    assert dns_server.host_ip2 not in spf


def test_the_resolv_conf_points_to_the_lab_dns_and_glibc_uses_it(dns_server: lab.Server,
                                                               lab_dns: lab_dns.LabDNS):
    conf = dns_server.path("/etc/resolv.conf").read_text()
    assert f"nameserver {lab_dns.address_for(dns_server)}\n" in conf
    r = dns_server.run("getent hosts pass.lab.test; getent hosts nosuch.lab.test; echo rc=$?",
                       check=False)
    assert "192.0.2.10" in r.stdout and r.stdout.rstrip().endswith("rc=2"), r.stdout
    assert any(c == dns_server.ip and q == "pass.lab.test." for c, q, _ in lab_dns.queries)


def test_nothing_else_is_reachable(dns_server: lab.Server):
    """The DNS address is on the server's link; the server still has no route out."""
    r = dns_server.run("ip route", check=False)
    assert "default" not in r.stdout, r.stdout
