"""The acme step (issue 11): the deploy hook run for real by sh, and apply, verify and rollback
on a temporary root with certbot emulated (it writes a lineage issued by a test CA and does
what the hook does)."""

from __future__ import annotations

import datetime as dt
import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from recipe_plans import DEMO

from recipes.acme import (
    HOOK,
    AcmeRecipe,
    certbot_argv,
    hook_script,
    live_cert,
    renewal_conf,
)
from recipes.certificate import CertificateRecipe, cert_paths, key_pem, pem
from wizard import checks
from wizard.answers import Answers, Certificate
from wizard.changes import Command, View
from wizard.engine import Engine
from wizard.executor import DryRunExecutor, FakeCommand, ScriptedExecutor
from wizard.platforms import get_platform
from wizard.recipe import Facts, PlanContext
from wizard.session import Session

ACME = DEMO.with_changes(certificate=Certificate(
    mode="acme", extra_names=("smtp.example.com",), acme_email="postmaster@example.com"))
P = get_platform("debian12")


def issue(names: List[str], days: int = 90) -> Tuple[bytes, bytes, bytes]:
    """(leaf cert, fullchain, private key) PEM from a throwaway CA, as an ACME CA issues."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test ACME root")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=900))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                           critical=True)
            .sign(ca_key, hashes.SHA256()))
    return pem(leaf).encode(), (pem(leaf) + pem(ca)).encode(), key_pem(key).encode()


# --------------------------------------------------------------------------- the hook itself
def _runnable_hook(tmp: Path, answers: Answers) -> Tuple[Path, Path, Path, Path]:
    """The hook with its two target paths and PATH moved under ``tmp`` (postfix and doveadm
    are stubs that log their arguments); returns (hook, cert, key, log)."""
    cert, key = cert_paths(answers, P)
    t_cert, t_key = tmp / "certs/mail.crt", tmp / "private/mail.key"
    t_cert.parent.mkdir()
    t_key.parent.mkdir()
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    log = tmp / "calls.log"
    for prog in ("postfix", "doveadm"):
        stub = bin_dir / prog
        stub.write_text(f'#!/bin/sh\necho "{prog} $*" >> {log}\n')
        stub.chmod(0o755)
    text = hook_script(answers, P)
    assert f"cert={cert}\n" in text and f"key={key}\n" in text
    text = (text.replace(f"cert={cert}\n", f"cert={t_cert}\n")
            .replace(f"key={key}\n", f"key={t_key}\n")
            .replace("PATH=/usr/sbin:", f"PATH={bin_dir}:/usr/sbin:"))
    hook = tmp / "hook"
    hook.write_text(text)
    hook.chmod(0o755)
    return hook, t_cert, t_key, log


def _lineage(tmp: Path, name: str) -> Tuple[Path, bytes, bytes]:
    _, chain, key = issue([name])
    live = tmp / "letsencrypt/live" / name
    live.mkdir(parents=True)
    (live / "fullchain.pem").write_bytes(chain)
    (live / "privkey.pem").write_bytes(key)
    return live, chain, key


@pytest.mark.skipif(shutil.which("sh") is None or shutil.which("mktemp") is None,
                    reason="needs sh and mktemp")
def test_the_hook_installs_our_lineage_atomically_and_reloads_both(tmp_path: Path) -> None:
    hook, cert, key, log = _runnable_hook(tmp_path, ACME)
    cert.write_text("placeholder\n")
    key.write_text("placeholder key\n")
    live, chain, pkey = _lineage(tmp_path, "mail.example.com")
    env = {**os.environ, "RENEWED_LINEAGE": str(live)}
    res = subprocess.run([str(hook)], env=env, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert cert.read_bytes() == chain and key.read_bytes() == pkey
    assert (cert.stat().st_mode & 0o777, key.stat().st_mode & 0o777) == (0o644, 0o600)
    assert log.read_text().splitlines() == ["postfix reload", "doveadm reload"]
    leftovers = [p.name for d in (cert.parent, key.parent) for p in d.iterdir()
                 if p.name.startswith(".mailwizard-hook")]
    assert leftovers == []


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs sh")
def test_the_hook_leaves_other_lineages_and_refuses_without_certbot(tmp_path: Path) -> None:
    hook, cert, key, log = _runnable_hook(tmp_path, ACME)
    cert.write_text("placeholder\n")
    live, _, _ = _lineage(tmp_path, "www.example.com")  # the admin's web site
    env = {**os.environ, "RENEWED_LINEAGE": str(live)}
    res = subprocess.run([str(hook)], env=env, capture_output=True, text=True, check=False)
    assert res.returncode == 0 and cert.read_text() == "placeholder\n" and not log.exists()
    env.pop("RENEWED_LINEAGE")
    res = subprocess.run([str(hook)], env=env, capture_output=True, text=True, check=False)
    assert res.returncode == 1 and "RENEWED_LINEAGE" in res.stderr


@pytest.mark.skipif(shutil.which("sh") is None or shutil.which("mktemp") is None,
                    reason="needs sh and mktemp")
def test_the_hook_fails_loudly_when_a_reload_fails(tmp_path: Path) -> None:
    hook, cert, _, _ = _runnable_hook(tmp_path, ACME)
    (tmp_path / "bin/doveadm").write_text("#!/bin/sh\necho 'Fatal: not running' >&2\nexit 89\n")
    live, chain, _ = _lineage(tmp_path, "mail.example.com")
    env = {**os.environ, "RENEWED_LINEAGE": str(live)}
    res = subprocess.run([str(hook)], env=env, capture_output=True, text=True, check=False)
    assert res.returncode == 1 and cert.read_bytes() == chain


# --------------------------------------------------------------------------- apply / rollback
class FakeCertbot:
    """certbot certonly/delete on the root: a lineage, its renewal conf, and the hook's copy."""

    def __init__(self, root: Path, answers: Answers, days: int = 90) -> None:
        self.root = root
        self.answers = answers
        self.days = days
        self.env: Dict[str, str] = {}

    def _p(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def certonly(self, argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
        names = [argv[i + 1] for i, a in enumerate(argv) if a == "-d"]
        leaf, chain, key = issue(names, self.days)
        live = self._p(live_cert(self.answers)).parent
        live.mkdir(parents=True)
        (live / "cert.pem").write_bytes(leaf)
        (live / "fullchain.pem").write_bytes(chain)
        (live / "privkey.pem").write_bytes(key)
        conf = self._p(renewal_conf(self.answers))
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text("renew_hook = " + HOOK + "\n")
        assert os.access(self._p(HOOK), os.X_OK), "the hook must exist before certbot runs"
        c, k = cert_paths(self.answers, P)  # what the hook does
        ex.write_atomic(c, chain, 0o644, 0, 0)
        ex.write_atomic(k, key, 0o600, 0, 0)
        return FakeCommand()

    def delete(self, argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
        shutil.rmtree(self._p(live_cert(self.answers)).parent)
        self._p(renewal_conf(self.answers)).unlink()
        return FakeCommand()


@pytest.fixture(autouse=True)
def dns_names_this_server(monkeypatch: pytest.MonkeyPatch) -> List[checks.CheckResult]:
    """The host-name check before certbot (its DNS side is tested with a real resolver in
    test_preflight.py): here it passes unless a test says otherwise. No test asks the
    machine's DNS."""
    answer = [checks.passed("host name resolves here", "mail.example.com -> 192.0.2.10")]
    monkeypatch.setattr("recipes.acme.acme_host_check", lambda ex, a, r: answer[0])
    monkeypatch.setattr("recipes.acme.dns_resolver", lambda ex: None)
    return answer


def test_apply_refuses_before_certbot_when_dns_names_another_server(
        tmp_path: Path, dns_names_this_server: List[checks.CheckResult]) -> None:
    dns_names_this_server[0] = checks.failed(
        "host name resolves here", "mail.example.com -> 198.51.100.7, not this server",
        "publish mail.example.com. IN A 192.0.2.10")
    root = tmp_path / "root"
    (root / "etc/cron.d").mkdir(parents=True)
    certbot = FakeCertbot(root, ACME)
    with Session.open(tmp_path / "state") as s:
        e, _ex = _engine(root, s, certbot)
        first = e.apply(["certificate"])[0]
        assert first.status == "applied", first.error
        res = e.apply(["acme"])[0]
    assert res.status == "failed"
    assert "not this server" in res.error and "IN A 192.0.2.10" in res.error
    assert not (root / "etc/letsencrypt").exists()  # certbot never ran


def _engine(root: Path, session: Session, certbot: FakeCertbot) -> Tuple[Engine,
                                                                        ScriptedExecutor]:
    ex = ScriptedExecutor(root, script={"certbot certonly": certbot.certonly,
                                        "certbot delete": certbot.delete})
    e = Engine(ACME, P, ex, session=session, recipes=[CertificateRecipe(), AcmeRecipe()],
               facts=Facts(service_manager="direct"))
    return e, ex


def test_apply_verify_and_rollback_restore_the_placeholder(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc/cron.d").mkdir(parents=True)
    (root / "etc/cron.d/certbot").write_text("0 */12 * * * root certbot -q renew\n")
    certbot = FakeCertbot(root, ACME)
    c_path, k_path = (root / p.lstrip("/") for p in cert_paths(ACME, P))
    with Session.open(tmp_path / "state") as s:
        e, ex = _engine(root, s, certbot)
        first = e.apply(["certificate"])
        assert first[0].status == "applied", first[0].error
        placeholder = (c_path.read_bytes(), k_path.read_bytes())
        res = e.apply(["acme"])
        assert res[0].status == "applied", (res[0].error, res[0].output)
        assert (c_path.read_bytes(), k_path.read_bytes()) != placeholder
        assert ex.calls[-1][:2] == ["certbot", "certonly"]

        found = {r.name: r for r in e.verify(["acme"])["acme"]}
        assert all(r.ok is not False for r in found.values()), [
            (r.name, r.detail) for r in found.values() if r.ok is False]
        for name in ("installed certificate is certbot's", "deploy hook present and executable",
                     "certificate names the host and extra names", "renewal scheduled",
                     "certificate valid for more than 21 days"):
            assert found[name].ok is True, name
        assert "renewal scheduled" in found and "/etc/cron.d/certbot" in found[
            "renewal scheduled"].detail

        # a second run changes nothing: the lineage's renewal conf guards certbot
        again = e.apply(["acme"])
        assert again[0].changed == 0, again[0]

        # the served certificate is not certbot's any more: verify says so
        c_path.write_bytes(placeholder[0])
        bad = {r.name: r for r in e.verify(["acme"])["acme"]}
        assert bad["installed certificate is certbot's"].ok is False
        c_path.write_bytes((root / "etc/letsencrypt/live/mail.example.com/fullchain.pem")
                           .read_bytes())

        calls_before = len(ex.calls)
        rb = e.rollback(["acme"])
        assert rb.errors == [], rb.errors
        undo_calls = ex.calls[calls_before:]
        assert undo_calls[0] == ["certbot", "delete", "--non-interactive", "--cert-name",
                                 "mail.example.com"]
        assert undo_calls[-2:] == [["postfix", "reload"], ["doveadm", "reload"]]
    assert (c_path.read_bytes(), k_path.read_bytes()) == placeholder
    assert k_path.stat().st_mode & 0o777 == 0o600
    assert not (root / HOOK.lstrip("/")).exists()
    assert not (root / "etc/letsencrypt/live/mail.example.com").exists()


def test_verify_fails_a_certificate_close_to_expiry_and_a_missing_schedule(
        tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    certbot = FakeCertbot(root, ACME, days=10)
    with Session.open(tmp_path / "state") as s:
        e, _ = _engine(root, s, certbot)
        res = e.apply()
        assert [r.status for r in res] == ["applied", "applied"], [r.error for r in res]
        found = {r.name: r for r in e.verify(["acme"])["acme"]}
    assert found["certificate valid for more than 21 days"].ok is False
    assert found["renewal scheduled"].ok is False  # no systemd, no cron job
    assert found["installed certificate is certbot's"].ok is True


def test_a_name_missing_from_the_certificate_fails_verify(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    certbot = FakeCertbot(root, ACME)
    with Session.open(tmp_path / "state") as s:
        e, ex = _engine(root, s, certbot)
        assert [r.status for r in e.apply()] == ["applied", "applied"]
        # certbot was asked for fewer names (an older lineage): the extra name is missing
        leaf, chain, key = issue(["mail.example.com"])
        live = root / "etc/letsencrypt/live/mail.example.com"
        (live / "cert.pem").write_bytes(leaf)
        c, _ = cert_paths(ACME, P)
        ex.write_atomic(c, chain, 0o644, 0, 0)
        found = {r.name: r for r in e.verify(["acme"])["acme"]}
    r = found["certificate names the host and extra names"]
    assert r.ok is False and "smtp.example.com" in r.detail
    assert "rollback --step acme" in r.explanation



def test_the_runbook_line_of_certbot_splits_back_into_its_argv_and_env(tmp_path: Path) -> None:
    a = ACME.with_changes(certificate=Certificate(
        mode="acme", acme_directory="https://acme.example.org:8443/a~b/dir+x",
        acme_email="o.p+acme@example.com", acme_challenge="webroot",
        acme_webroot="/srv/www/a+b@c", acme_ca_bundle="/etc/ssl/my-ca+1.pem"))
    ctx = PlanContext(a, P, Facts(dry_run=True, service_manager="systemd"),
                      View(DryRunExecutor(tmp_path), P))
    certbot = [c for c in AcmeRecipe().plan(ctx) if isinstance(c, Command)][-1]
    words = shlex.split(certbot.shell())
    assert words[0] == "REQUESTS_CA_BUNDLE=/etc/ssl/my-ca+1.pem"
    assert words[1:] == certbot_argv(a)
    assert words[words.index("-w") + 1] == "/srv/www/a+b@c"
    assert words[words.index("--server") + 1] == "https://acme.example.org:8443/a~b/dir+x"


def test_peer_certificate_reads_what_a_tls_server_presents(tmp_path: Path) -> None:
    import socket
    import ssl
    import threading

    leaf, chain, key = issue(["mail.example.com"])
    (tmp_path / "c.pem").write_bytes(chain)
    (tmp_path / "k.pem").write_bytes(key)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(str(tmp_path / "c.pem"), str(tmp_path / "k.pem"))
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]

    def serve() -> None:
        conn, _ = lsock.accept()
        try:
            with server.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (OSError, ssl.SSLError):
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        der = checks.peer_certificate("127.0.0.1", port, server_name="mail.example.com")
    finally:
        t.join(5)
        lsock.close()
    assert x509.load_der_x509_certificate(der).serial_number == \
        x509.load_pem_x509_certificate(leaf).serial_number


def test_verify_probes_what_the_daemons_serve(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import recipes.acme as acme_mod

    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    with Session.open(tmp_path / "state") as s:
        e, _ = _engine(root, s, FakeCertbot(root, ACME))
        assert [r.status for r in e.apply()] == ["applied", "applied"]
        live = (root / "etc/letsencrypt/live/mail.example.com/cert.pem").read_bytes()
        old, _, _ = issue(["mail.example.com"])
        served = {587: live, 993: old}  # Dovecot was not reloaded
        monkeypatch.setattr(acme_mod, "postfix_running", lambda ex: True)
        monkeypatch.setattr(acme_mod, "dovecot_running", lambda ex: True)
        monkeypatch.setattr(checks, "peer_certificate", lambda host, port, **kw: x509.
                            load_pem_x509_certificate(served[port]).public_bytes(Encoding.DER))
        got = {r.name: r for r in e.verify(["acme"])["acme"]}
    assert got["Postfix serves certbot's certificate (port 587)"].ok is True
    bad = got["Dovecot serves certbot's certificate (port 993)"]
    assert bad.ok is False and "doveadm reload" in bad.explanation


def test_preflight_port_80_check_in_standalone_mode_only(tmp_path: Path) -> None:
    from recipes.acme import port80_check

    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    ss = root / "usr/bin/ss"
    ss.write_text("#!/bin/sh\n")
    ss.chmod(0o755)
    busy = 'LISTEN 0 511 0.0.0.0:80 0.0.0.0:* users:(("nginx",pid=5,fd=6))\n'
    ex = ScriptedExecutor(root, {"ss -ltnp": FakeCommand(0, busy)})
    (res,) = port80_check(ex, ACME)
    assert res.ok is False and "nginx" in res.detail and "webroot" in res.explanation
    webroot = ACME.with_changes(certificate=Certificate(
        mode="acme", acme_challenge="webroot", acme_webroot="/var/www/html"))
    assert port80_check(ex, webroot) == [] and port80_check(ex, DEMO) == []
    free = ScriptedExecutor(root, {"ss -ltnp": FakeCommand(0, "")})
    (res,) = port80_check(free, ACME)
    assert res.ok is True
