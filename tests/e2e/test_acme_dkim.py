"""Issue 11 on a real server: a certificate from an ACME CA, DKIM signing, and the DNS records
checked, with the lab's DNS (lab_dns.py) and Let's Encrypt's test CA pebble (lab_acme.py).

One server per suite, attached to the lab DNS (``mail.example.test`` -> the server), with
pebble on the host end of its link.  It is configured once with the lab's answers plus
``certificate.mode: acme`` (pebble's directory, HTTP-01 standalone on port 80, pebble's
listener certificate as ``acme_ca_bundle``), DKIM on with a fixed selector and
``dns.public_addresses: [server address]`` (the lab address is private).  The apply runs in two
parts: first every step but ``acme`` (the certificate at the Postfix/Dovecot paths is then
the placeholder the certificate step makes; its bytes are kept), then everything.  Once
applied, the lab DNS publishes what an admin would: the DKIM TXT read from the server's key
(computed here, not by mailwizard), a DMARC record; MTA-STS, TLS-RPT and the RFC 6186 SRV
records are left out.  From the host:

* ``openssl s_client -verify_hostname mail.example.test -CAfile <pebble's root>
  -verify_return_error`` succeeds on 25 and 587 (STARTTLS) and on 993 and 995;
* ``certbot renew --force-renewal`` (no restart by hand) puts a new serial on 25 and 993: the
  deploy hook installed and reloaded;
* a message submitted on 587 (smtplib, AUTH after STARTTLS) arrives with a DKIM signature
  ``d=example.test`` that dkimpy verifies with the key the lab DNS serves (and a tampered copy
  does not);
* ``mailwizard dns --check --nameserver <lab DNS>`` says ok for the published records, names
  the missing ones (and one published with another value) and exits 1;
* last: ``mailwizard rollback --step acme`` removes certbot's lineage and puts the placeholder
  back byte for byte (also what 25 serves).
"""

from __future__ import annotations

import base64
import hashlib
import re
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

import dkim
import dns.message
import dns.query
import dns.rdatatype
import lab
import lab_acme
import lab_dns as labdns
import mwlab
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from mwlab import DOMAIN, HOSTNAME, Deployed, host_run

pytestmark = pytest.mark.e2e

SELECTOR = "s202612"
DMARC = f"v=DMARC1; p=none; rua=mailto:postmaster@{DOMAIN}"
STARTTLS_PORTS = (25, 587)
TLS_PORTS = (993, 995)
RENEW = "certbot renew --force-renewal --no-random-sleep-on-renew --non-interactive 2>&1"


@dataclass
class AcmeServer:
    dep: Deployed
    pebble: lab_acme.Pebble
    root: Path                          # pebble's issuing root, for -CAfile
    dns: labdns.LabDNS
    dns_ip: str
    suite: str
    placeholder: Dict[str, bytes]       # cert/key path -> bytes before the acme step
    dkim_txt: str

    @property
    def srv(self) -> lab.Server:
        return self.dep.srv


def tls_paths(srv: lab.Server) -> List[str]:
    """The certificate and key files Postfix and Dovecot use (as configured)."""
    paths = [srv.run(f"postconf -h {p}").stdout.strip()
             for p in ("smtpd_tls_cert_file", "smtpd_tls_key_file")]
    for p in ("ssl_cert", "ssl_key"):
        v = srv.run(f"doveconf -h {p}").stdout.strip()
        paths.append(v.lstrip("<").strip())
    return sorted({p for p in paths if p})


def step_ids(srv: lab.Server) -> List[str]:
    """The steps ``mailwizard plan`` lists, skipped ones left out."""
    out = srv.run("mailwizard plan --answers /root/answers.yaml 2>&1", timeout=600).stdout
    ids = re.findall(r"^\s*\d+\. .* \[([a-z0-9-]+)\] - (?!skipped)", out, re.M)
    assert ids, out[-3000:]
    return ids


def dkim_record(srv: lab.Server, selector: str) -> str:
    """The DKIM TXT value for the private key OpenDKIM signs with (computed here with
    cryptography from the key file, independently of mailwizard's own record)."""
    pem = srv.path(f"/etc/opendkim/keys/{selector}.private").read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


@pytest.fixture(scope="module", params=["bookworm", "trixie"])
def acme(request: pytest.FixtureRequest, lab_dns: labdns.LabDNS):
    suite = request.param
    with mwlab.lab_server(request, suite, lab_dns) as srv, \
            lab_acme.Pebble(srv, lab_dns.address_for(srv)) as pebble:
        srv.install_wheels()
        overrides: Dict[str, object] = {
            "certificate": {**pebble.answers(), "extra_names": []},
            "dkim": {"enabled": True, "selector": SELECTOR},
            "dns": {"public_addresses": [srv.ip]},
        }
        srv.path("/root/answers.yaml").write_text(
            mwlab.answers_for(srv.ip, overrides=overrides))
        before = mwlab.manifest(srv.path("/"))
        steps = [s for s in step_ids(srv) if s != "acme"]
        assert "dkim" in steps, steps
        t0 = time.monotonic()
        first = srv.run("mailwizard apply --answers /root/answers.yaml --yes "
                        + " ".join(f"--step {s}" for s in steps) + " 2>&1",
                        check=False, timeout=1200)
        lab._record(f"acme_apply_without_acme_{suite}", time.monotonic() - t0)
        assert first.returncode == 0, first.stdout[-6000:]
        placeholder = {p: srv.path(p).read_bytes() for p in tls_paths(srv)}
        t0 = time.monotonic()
        res = srv.run("mailwizard apply --answers /root/answers.yaml --yes 2>&1", check=False,
                      timeout=1200)
        seconds = time.monotonic() - t0
        lab._record(f"acme_apply_{suite}", seconds)
        root = pebble.root_file()
        box = mwlab.Mailbox(srv.ip, str(root), srv.host_ip, srv.host_ip2,
                            {u: srv.path(f"/home/{u}/Maildir") for u in mwlab.USERS})
        dep = Deployed(srv, res.returncode, res.stdout, before, box, seconds)
        assert res.returncode == 0, res.stdout[-6000:]
        # what the admin publishes: the key's record and a DMARC policy; not the rest
        txt = dkim_record(srv, SELECTOR)
        lab_dns.add_txt(f"{SELECTOR}._domainkey.{DOMAIN}", txt)
        lab_dns.add_txt(f"_dmarc.{DOMAIN}", DMARC)
        try:
            yield AcmeServer(dep, pebble, root, lab_dns, lab_dns.address_for(srv), suite,
                             placeholder, txt)
        finally:
            lab_dns.remove(f"{SELECTOR}._domainkey.{DOMAIN}")
            lab_dns.remove(f"_dmarc.{DOMAIN}")


# --------------------------------------------------------------------------- probes
def s_client(a: AcmeServer, port: int, cafile: Optional[Path] = None,
             name: str = HOSTNAME) -> str:
    """``openssl s_client`` to ``port`` verifying chain (against ``cafile``, default pebble's
    root) and host name; asserts success and returns the output."""
    argv = ["openssl", "s_client", "-connect", f"{a.srv.ip}:{port}", "-CAfile",
            str(cafile or a.root), "-verify_return_error", "-verify_hostname", name, "-brief"]
    if port in STARTTLS_PORTS:
        argv[2:2] = ["-starttls", "smtp"]
    r = host_run(argv, input="QUIT\n" if port in STARTTLS_PORTS else "", timeout=30)
    text = r.stdout + r.stderr
    assert r.returncode == 0, f"port {port}: {text}"
    assert "Verification: OK" in text, text
    return text


def served_cert(a: AcmeServer, port: int) -> x509.Certificate:
    """The certificate the server presents on ``port`` (read, not verified)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if port in STARTTLS_PORTS:
        with smtplib.SMTP(a.srv.ip, port, local_hostname="client.example.org", timeout=15,
                          source_address=(a.srv.host_ip, 0)) as s:
            s.ehlo()
            s.starttls(context=ctx)
            der = s.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
    else:
        with socket.create_connection((a.srv.ip, port), timeout=15,
                                      source_address=(a.srv.host_ip, 0)) as raw, \
                ctx.wrap_socket(raw, server_hostname=HOSTNAME) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der
    return x509.load_der_x509_certificate(der)


def live_cert(a: AcmeServer) -> x509.Certificate:
    return x509.load_pem_x509_certificate(
        a.srv.path(f"/etc/letsencrypt/live/{HOSTNAME}/cert.pem").read_bytes())


def wait_until(check: Callable[[], bool], timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return check()


def lab_txt(nameserver: str) -> Callable[..., Optional[bytes]]:
    """A dkimpy ``dnsfunc`` that asks the lab DNS (TCP: the key does not fit 512 bytes)."""
    def dnsfunc(name: bytes, timeout: float = 5) -> Optional[bytes]:
        q = dns.message.make_query(name.decode(), "TXT")
        r = dns.query.tcp(q, nameserver, timeout=timeout)
        for rrset in r.answer:
            if rrset.rdtype == dns.rdatatype.TXT:
                for rd in rrset:
                    return b"".join(rd.strings)
        return None
    return dnsfunc


# --------------------------------------------------------------------------- tests
def test_apply_gets_the_certificate_from_pebble(acme: AcmeServer):
    srv = acme.srv
    assert srv.path(f"/etc/letsencrypt/live/{HOSTNAME}/fullchain.pem").is_file()
    cert = live_cert(acme)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert HOSTNAME in names.get_values_for_type(x509.DNSName), names
    assert "Pebble" in cert.issuer.rfc4514_string(), cert.issuer
    hook = srv.path("/etc/letsencrypt/renewal-hooks/deploy/mailwizard")
    assert hook.is_file() and hook.stat().st_mode & 0o111, hook
    # the CA saw HTTP-01 answered on port 80 of mail.example.test, found through the lab DNS
    assert "Attempting to validate w/ HTTP: http://mail.example.test:80/" in acme.pebble.log()
    assert (srv.host_ip, HOSTNAME + ".", "A") in acme.dns.queries
    # the placeholder before the acme step was not pebble's
    for path, data in acme.placeholder.items():
        if b"BEGIN CERTIFICATE" in data:
            first = x509.load_pem_x509_certificate(data)
            assert "Pebble" not in first.issuer.rfc4514_string(), path


@pytest.mark.parametrize("port", [25, 587, 993, 995])
def test_every_port_verifies_against_pebbles_root(acme: AcmeServer, port: int):
    s_client(acme, port)
    assert served_cert(acme, port).serial_number == live_cert(acme).serial_number
    # the same name check fails for a name the certificate does not hold
    bad = host_run(["openssl", "s_client", "-connect", f"{acme.srv.ip}:{port}", "-CAfile",
                    str(acme.root), "-verify_return_error", "-verify_hostname",
                    "wrong.example.test", "-brief"]
                   + (["-starttls", "smtp"] if port in STARTTLS_PORTS else []),
                   input="QUIT\n", timeout=30)
    assert bad.returncode != 0, bad.stdout + bad.stderr


def test_submission_is_dkim_signed_and_verifies(acme: AcmeServer):
    box = acme.dep.box
    t = mwlab.token()
    box.send_authenticated("alice", f"bob@{DOMAIN}", f"dkim {t}", "signed by OpenDKIM\n")
    raw = box.wait_for("bob", t).read_bytes()
    head = raw.split(b"\n\n", 1)[0]
    sig = re.search(rb"^DKIM-Signature:(.*(?:\n[ \t].*)*)", head, re.M | re.I)
    assert sig, head.decode(errors="replace")
    tags = dict(re.findall(r"\b([a-z]+)=([^;]*)", re.sub(r"\s+", "", sig.group(1).decode())))
    assert tags.get("d") == DOMAIN and tags.get("s") == SELECTOR, tags
    dnsfunc = lab_txt(acme.dns_ip)
    assert dkim.verify(raw, dnsfunc=dnsfunc), "dkimpy could not verify the signature"
    assert not dkim.verify(raw.replace(b"signed by OpenDKIM", b"changed on the way"),
                           dnsfunc=dnsfunc), "a tampered body still verified"


def test_dns_check_reports_published_and_missing_records(acme: AcmeServer):
    # a record that is there but says something else than mailwizard asks for
    acme.dns.add_txt("example.net", "v=spf1 -all")
    try:
        r = acme.srv.run("mailwizard dns --check --answers /root/answers.yaml "
                         f"--nameserver {acme.dns_ip} 2>&1", check=False, timeout=120)
    finally:
        acme.dns.remove("example.net", "TXT")
    out = r.stdout
    assert r.returncode == 1, out

    def status(name: str, rtype: str) -> str:
        m = re.search(rf"^(\S+)\s+{re.escape(name)}\.? {rtype} ", out, re.M)
        assert m, f"{name} {rtype} not in:\n{out}"
        return m.group(1)

    for name, rtype in ((HOSTNAME, "A"), (DOMAIN, "MX"), (DOMAIN, "TXT"),
                        (f"{SELECTOR}._domainkey.{DOMAIN}", "TXT"), (f"_dmarc.{DOMAIN}", "TXT")):
        assert status(name, rtype) == "ok", (name, rtype, out)
    for name, rtype in ((f"_mta-sts.{DOMAIN}", "TXT"), (f"_smtp._tls.{DOMAIN}", "TXT"),
                        (f"_submission._tcp.{DOMAIN}", "SRV"), ("_dmarc.example.net", "TXT")):
        assert status(name, rtype) == "MISSING", (name, rtype, out)
    assert status("example.net", "TXT") == "DIFFERENT", out
    assert 'publish: _dmarc.example.net. IN TXT "v=DMARC1; p=none' in out, out
    # the lab DNS was asked by the server itself
    assert any(c == acme.srv.ip and q == f"_mta-sts.{DOMAIN}." for c, q, _ in acme.dns.queries)


def test_forced_renewal_reaches_postfix_and_dovecot(acme: AcmeServer):
    srv = acme.srv
    old = {p: served_cert(acme, p).serial_number for p in (25, 993)}
    assert old[25] == old[993] == live_cert(acme).serial_number
    t0 = time.monotonic()
    r = srv.run(RENEW, env={"REQUESTS_CA_BUNDLE": lab_acme.BUNDLE_ON_SERVER}, check=False,
                timeout=300)
    lab._record(f"acme_forced_renewal_{acme.suite}", time.monotonic() - t0)
    assert r.returncode == 0, r.stdout[-4000:]
    new = live_cert(acme).serial_number
    assert new != old[25], "certbot kept the same certificate"
    for port in (25, 993):
        assert wait_until(lambda p=port: served_cert(acme, p).serial_number == new), (
            f"port {port} still serves {served_cert(acme, port).serial_number:x}, "
            f"certbot's new one is {new:x}")
    s_client(acme, 587)
    s_client(acme, 995)


def test_verify_passes_with_the_acme_certificate(acme: AcmeServer):
    """After the renewal too: the files the daemons read are certbot's current ones."""
    r = mwlab.mailwizard(acme.srv, "verify", f"acme_verify_{acme.suite}")
    block = re.search(r"^\[acme\]\n((?:  .*\n|       .*\n)+)", r.stdout, re.M)
    assert block, r.stdout[-4000:]
    lines = block.group(1)
    assert "PASS installed certificate is certbot's" in lines, lines
    assert "PASS deploy hook present and executable" in lines, lines
    assert "FAIL" not in lines, lines


def test_rollback_of_the_acme_step_restores_the_placeholder(acme: AcmeServer):
    """Last: it removes the certificate the other tests use."""
    srv = acme.srv
    r = srv.run("mailwizard rollback --step acme --answers /root/answers.yaml --yes 2>&1",
                check=False, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:]
    assert not srv.path(f"/etc/letsencrypt/live/{HOSTNAME}").exists()
    listed = srv.run("certbot certificates 2>&1", check=False, timeout=120)
    assert "No certificates found" in listed.stdout, listed.stdout
    for path, data in acme.placeholder.items():
        now = srv.path(path).read_bytes()
        assert now == data, f"{path}: {hashlib.sha256(now).hexdigest()} is not the " \
                            f"placeholder {hashlib.sha256(data).hexdigest()}"
    cert_pem = next(d for d in acme.placeholder.values() if b"BEGIN CERTIFICATE" in d)
    placeholder = x509.load_pem_x509_certificate(cert_pem)
    assert wait_until(lambda: served_cert(acme, 25).serial_number
                      == placeholder.serial_number), "25 does not serve the placeholder"
