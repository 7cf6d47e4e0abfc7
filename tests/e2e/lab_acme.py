"""An ACME CA for a lab server: Debian's ``pebble`` (Let's Encrypt's test CA) on the host end
of the server's link.

``Pebble(srv, dns)`` runs ``/usr/bin/pebble`` in the host's namespace for lab server N:

* it listens on ``10.201.N.1:14000`` (ACME directory ``/dir``) and ``10.201.N.1:15000``
  (management: ``/roots/0`` is the root that signs the certificates it issues).  Only the
  server's own link reaches that address; nothing is opened anywhere else;
* its HTTPS listeners use a certificate made here with ``cryptography`` for
  ``acme.lab.test`` and ``10.201.N.1`` (pebble's stock test certificate is for localhost):
  :meth:`install_bundle` copies it onto the server, for certbot's ``REQUESTS_CA_BUNDLE``
  (mailwizard's ``certificate.acme_ca_bundle`` answer);
* validation: HTTP-01 on port 80 and TLS-ALPN-01 on 443 of the name, resolved through the
  lab DNS (``-dnsserver 10.201.N.53:53``, so ``mail.example.test`` is the server);
  ``PEBBLE_VA_NOSLEEP=1`` (no random validation delays) and ``PEBBLE_WFE_NONCEREJECT=0``
  (no nonce refused on purpose): a run is fast and deterministic;
* every run of pebble has a new random root: :attr:`root_pem` is fetched after the start
  and :meth:`root_file` writes it for the clients' ``-CAfile``.

The process is a child of the test process (``setpriv --pdeathsig KILL``: it dies with it);
:meth:`close` stops it (SIGTERM, then SIGKILL) and :meth:`log` gives its output for failure
reports (``srv.extra_diagnostics`` while it runs).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import signal
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import List, Optional, Tuple

import lab
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PEBBLE = "/usr/bin/pebble"
ACME_PORT = 14000
MGMT_PORT = 15000
ACME_NAME = "acme.lab.test"
BUNDLE_ON_SERVER = "/etc/ssl/lab-acme-ca.pem"


def listener_cert(name: str, ip: str) -> Tuple[bytes, bytes]:
    """(certificate PEM, key PEM): self-signed EC P-256 for ``name`` and ``ip``, with the
    extensions strict verifiers want (KeyUsage, EKU, SKI/AKI)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


class Pebble:
    """pebble for one lab server (see the module doc); a context manager."""

    def __init__(self, srv: lab.Server, dns_address: str, workdir: Optional[Path] = None):
        self.srv = srv
        self.dns_address = dns_address
        self.address = srv.host_ip
        self.dir = Path(workdir) if workdir else srv.dir / "pebble"
        self.proc: Optional[subprocess.Popen] = None
        self.root_pem = ""
        self._logf = None

    # ------------------------------------------------------------------ urls
    @property
    def directory(self) -> str:
        return f"https://{self.address}:{ACME_PORT}/dir"

    @property
    def listener_pem(self) -> Path:
        return self.dir / "listener.pem"

    def _ctx(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.listener_pem))
        ctx.check_hostname = True
        return ctx

    def get(self, url: str, timeout: float = 10) -> bytes:
        with urllib.request.urlopen(url, context=self._ctx(), timeout=timeout) as r:
            data: bytes = r.read()
            return data

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 30) -> Pebble:
        t0 = time.monotonic()
        self.dir.mkdir(parents=True, exist_ok=True)
        cert, key = listener_cert(ACME_NAME, self.address)
        self.listener_pem.write_bytes(cert)
        keyfile = self.dir / "listener.key"
        fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        config = {"pebble": {
            "listenAddress": f"{self.address}:{ACME_PORT}",
            "managementListenAddress": f"{self.address}:{MGMT_PORT}",
            "certificate": str(self.listener_pem),
            "privateKey": str(keyfile),
            "httpPort": 80,
            "tlsPort": 443,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }}
        cfg = self.dir / "pebble-config.json"
        cfg.write_text(json.dumps(config, indent=2))
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PEBBLE_VA_NOSLEEP": "1",
               "PEBBLE_WFE_NONCEREJECT": "0",
               # every order gets its own authorization: a renewal is validated again
               "PEBBLE_AUTHZREUSE": "0",
               lab.MARKER: f"{self.srv.owner}:{self.srv.n}"}
        self._logf = open(self.dir / "pebble.log", "wb")
        self.proc = subprocess.Popen(
            ["setpriv", "--pdeathsig", "KILL", PEBBLE, "-config", str(cfg),
             "-dnsserver", f"{self.dns_address}:53"],
            stdin=subprocess.DEVNULL, stdout=self._logf, stderr=subprocess.STDOUT, env=env,
            cwd=str(self.dir), start_new_session=True)
        self.srv.extra_diagnostics.append(self.diagnostics)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise lab.LabError(f"pebble exited with {self.proc.returncode}:\n{self.log()}")
            try:
                directory = json.loads(self.get(self.directory, timeout=2))
                self.root_pem = self.get(
                    f"https://{self.address}:{MGMT_PORT}/roots/0").decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise lab.LabError(f"pebble did not answer on {self.directory}:\n"
                                       + self.log()) from None
                time.sleep(0.1)
        assert "newOrder" in directory, directory
        assert "BEGIN CERTIFICATE" in self.root_pem, self.root_pem
        lab._record("pebble_start", time.monotonic() - t0)
        return self

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._logf is not None:
            self._logf.close()
            self._logf = None
        try:
            self.srv.extra_diagnostics.remove(self.diagnostics)
        except ValueError:
            pass

    def __enter__(self) -> Pebble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ using it
    def log(self) -> str:
        return lab._tail_text(self.dir / "pebble.log", lines=300)

    def diagnostics(self) -> List[Tuple[str, str]]:
        return [(f"pebble ({self.directory})", self.log())]

    def root_file(self, path: Optional[Path] = None) -> Path:
        """pebble's issuing root (this run's) in a file, for ``-CAfile``."""
        p = Path(path) if path else self.dir / "root.pem"
        p.write_text(self.root_pem)
        return p

    def install_bundle(self, path: str = BUNDLE_ON_SERVER) -> str:
        """Copy the listener's certificate onto the server (for REQUESTS_CA_BUNDLE /
        the ``acme_ca_bundle`` answer); returns its path on the server."""
        dest = self.srv.path(path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(self.listener_pem.read_bytes())
        os.chmod(dest, 0o644)
        return path

    def answers(self, email: str = "postmaster@example.test",
                challenge: str = "standalone") -> dict:
        """The ``certificate`` answers for mailwizard's ACME mode with this CA."""
        return {"mode": "acme", "acme_directory": self.directory, "acme_email": email,
                "acme_challenge": challenge, "acme_ca_bundle": self.install_bundle()}
