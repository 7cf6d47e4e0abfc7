"""Steps 10-11 (tls-postfix, tls-dovecot): what the verify step reads and probes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from fake_target import FakeTarget, stock_root
from recipe_plans import DEMO

from recipes.certificate import cert_paths
from recipes.tls_dovecot import TlsDovecotRecipe
from wizard import confedit
from wizard.engine import Engine
from wizard.executor import FakeCommand, ScriptedExecutor
from wizard.platforms import get_platform
from wizard.recipe import Facts, VerifyContext
from wizard.session import Session


def test_imap_logindisabled_check(monkeypatch: pytest.MonkeyPatch) -> None:
    import imaplib

    from wizard import checks

    class Sock:
        def __init__(self, local: str) -> None:
            self.local = local

        def getsockname(self) -> Tuple[str, int]:
            return (self.local, 40000)

        def getpeername(self) -> Tuple[str, int]:
            return ("192.0.2.10", 143)

    class Fake:
        def __init__(self, caps: Tuple[str, ...], local: str) -> None:
            self.capabilities = caps
            self.sock = Sock(local)

        def shutdown(self) -> None:
            pass

    caps: Dict[str, Tuple[str, ...]] = {}
    local = {"ip": "192.0.2.99"}
    monkeypatch.setattr(imaplib, "IMAP4", lambda *a, **k: Fake(caps["v"], local["ip"]))
    caps["v"] = ("IMAP4REV1", "STARTTLS", "LOGINDISABLED")
    assert checks.imap_logindisabled("192.0.2.10").ok is True
    caps["v"] = ("IMAP4REV1", "STARTTLS", "AUTH=PLAIN")
    assert checks.imap_logindisabled("192.0.2.10").ok is False
    # probing from the server's own address: Dovecot trusts it, so this is only informative
    local["ip"] = "192.0.2.10"
    assert checks.imap_logindisabled("192.0.2.10").ok is None


def _doveconf_h(root: Path, version: str):
    """A fake ``doveconf -h`` reading the top-level settings of the target's conf.d files, as
    Dovecot ``version`` reports them.  2.4 puts a top-level ``ssl_server_*`` setting into the
    ``ssl_server`` named filter: ``-h ssl_server_cert_file`` prints the empty global default
    and only ``-h ssl_server/ssl_server_cert_file`` the value (Debian 13's 2.4.1, found by
    tests/e2e/test_trixie.py)."""
    def run(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
        settings: Dict[str, str] = {}
        for f in sorted((root / "etc/dovecot/conf.d").glob("*.conf")):
            for line in f.read_text().splitlines():
                m = re.match(r"^([a-z0-9_]+)\s*=\s*(.*?)\s*$", line)
                if m:
                    settings[m.group(1)] = m.group(2)
        out = []
        for key in argv[2:]:
            scope, _, name = key.rpartition("/")
            in_filter = version == "2.4" and name.startswith("ssl_server_")
            out.append(settings.get(name, "") if scope == ("ssl_server" if in_filter else "")
                       else "")
        return FakeCommand(0, "\n".join(out) + "\n")

    return run


@pytest.mark.parametrize("pid,version", [("debian13", "2.4"), ("debian12", "2.3")])
def test_tls_dovecot_verify_reads_what_dovecot_uses(pid: str, version: str,
                                                    tmp_path: Path) -> None:
    """The verify step must ask doveconf for the certificate the way Dovecot 2.4 reports it
    (in the ssl_server filter), else a correct setup fails verification."""
    p = get_platform(pid)
    root = stock_root(tmp_path, p)
    doveconf = root / "usr/bin/doveconf"
    doveconf.parent.mkdir(parents=True)
    doveconf.write_text("#!/bin/sh\n")
    doveconf.chmod(0o755)
    fake = FakeTarget(root)
    script = fake.script()
    script["doveconf -h"] = _doveconf_h(root, version)
    ex = ScriptedExecutor(root, script=script)
    with Session.open(tmp_path / "state") as s:
        e = Engine(DEMO, p, ex, session=s, recipes=[TlsDovecotRecipe()], facts=Facts())
        assert [r.status for r in e.apply()] == ["applied"]
    results = TlsDovecotRecipe().verify(VerifyContext(DEMO, p, Facts(), ex))
    cert, key = cert_paths(DEMO, p)
    got = {r.name: r for r in results if r.name.startswith("dovecot ")}
    assert got and all(r.ok for r in got.values()), [(r.name, r.detail) for r in got.values()]
    if version == "2.4":
        assert got["dovecot ssl_server_cert_file"].detail == f"ssl_server_cert_file = {cert}"
        assert got["dovecot ssl_server_key_file"].detail == f"ssl_server_key_file = {key}"


# --------------------------------------------------------------------------- cipher floors
def _openssl_suites(cipher_string: str) -> List[Tuple[str, str, str]]:
    """(name, authentication, MAC) of the TLS <= 1.2 suites OpenSSL enables for a string."""
    import shutil
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    out = subprocess.run(["openssl", "ciphers", "-v", cipher_string], capture_output=True,
                         text=True, check=True).stdout
    suites = []
    for line in out.splitlines():
        f = line.split()
        if f[1] == "TLSv1.3":
            continue  # not chosen by cipher lists
        fields = dict(x.split("=", 1) for x in f[2:] if "=" in x)
        suites.append((f[0], fields["Au"], fields["Mac"]))
    return suites


def test_submission_cipher_floor_leaves_only_authenticated_aead_suites() -> None:
    """What Postfix builds for mandatory TLS: its 'high' list (Debian 12's default shown
    here) followed by ':!x' for each excluded name. No aNULL, no CBC (SHA MAC) suite may
    survive, and strong suites must (else submission could not negotiate at all)."""
    from recipes.tls_postfix import MANDATORY_EXCLUDE

    high = "aNULL:-aNULL:HIGH:@STRENGTH"
    assert any(a == "None" for _, a, _ in _openssl_suites(high))  # what 587 offered before
    built = high + "".join(f":!{x.strip()}" for x in MANDATORY_EXCLUDE.split(","))
    suites = _openssl_suites(built)
    assert suites and all(mac == "AEAD" for _, _, mac in suites), suites
    assert not [n for n, a, _ in suites if a == "None"]
    assert "ECDHE-RSA-AES128-GCM-SHA256" in [n for n, _, _ in suites]


@pytest.mark.parametrize("pid", ["debian12", "debian13", "centos7", "ubuntu24.04"])
def test_dovecot_cipher_list_has_no_anonymous_or_cbc_suites(pid: str) -> None:
    from recipes.tls_dovecot import DOVECOT_DEFAULT_CIPHERS, cipher_list

    assert any(mac == "SHA1" for _, _, mac in _openssl_suites(DOVECOT_DEFAULT_CIPHERS))
    suites = _openssl_suites(cipher_list(get_platform(pid)))
    assert suites and all(mac == "AEAD" and au != "None" for _, au, mac in suites), suites


def test_el_dovecot_keeps_the_system_crypto_policy() -> None:
    """EL's OpenSSL replaces a leading PROFILE=SYSTEM by the policy's list and appends what
    follows: the exclusions narrow the admin's policy instead of replacing it."""
    from recipes.tls_dovecot import cipher_list

    for pid in ("rocky8", "rocky9", "almalinux10"):
        assert cipher_list(get_platform(pid)) == "PROFILE=SYSTEM:!aNULL:!SHA1:!SHA256:!SHA384"


@pytest.mark.parametrize("pid", ["debian12", "rocky9", "centos7"])
def test_tls_postfix_removes_a_raised_port_25_floor(pid: str, tmp_path: Path) -> None:
    """A main.cf with smtpd_tls_protocols/ciphers (an earlier mailwizard set the first)
    gets them removed, and rollback puts them back byte for byte."""
    from recipes.tls_postfix import TlsPostfixRecipe

    p = get_platform(pid)
    root = stock_root(tmp_path, p)
    main_cf = root / "etc/postfix/main.cf"
    main_cf.write_text(main_cf.read_text() + "smtpd_tls_protocols = >=TLSv1.2\n"
                       "smtpd_tls_ciphers = high\n")
    before = main_cf.read_bytes()
    ex = FakeTarget(root, p).executor()
    with Session.open(tmp_path / "state") as s:
        e = Engine(DEMO, p, ex, session=s, recipes=[TlsPostfixRecipe()], facts=Facts())
        assert [r.status for r in e.apply()] == ["applied"]
        values = confedit.read_main_cf(main_cf.read_text())
        assert "smtpd_tls_protocols" not in values and "smtpd_tls_ciphers" not in values
        assert values["smtpd_tls_mandatory_ciphers"] == "high"
        e.rollback()
    assert main_cf.read_bytes() == before


def _postconf(main: Dict[str, str], defaults: Dict[str, str], master: str):
    """A fake ``postconf -h/-dh/-P``: main.cf values over defaults, -P from ``master``."""
    def run(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
        if argv[1] == "-P":
            return FakeCommand(0, master)
        src = defaults if argv[1] == "-dh" else {**defaults, **main}
        return FakeCommand(0, "".join(src.get(k, "") + "\n" for k in argv[2:]))

    return run


DEFAULTS = {"smtpd_tls_protocols": ">=TLSv1", "smtpd_tls_ciphers": "medium",
            "smtpd_tls_mandatory_protocols": ">=TLSv1", "smtpd_tls_mandatory_ciphers": "medium",
            "smtpd_tls_mandatory_exclude_ciphers": "", "smtpd_tls_security_level": ""}
GOOD_MAIN = {"smtpd_tls_mandatory_protocols": ">=TLSv1.2", "smtpd_tls_mandatory_ciphers": "high",
             "smtpd_tls_mandatory_exclude_ciphers": "aNULL, SHA1, SHA256, SHA384",
             "smtpd_tls_security_level": "may"}
SUBMISSION_P = "submission/inet/smtpd_tls_security_level = encrypt\n"


@pytest.mark.parametrize("main,master,failing", [
    (GOOD_MAIN, SUBMISSION_P, set()),
    # port 25 raised to TLS 1.2: not Postfix's default any more
    ({**GOOD_MAIN, "smtpd_tls_protocols": ">=TLSv1.2"}, SUBMISSION_P,
     {"smtp/inet smtpd_tls_protocols at Postfix's default"}),
    # the submission entry overrides the cipher grade back to medium
    (GOOD_MAIN, SUBMISSION_P + "submission/inet/smtpd_tls_mandatory_ciphers = medium\n",
     {"submission/inet smtpd_tls_mandatory_ciphers"}),
    # a -o on port 25 counts too
    (GOOD_MAIN, SUBMISSION_P + "smtp/inet/smtpd_tls_ciphers = high\n",
     {"smtp/inet smtpd_tls_ciphers at Postfix's default"}),
    # no exclusions: 587 offers aNULL and CBC suites again
    ({**GOOD_MAIN, "smtpd_tls_mandatory_exclude_ciphers": ""}, SUBMISSION_P,
     {"submission/inet smtpd_tls_mandatory_exclude_ciphers"}),
    # submission without encrypt uses none of the mandatory settings
    (GOOD_MAIN, "", {"submission/inet smtpd_tls_security_level"}),
])
def test_tls_postfix_verify_reads_the_effective_config(main: Dict[str, str], master: str,
                                                       failing: set, tmp_path: Path) -> None:
    from recipes.tls_postfix import TlsPostfixRecipe

    p = get_platform("debian12")
    root = stock_root(tmp_path, p)
    postconf = root / "usr/sbin/postconf"
    postconf.parent.mkdir(parents=True)
    postconf.write_text("#!/bin/sh\n")
    postconf.chmod(0o755)
    script = FakeTarget(root).script()
    script["postconf"] = _postconf(main, DEFAULTS, master)
    ex = ScriptedExecutor(root, script=script)
    results = TlsPostfixRecipe().verify(VerifyContext(DEMO, p, Facts(), ex))
    effective = {r.name: r for r in results if r.name.startswith(("submission/", "smtp/"))}
    assert len(effective) == 6
    assert {n for n, r in effective.items() if r.ok is False} == failing


def test_master_options_parsed_without_postconf() -> None:
    """EL7's Postfix 2.10 has no ``postconf -P``: the overrides are read from master.cf."""
    entry = ("submission inet n - n - - smtpd\n  -o smtpd_tls_security_level=encrypt\n"
             "  -o { smtpd_tls_mandatory_ciphers = high }\n  -o syslog_name=postfix/submission\n")
    assert confedit.master_options(entry) == {
        "smtpd_tls_security_level": "encrypt", "smtpd_tls_mandatory_ciphers": "high",
        "syslog_name": "postfix/submission"}
