"""Step 8: the TLS certificate: a self-signed one made with ``cryptography``, or an imported one."""

from __future__ import annotations

import datetime as _dt
import ipaddress
from shlex import quote as q
from typing import TYPE_CHECKING, Any, List, Optional, Tuple, Union

from wizard import checks
from wizard.answers import Answers
from wizard.changes import Change, Command, FileWrite, GeneratedFile, KeySource, PrivateKeyFile
from wizard.checks import CheckResult
from wizard.errors import RecipeError
from wizard.pemkey import load_private_key
from wizard.platforms import Platform
from wizard.recipe import ForFamily, PlanContext, Recipe, VerifyContext

# ``cryptography`` is imported where a key or certificate is made or read, not with the step:
# its x509 module alone costs the wizard's first screen tens of milliseconds
if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]


def cert_paths(answers: Answers, platform: Platform) -> Tuple[str, str]:
    """(certificate, private key) paths on the target, used by the TLS steps."""
    return (f"{platform.cert_dir}/{answers.hostname}.crt",
            f"{platform.key_dir}/{answers.hostname}.key")


def csr_path(answers: Answers, platform: Platform) -> str:
    return f"{platform.cert_dir}/{answers.hostname}.csr"


# --------------------------------------------------------------------------- making keys/certs
def new_key(key_type: str) -> PrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if key_type.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[3:]))
    curve = {"ecdsa-p256": ec.SECP256R1(), "ecdsa-p384": ec.SECP384R1()}.get(key_type)
    if curve is None:
        raise RecipeError(f"unknown key type {key_type!r}")
    return ec.generate_private_key(curve)


def key_pem(key: PrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def _digest(key: Any) -> Union[hashes.SHA256, hashes.SHA384]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def _san_pairs(answers: Answers) -> List[Tuple[str, str]]:
    """The certificate's subjectAltNames as (``ip`` | ``dns``, value), in order, each once:
    the host name, the common name, then the extra names."""
    pairs: List[Tuple[str, str]] = []
    for n in [answers.hostname, answers.cert_cn, *answers.certificate.extra_names]:
        try:
            pair = ("ip", str(ipaddress.ip_address(n)))
        except ValueError:
            pair = ("dns", n.lower().rstrip("."))
        if pair not in pairs:
            pairs.append(pair)
    return pairs


def san_names(answers: Answers) -> List[x509.GeneralName]:
    from cryptography import x509

    return [x509.IPAddress(ipaddress.ip_address(v)) if kind == "ip" else x509.DNSName(v)
            for kind, v in _san_pairs(answers)]


def subject_name(answers: Answers) -> x509.Name:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    c = answers.certificate
    attrs = []
    if len(answers.cert_cn) <= 64:  # longer names live in the SAN only
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, answers.cert_cn))
    if c.organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, c.organization[:64]))
    if c.country:
        attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, c.country.upper()))
    return x509.Name(attrs)


def make_certificate(key: PrivateKey, answers: Answers,
                     now: Optional[_dt.datetime] = None) -> x509.Certificate:
    """A self-signed leaf (end-entity) server certificate.

    CA:FALSE (critical) and no keyCertSign: trusting it (a client's CA file, or a tool that
    gathers every certificate of a directory into the system store) trusts this one server
    name and nothing else, as it can sign no other certificate. keyUsage fits the key type
    (keyEncipherment for RSA only); serverAuth, SAN, SKI and AKI satisfy strict verifiers
    (Python 3.13's VERIFY_X509_STRICT, OpenSSL 3), which accept a self-signed leaf that is
    itself the trust anchor.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = now or _dt.datetime.now(_dt.timezone.utc)
    name = subject_name(answers)
    pub = key.public_key()
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    return (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(days=answers.certificate.days))
        .add_extension(x509.SubjectAlternativeName(san_names(answers)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=is_rsa,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(pub), critical=False)
        .sign(key, _digest(key))
    )


def make_csr(key: PrivateKey, answers: Answers) -> x509.CertificateSigningRequest:
    from cryptography import x509

    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject_name(answers))
        .add_extension(x509.SubjectAlternativeName(san_names(answers)), critical=False)
        .sign(key, _digest(key))
    )


def pem(obj: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    return obj.public_bytes(serialization.Encoding.PEM).decode("ascii")  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- reading/validating
def spki(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_key(data: bytes, path: str) -> PrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    try:
        key = load_private_key(data)
    except TypeError as exc:
        raise RecipeError(
            f"{path} is protected by a passphrase. Postfix and Dovecot start unattended and "
            "cannot ask for it: store the key without one (openssl pkey -in KEY -out NEW)."
        ) from exc
    except ValueError as exc:
        raise RecipeError(f"{path} is not a PEM private key ({exc})") from exc
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise RecipeError(f"{path}: only RSA and ECDSA keys are supported")
    return key


def load_certs(data: bytes, path: str) -> List[x509.Certificate]:
    from cryptography import x509

    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise RecipeError(f"{path} holds no readable PEM certificate ({exc})") from exc
    return certs


def names_host(cert: x509.Certificate, hostname: str) -> Tuple[bool, List[str]]:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [n.lower() for n in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = []
    host = hostname.lower()
    ok = host in names or any(
        n.startswith("*.") and "." in host and host.split(".", 1)[1] == n[2:] for n in names)
    return ok, names


def _not_after(cert: x509.Certificate) -> _dt.datetime:
    return checks._not_after(cert)


def _not_before(cert: x509.Certificate) -> _dt.datetime:
    value = getattr(cert, "not_valid_before_utc", None)
    if value is None:  # cryptography < 42
        value = cert.not_valid_before.replace(tzinfo=_dt.timezone.utc)
    return value


def validate_import(cert_data: bytes, key_data: bytes, hostname: str, cert_file: str,
                    key_file: str, now: Optional[_dt.datetime] = None) -> x509.Certificate:
    """Check an admin's certificate and key; return the server certificate or raise."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    certs = load_certs(cert_data, cert_file)
    leaf = certs[0]
    key = load_key(key_data, key_file)
    if spki(key.public_key()) != spki(leaf.public_key()):
        raise RecipeError(
            f"the key {key_file} does not belong to the certificate {cert_file} (their public "
            "keys differ). Pick the key that was used for the certificate request.")
    if _not_after(leaf) <= now:
        raise RecipeError(
            f"the certificate {cert_file} expired on {_not_after(leaf):%Y-%m-%d}; renew it "
            "first (mail clients and servers refuse expired certificates).")
    if _not_before(leaf) > now:
        raise RecipeError(
            f"the certificate {cert_file} is not valid before {_not_before(leaf):%Y-%m-%d %H:%M} "
            "UTC; check the server's clock.")
    ok, names = names_host(leaf, hostname)
    if not ok:
        raise RecipeError(
            f"the certificate {cert_file} does not name {hostname} (its DNS names: "
            f"{', '.join(names) or 'none'}); clients connecting to {hostname} would reject it.")
    return leaf


class CertificateRecipe(Recipe):
    id = "certificate"
    title = "TLS certificate"
    guide = "Guide 000, part 3 section 6 (generating certificates); guide 002 (openssl req)"
    summary = (
        "Provides the certificate and private key that Postfix and Dovecot present to clients. "
        "By default mailwizard makes a self-signed certificate in-process with the Python "
        "cryptography library: a modern key (RSA 2048+ or ECDSA), SHA-256, the host name in "
        "subjectAltName and extensions strict clients need, so a client can trust it by "
        "loading the same file as its CA. It is a leaf certificate (CA:FALSE, for TLS "
        "servers only): even if it ends up in a trust store it vouches for this server alone "
        "and can sign nothing else. It is stored beside the system's other server "
        "certificates, never in the folders update-ca-certificates or update-ca-trust turn "
        "into trusted roots. The key is created once and kept on later runs; it "
        "is readable by root only and never shown in previews. Alternatively an existing "
        "certificate (e.g. from a public CA) is checked - key matches, not expired, names the "
        "host - and copied into place. A certificate signing request can be written as well.")
    outdated = (
        ForFamily("el",
        "genkey and the crypto-utils package no longer exist on EL8 and later; mailwizard needs "
        "neither (nor the openssl command)."),
        "1024-bit RSA keys and MD5/SHA-1 signatures are refused by current OpenSSL and EL's "
        "system crypto policy; we use RSA 2048+ or ECDSA with SHA-256 (SHA-384 for P-384).",
        "Modern clients ignore the Common Name and check only subjectAltName, which the old "
        "guides never set; our certificate always carries it.",
        "CAcert and StartSSL, suggested as free CAs, are gone or untrusted; for a public server "
        "use acme mode (certbot and Let's Encrypt or another ACME CA, the acme step) or "
        "import a certificate from a CA.",
        "A 10-year self-signed certificate (3650 days) is no longer accepted by some clients; "
        "the default lifetime is 825 days.",
        "'openssl req -x509' with the stock openssl.cnf makes a CA certificate (CA:TRUE); "
        "the runbook's command adds CA:FALSE, serverAuth and a key usage that fits the key, "
        "as mailwizard's own certificate has.",
    )
    touches = ("/etc/pki/tls/certs", "/etc/pki/tls/private", "/etc/ssl/certs", "/etc/ssl/private")

    def plan(self, ctx: PlanContext) -> List[Change]:
        a, p = ctx.answers, ctx.platform
        cert_file, key_file = cert_paths(a, p)
        if a.certificate.mode == "import":
            changes = self._plan_import(ctx, cert_file, key_file)
        else:
            changes = self._plan_self_signed(ctx, cert_file, key_file)
        if p.is_el and ctx.facts.selinux_enforcing:
            changes.append(Command(
                ["restorecon", "-Rv", "/etc/pki"], after_files=[cert_file, key_file],
                description="restore SELinux labels under /etc/pki (files made elsewhere "
                            "would be unreadable to the daemons)"))
        return changes

    # ------------------------------------------------------------------ self-signed
    def _plan_self_signed(self, ctx: PlanContext, cert_file: str,
                          key_file: str) -> List[Change]:
        a = ctx.answers
        c = a.certificate
        key_data = ctx.view.read(key_file)
        cert_data = ctx.view.read(cert_file)
        existing = load_key(key_data, key_file) if key_data is not None else None
        source: KeySource[PrivateKey] = KeySource(lambda: new_key(c.key_type), existing)
        changes: List[Change] = [GeneratedFile(
            key_file, lambda: key_pem(source.key()),
            preview_text=f"(a new {c.key_type} private key, generated at apply time; "
                         "never shown)\n",
            mode=0o600, reason="private key: created once, kept on later runs")]
        days = c.days
        descr = (f"(a self-signed certificate for {', '.join(_names(a))}, {c.key_type}, "
                 f"valid {days} days, generated at apply time)\n")
        kept = "made from the key above; kept on later runs"
        if c.mode == "acme":
            descr = descr[:-2] + "; a placeholder until the acme step installs the ACME one)\n"
            kept += "; the acme step replaces it with the certificate certbot obtains"
        if cert_data is not None and existing is None:
            # a certificate without its key is useless: replace it (the old one is backed up)
            cert = make_certificate(source.key(), a)
            changes.append(FileWrite(cert_file, pem(cert), mode=0o644,
                                     reason="the existing certificate has no key: replaced"))
        else:
            if cert_data is not None and existing is not None:
                cert = load_certs(cert_data, cert_file)[0]
                if spki(cert.public_key()) != spki(existing.public_key()):
                    raise RecipeError(
                        f"{cert_file} does not belong to {key_file}. Move both files away to "
                        "let mailwizard make a new pair, or use import mode.")
            changes.append(GeneratedFile(
                cert_file, lambda: pem(make_certificate(source.key(), a)),
                preview_text=descr, mode=0o644, reason=kept))
        if c.csr:
            changes.append(GeneratedFile(
                csr_path(a, ctx.platform), lambda: pem(make_csr(source.key(), a)),
                preview_text=f"(a certificate signing request for {', '.join(_names(a))})\n",
                mode=0o644, reason="send this file to a CA; then use import mode"))
        return changes

    # ------------------------------------------------------------------ import
    def _plan_import(self, ctx: PlanContext, cert_file: str, key_file: str) -> List[Change]:
        c = ctx.answers.certificate
        if not c.cert_file or not c.key_file:
            raise RecipeError("import mode needs certificate.cert_file and certificate.key_file")
        cert_data = ctx.view.read(c.cert_file)
        if cert_data is None:
            raise RecipeError(f"cannot read the certificate {c.cert_file} on the server")
        key_data = ctx.view.read(c.key_file)
        if key_data is None:
            raise RecipeError(f"cannot read the private key {c.key_file} on the server")
        validate_import(cert_data, key_data, ctx.answers.hostname, c.cert_file, c.key_file)
        certs = load_certs(cert_data, c.cert_file)
        if c.chain_file:
            chain_data = ctx.view.read(c.chain_file)
            if chain_data is None:
                raise RecipeError(f"cannot read the chain file {c.chain_file} on the server")
            from cryptography.hazmat.primitives import hashes

            known = {x.fingerprint(hashes.SHA256()) for x in certs}
            certs += [x for x in load_certs(chain_data, c.chain_file)
                      if x.fingerprint(hashes.SHA256()) not in known]
        bundle = "".join(pem(x) for x in certs)
        return [
            PrivateKeyFile(key_file, key_data, mode=0o600,
                           reason=f"copied from {c.key_file}"),
            FileWrite(cert_file, bundle, mode=0o644,
                      reason=f"server certificate from {c.cert_file}"
                             + (f" followed by the chain from {c.chain_file}"
                                if c.chain_file else "")),
        ]

    # ------------------------------------------------------------------ verify
    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        ex = ctx.executor
        cert_file, key_file = cert_paths(ctx.answers, ctx.platform)
        out = checks.certificate_valid(ex.read_bytes(cert_file), ex.read_bytes(key_file),
                                       ctx.answers.hostname)
        out.append(checks.file_mode(ex, key_file, 0o600, "root"))
        return out

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        cert_file, key_file = cert_paths(answers, platform)
        return [
            f"openssl x509 -in {q(cert_file)} -noout -subject -enddate -text | "
            "grep -A1 'Subject Alternative Name'",
            f"openssl x509 -in {q(cert_file)} -noout -pubkey | sha256sum; "
            f"openssl pkey -in {q(key_file)} -pubout | sha256sum   # the two sums must match",
            f"ls -l {q(key_file)}   # -rw------- root root",
        ]


def _names(a: Answers) -> List[str]:
    """The values of :func:`san_names` as text, without ``cryptography.x509`` (the plan's
    descriptions need no certificate: importing x509 took a fifth of a ``plan``)."""
    return [value for _kind, value in _san_pairs(a)]


__all__ = ["CertificateRecipe", "PrivateKeyFile", "cert_paths", "make_certificate",
           "validate_import"]
