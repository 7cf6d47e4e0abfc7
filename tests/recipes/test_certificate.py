"""Step 8 (certificate): self-signed, imported and existing keys and certificates."""

from __future__ import annotations

import datetime as dt
import os
import ssl
from dataclasses import replace
from pathlib import Path
from typing import Optional, Tuple

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from recipe_plans import DEMO, Planned, with_

from recipes.certificate import (
    CertificateRecipe,
    cert_paths,
    key_pem,
    make_certificate,
    new_key,
    pem,
    validate_import,
)
from wizard import changes as ch
from wizard.engine import Engine
from wizard.errors import RecipeError
from wizard.executor import ScriptedExecutor
from wizard.platforms import get_platform
from wizard.recipe import Facts
from wizard.session import Session


def _handshake(cert_pem: bytes, key_pem_: bytes, cafile: Path, hostname: str,
               tmp: Path) -> None:
    """A real TLS handshake in memory: server with cert+key, client trusting only cafile."""
    (tmp / "srv.crt").write_bytes(cert_pem)
    (tmp / "srv.key").write_bytes(key_pem_)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(str(tmp / "srv.crt"), str(tmp / "srv.key"))
    client = ssl.create_default_context(cafile=str(cafile))
    client.verify_flags |= getattr(ssl, "VERIFY_X509_STRICT", 0)
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    cobj = client.wrap_bio(c_in, c_out, server_hostname=hostname)
    sobj = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"c": False, "s": False}
    for _ in range(20):
        for name, obj in (("c", cobj), ("s", sobj)):
            if done[name]:
                continue
            try:
                obj.do_handshake()
                done[name] = True
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError("handshake did not finish")


@pytest.mark.parametrize("key_type", ["rsa2048", "ecdsa-p256", "ecdsa-p384"])
def test_self_signed_certificate_is_a_leaf(key_type: str, tmp_path: Path) -> None:
    a = with_(DEMO, certificate=replace(DEMO.certificate, key_type=key_type,
                                        extra_names=("smtp.example.com", "192.0.2.10")))
    key = new_key(key_type)
    cert = make_certificate(key, a)
    cert_pem = pem(cert).encode()
    (tmp_path / "ca.crt").write_bytes(cert_pem)
    _handshake(cert_pem, key_pem(key).encode(), tmp_path / "ca.crt", "mail.example.com",
               tmp_path)
    _handshake(cert_pem, key_pem(key).encode(), tmp_path / "ca.crt", "smtp.example.com",
               tmp_path)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(cert_pem, key_pem(key).encode(), tmp_path / "ca.crt", "other.example.com",
                   tmp_path)
    # a leaf, never a CA: trusting it (even by accident, in a CA directory) trusts this one
    # server, and it can sign nothing else
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca is False
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    assert ku.value.key_encipherment is key_type.startswith("rsa")
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName)[0] == "mail.example.com"
    assert [str(x) for x in san.get_values_for_type(x509.IPAddress)] == ["192.0.2.10"]
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name in ("sha256", "sha384")
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    assert days == DEMO.certificate.days  # 825 days + 5 minutes of clock skew margin
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == "mail.example.com"
    assert cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value == \
        "Example Ltd"
    # the check the verify step uses agrees
    from wizard.checks import certificate_valid
    assert all(r.ok for r in certificate_valid(cert_pem, key_pem(key).encode(),
                                               "mail.example.com"))


def _pair(tmp: Path, hostname: str = "mail.example.com", days: int = 30,
          now: Optional[dt.datetime] = None) -> Tuple[bytes, bytes]:
    a = with_(DEMO, hostname=hostname, certificate=replace(DEMO.certificate, days=days,
                                                           key_type="ecdsa-p256"))
    key = new_key("ecdsa-p256")
    return pem(make_certificate(key, a, now=now)).encode(), key_pem(key).encode()


def test_import_validation_messages(tmp_path: Path) -> None:
    cert, key = _pair(tmp_path)
    assert validate_import(cert, key, "mail.example.com", "/c", "/k") is not None
    _, other_key = _pair(tmp_path)
    with pytest.raises(RecipeError, match="does not belong to the certificate"):
        validate_import(cert, other_key, "mail.example.com", "/c", "/k")
    old_cert, old_key = _pair(tmp_path, days=10,
                              now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=40))
    with pytest.raises(RecipeError, match=r"expired on \d{4}-\d\d-\d\d"):
        validate_import(old_cert, old_key, "mail.example.com", "/c", "/k")
    with pytest.raises(RecipeError, match="does not name mx.example.com"):
        validate_import(cert, key, "mx.example.com", "/c", "/k")
    encrypted = serialization.load_pem_private_key(key, None).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"))
    with pytest.raises(RecipeError, match="passphrase"):
        validate_import(cert, encrypted, "mail.example.com", "/c", "/k")
    with pytest.raises(RecipeError, match="no readable PEM certificate"):
        validate_import(b"junk", key, "mail.example.com", "/c", "/k")


def test_import_mode_plan_copies_without_showing_the_key(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "root").mkdir(parents=True)
    cert, key = _pair(tmp_path)
    (root / "root/mail.crt").write_bytes(cert)
    (root / "root/mail.key").write_bytes(key)
    p = get_platform("debian12")
    a = with_(DEMO, certificate=replace(DEMO.certificate, mode="import",
                                        cert_file="/root/mail.crt", key_file="/root/mail.key"))
    plan = Planned(root, p, a)
    c_path, k_path = cert_paths(a, p)
    kc = [c for c in plan.changes["certificate"] if getattr(c, "path", "") == k_path][0]
    assert isinstance(kc, ch.PrivateKeyFile) and kc.mode == 0o600
    assert plan.text(c_path).encode() == cert
    for pv in plan.previews["certificate"]:
        assert "PRIVATE KEY" not in pv.diff + (pv.new_content or "") + "".join(pv.commands)
    # refusals surface as plan errors with the message
    (root / "root/mail.key").write_bytes(_pair(tmp_path)[1])
    with pytest.raises(RecipeError, match="does not belong"):
        Planned(root, p, a)
    (root / "root/mail.key").unlink()
    with pytest.raises(RecipeError, match="cannot read the private key /root/mail.key"):
        Planned(root, p, a)


def test_existing_key_without_certificate_gets_a_matching_certificate(tmp_path: Path) -> None:
    root = tmp_path / "root"
    p = get_platform("debian12")
    c_path, k_path = cert_paths(DEMO, p)
    existing = new_key("ecdsa-p256")
    (root / k_path.lstrip("/")).parent.mkdir(parents=True)
    (root / k_path.lstrip("/")).write_bytes(key_pem(existing).encode())
    os.chmod(root / k_path.lstrip("/"), 0o644)
    ex = ScriptedExecutor(root)
    with Session.open(tmp_path / "state") as s:
        e = Engine(DEMO, p, ex, session=s, recipes=[CertificateRecipe()], facts=Facts())
        res = e.apply()
        assert res[0].status == "applied", res[0].error
    cert = x509.load_pem_x509_certificate((root / c_path.lstrip("/")).read_bytes())
    from recipes.certificate import spki
    assert spki(cert.public_key()) == spki(existing.public_key())
    assert (root / k_path.lstrip("/")).stat().st_mode & 0o777 == 0o600  # mode fixed


TRUST_STORE_SOURCES = ("/usr/local/share/ca-certificates", "/usr/share/ca-certificates",
                       "/etc/pki/ca-trust/source", "/usr/share/pki/ca-trust-source")
"""Where update-ca-certificates (Debian) and update-ca-trust (EL) pick up new roots."""


@pytest.mark.parametrize("pid", ["rocky9", "centos7", "almalinux10", "debian12", "debian13",
                                 "ubuntu24.04"])
def test_certificate_is_not_stored_where_trust_tools_collect_roots(pid: str) -> None:
    cert, key = cert_paths(DEMO, get_platform(pid))
    for path in (cert, key):
        assert not any(path.startswith(d + "/") for d in TRUST_STORE_SOURCES), path
