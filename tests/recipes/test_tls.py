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
