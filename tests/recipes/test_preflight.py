"""Step 1 (preflight): who holds the mail ports, and the checks before anything changes."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest
from recipe_plans import ANSWERS

import recipes.preflight as preflight_mod
from recipes._daemons import parse_ss
from recipes.preflight import PreflightRecipe
from wizard.answers import User
from wizard.executor import FakeCommand, ScriptedExecutor
from wizard.platforms import get_platform
from wizard.recipe import Facts, VerifyContext


def test_parse_ss() -> None:
    out = parse_ss(
        "State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
        'LISTEN 0 100 0.0.0.0:25 0.0.0.0:* users:(("master",pid=9,fd=13))\n'
        'LISTEN 0 100 [::]:993 [::]:* users:(("dovecot",pid=7,fd=30))\n'
        'LISTEN 0 10 127.0.0.1:587 0.0.0.0:* users:(("exim4",pid=5,fd=3))\n')
    assert out == {25: ["master"], 993: ["dovecot"], 587: ["exim4"]}


def _vctx(root: Path, pid: str, script=None) -> VerifyContext:
    ex = ScriptedExecutor(root, script or {})
    return VerifyContext(ANSWERS, get_platform(pid), Facts(), ex)


def _by_name(results) -> Dict[str, object]:
    return {r.name: r for r in results}


def test_preflight_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preflight_mod, "dns_reachable", lambda ex, timeout=2.0: False)
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian 12"\n')
    (root / "etc/hostname").write_text("mail.example.com\n")
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/bash\n")
    (root / "etc/group").write_text("root:x:0:\n")
    res = _by_name(PreflightRecipe().verify(_vctx(root, "debian12")))
    assert res["running as root"].ok is None  # not the real root
    assert res["platform supported"].ok is True
    assert res["host name is the mail server's FQDN"].ok is True
    assert res["mail ports free"].ok is None  # no ss in the temp root
    assert res["DNS"].ok is None
    assert "free disk space" in res
    # wrong platform, wrong host name, a user that must exist but does not
    (root / "etc/hostname").write_text("localhost\n")
    answers = ANSWERS.with_changes(users=(User("zoe", create=False),), admin_user="zoe")
    ctx = _vctx(root, "rocky9")
    ctx.answers = answers
    res = _by_name(PreflightRecipe().verify(ctx))
    assert res["platform supported"].ok is False
    assert res["host name is the mail server's FQDN"].ok is False
    assert res["user zoe exists"].ok is False
    assert res["admin user zoe exists"].ok is False


def test_preflight_ports(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    ss = root / "usr/bin/ss"
    ss.write_text("#!/bin/sh\n")
    ss.chmod(0o755)
    out = ('LISTEN 0 100 0.0.0.0:25 0.0.0.0:* users:(("sendmail",pid=9,fd=4))\n'
           'LISTEN 0 100 0.0.0.0:993 0.0.0.0:* users:(("dovecot",pid=7,fd=30))\n')
    ctx = _vctx(root, "rocky9", {"ss -ltnp": FakeCommand(0, out)})
    res = _by_name(PreflightRecipe._ports(ctx.executor))
    assert res["port 25 free or ours"].ok is False and "sendmail" in res[
        "port 25 free or ours"].detail
    assert res["port 993 free or ours"].ok is True
    assert res["port 587 free or ours"].ok is True


def test_preflight_ports_dovecot_login_processes_are_ours(tmp_path: Path) -> None:
    """Once a client connected, Dovecot's login processes hold its sockets too (the lab's
    health check found 'held by dovecot, imap-login' failing on a healthy server)."""
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    ss = root / "usr/bin/ss"
    ss.write_text("#!/bin/sh\n")
    ss.chmod(0o755)
    out = ('LISTEN 0 100 0.0.0.0:993 0.0.0.0:* users:(("imap-login",pid=8,fd=7),'
           '("dovecot",pid=7,fd=30))\n'
           'LISTEN 0 100 0.0.0.0:995 0.0.0.0:* users:(("pop3-login",pid=9,fd=7),'
           '("dovecot",pid=7,fd=31))\n')
    ctx = _vctx(root, "debian12", {"ss -ltnp": FakeCommand(0, out)})
    res = _by_name(PreflightRecipe._ports(ctx.executor))
    assert res["port 993 free or ours"].ok is True, res["port 993 free or ours"].detail
    assert res["port 995 free or ours"].ok is True


def test_preflight_ports_when_ss_cannot_tell(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    ex = ScriptedExecutor(root, {"ss -ltnp": FakeCommand(1, "", "Cannot open netlink socket")})
    (res,) = PreflightRecipe._ports(ex)
    assert (res.name, res.ok) == ("mail ports free", None)
    assert "ss is not installed" in res.detail and "iproute" in res.explanation
    ss = root / "usr/bin/ss"
    ss.write_text("#!/bin/sh\n")
    ss.chmod(0o755)
    (res,) = PreflightRecipe._ports(ex)
    assert (res.name, res.ok) == ("mail ports free", None)
    assert res.detail == "ss failed: Cannot open netlink socket" and res.explanation == ""


# --------------------------------------------------------------------------- DNS (issue 11)
IP_ADDR = ("1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n"
           "2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\\  valid_lft forever\n"
           "2: eth0    inet6 fe80::1/64 scope link \\       valid_lft forever\n"
           "3: eth1    inet 93.184.215.14/24 scope global eth1\\       valid_lft forever\n")


def _ip_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/ip").write_text("#!/bin/sh\n")
    (root / "usr/bin/ip").chmod(0o755)
    return root


def _acme(**dns_answers: object):
    from dataclasses import replace

    from wizard.answers import Dns
    return ANSWERS.with_changes(certificate=replace(ANSWERS.certificate, mode="acme"),
                                dns=Dns(**dns_answers))  # type: ignore[arg-type]


def test_acme_host_check(tmp_path: Path) -> None:
    from fake_dns import FakeDNS

    from wizard.dnsrecords import make_resolver

    ex = ScriptedExecutor(_ip_root(tmp_path), {"ip -o addr show": FakeCommand(0, IP_ADDR)})
    with FakeDNS() as dns_server:
        res = make_resolver([dns_server.spec], timeout=2)
        dns_server.add("example.com.", "MX", "10 mail.example.com.")
        # no record at all: refused, naming the record to publish
        r = preflight_mod.acme_host_check(ex, _acme(), res)
        assert r.ok is False and "mail.example.com. IN A 93.184.215.14" in r.explanation
        # pointing elsewhere
        dns_server.add("mail.example.com.", "A", "192.0.2.99")
        r = preflight_mod.acme_host_check(ex, _acme(), res)
        assert r.ok is False and "192.0.2.99" in r.detail and "93.184.215.14" in r.explanation
        # pointing at a private interface address counts too (a lab, a LAN CA)
        dns_server.records["mail.example.com."]["A"] = ["10.0.0.5"]
        assert preflight_mod.acme_host_check(ex, _acme(), res).ok is True
        # behind NAT: the answered public address
        dns_server.records["mail.example.com."]["A"] = ["198.51.100.7"]
        assert preflight_mod.acme_host_check(
            ex, _acme(public_addresses=("198.51.100.7",)), res).ok is True
        dns_server.refuse.add("mail.example.com.")
        r = preflight_mod.acme_host_check(ex, _acme(), res)
        assert r.ok is None and "could not look up" in r.detail
    assert preflight_mod.acme_host_check(ex, _acme(), None).ok is None


def test_preflight_dns_checks_every_record(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from fake_dns import FakeDNS

    from wizard.dnsrecords import expected_records
    from wizard.dnsrecords.render import rdata_text

    monkeypatch.setattr(preflight_mod, "dns_reachable", lambda ex, timeout=2.0: True)
    ex = ScriptedExecutor(_ip_root(tmp_path), {"ip -o addr show": FakeCommand(0, IP_ADDR)})
    with FakeDNS() as dns_server:
        monkeypatch.setenv("MAILWIZARD_NAMESERVER", dns_server.spec)
        for r in expected_records(ANSWERS, ["93.184.215.14"]):
            if r.known and r.purpose != "DMARC":
                dns_server.add(r.name, r.type, rdata_text(r))
        results = _by_name(PreflightRecipe._dns(ex, ANSWERS))
        assert not dns_server.silent
    mx = results["DNS MX: example.com MX"]
    assert mx.ok is True
    dmarc = results["DNS DMARC: _dmarc.example.com TXT"]
    assert dmarc.ok is None and dmarc.explanation.startswith(
        'publish: _dmarc.example.com. IN TXT "v=DMARC1; p=none')
    assert not [r for r in results.values() if r.ok is False]  # never a failure
