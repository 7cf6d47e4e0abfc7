"""The ``certificate`` section: a self-signed certificate made here, files to import, or a
certificate from an ACME CA obtained with the distribution's certbot (HTTP-01)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Dict, List, Optional, Tuple

from .base import Parser, Section
from .validators import LOCALPART_SIMPLE_RE, as_list, check_domain, check_hostname, check_path

if TYPE_CHECKING:
    from .model import Answers

KEY_TYPES = ("rsa2048", "rsa3072", "rsa4096", "ecdsa-p256", "ecdsa-p384")
CERT_MODES = ("self-signed", "import", "acme")
ACME_CHALLENGES = ("standalone", "webroot")
LETSENCRYPT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory"
_URL_RE = re.compile(
    r"https://(?P<host>[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])"
    r"(?::(?P<port>[0-9]{1,5}))?(?P<path>/[A-Za-z0-9._~%/+=:@-]{0,1024})?", re.ASCII)
_COUNTRY_RE = re.compile(r"[A-Z]{2}", re.ASCII)
_FILES = ("cert_file", "key_file", "chain_file")


@dataclass(frozen=True)
class Certificate(Section):
    KEY: ClassVar[str] = "certificate"

    mode: str = "self-signed"
    """``self-signed`` (made by mailwizard with ``cryptography``), ``import``, or ``acme``
    (certbot, HTTP-01; until it runs a self-signed placeholder is in place)."""
    common_name: str = ""
    """Defaults to the host name."""
    organization: str = ""
    country: str = ""
    days: int = 825
    key_type: str = "rsa2048"
    extra_names: Tuple[str, ...] = ()
    """Further DNS names or IP addresses for the subjectAltName."""
    cert_file: str = ""
    key_file: str = ""
    chain_file: str = ""
    csr: bool = False
    """Also write a certificate signing request to send to a CA."""
    acme_directory: str = LETSENCRYPT_DIRECTORY
    """The ACME CA's directory URL (https only)."""
    acme_email: str = ""
    """Account contact for expiry notices; empty registers without an address."""
    acme_challenge: str = "standalone"
    """``standalone`` (certbot answers on port 80) or ``webroot`` (a web server does)."""
    acme_webroot: str = ""
    """The document root the web server on port 80 serves (webroot challenge)."""
    acme_ca_bundle: str = ""
    """CA bundle on the target trusted for the ACME server (a private CA); empty: the system's."""

    @classmethod
    def parse(cls, p: Parser) -> Certificate:
        c = p.sub("certificate")
        p.unknown_keys(c, [f.name for f in fields(cls)], "certificate")
        mode = str(c.get("mode", _DEFAULT.mode))
        if mode not in CERT_MODES:
            p.error("certificate.mode", f"must be one of {', '.join(CERT_MODES)}")
        cn = str(c.get("common_name", "") or "")
        if cn and (msg := check_hostname(cn, fqdn=True)):
            p.error("certificate.common_name", msg)
        org = str(c.get("organization", "") or "")
        if any(ch in org for ch in "/\\=,+\"<>;#") or len(org) > 64 or not org.isprintable():
            p.error("certificate.organization",
                    "must be at most 64 printable characters, without / \\ = , + \" < > ; #")
        country = str(c.get("country", "") or "")
        if country and not _COUNTRY_RE.fullmatch(country):
            p.error("certificate.country", "must be a two-letter code such as DE or US")
        days = p.opt_int(c, "days", _DEFAULT.days, "certificate.days", 1, 3650)
        key_type = str(c.get("key_type", _DEFAULT.key_type))
        if key_type not in KEY_TYPES:
            p.error("certificate.key_type", f"must be one of {', '.join(KEY_TYPES)} "
                                            "(1024-bit RSA is refused by modern systems)")
        extra: List[str] = []
        for i, n in enumerate(as_list(c.get("extra_names"))):
            n = str(n)
            try:
                if "%" in n:
                    raise ValueError("zone index")
                ipaddress.ip_address(n)
            except ValueError:
                if (msg := check_hostname(n, fqdn=False)):
                    p.error(f"certificate.extra_names[{i}]", msg)
                    continue
            extra.append(n)
        files: Dict[str, str] = {}
        for k in _FILES:
            v = str(c.get(k, "") or "")
            if v and (msg := check_path(v)):
                p.error(f"certificate.{k}", msg)
            files[k] = v
        if mode == "import":
            for k in ("cert_file", "key_file"):
                if not files[k]:
                    p.error(f"certificate.{k}", "is required when mode is import")
        csr = p.opt_bool(c, "csr", _DEFAULT.csr, "certificate.csr")
        acme = _parse_acme(p, c, mode)
        if mode == "acme":
            for i, n in enumerate(extra):
                if _is_ip(n):
                    p.error(f"certificate.extra_names[{i}]",
                            f"{n!r} is an IP address: ACME certificates here name DNS names "
                            "only (HTTP-01 cannot prove an address)")
        return cls(mode=mode, common_name=cn, organization=org, country=country, days=days,
                   key_type=key_type, extra_names=tuple(extra), cert_file=files["cert_file"],
                   key_file=files["key_file"], chain_file=files["chain_file"], csr=csr,
                   **acme)

    def to_dict(self, include_secrets: bool = False) -> Dict[str, Any]:
        cert: Dict[str, Any] = {"mode": self.mode, "days": self.days, "key_type": self.key_type}
        for key in ("common_name", "organization", "country") + _FILES:
            if getattr(self, key):
                cert[key] = getattr(self, key)
        if self.extra_names:
            cert["extra_names"] = list(self.extra_names)
        if self.csr:
            cert["csr"] = True
        for key in _ACME:
            value = getattr(self, key)
            if self.mode == "acme" or value != getattr(_DEFAULT, key):
                if value or key in ("acme_directory", "acme_challenge"):
                    cert[key] = value
        return cert

    @property
    def acme_names(self) -> List[str]:
        """The names an ACME certificate is asked for, after the host name (DNS names only)."""
        return [n.lower().rstrip(".") for n in self.extra_names if not _is_ip(n)]

    def summary(self, answers: Answers) -> List[Tuple[str, str]]:
        if self.mode == "acme":
            return [("Certificate", f"ACME ({self.acme_challenge}) from {self.acme_directory} "
                                    f"for {answers.hostname}")]
        return [("Certificate", f"{self.mode}, {self.key_type}, CN={answers.cert_cn}")]


_ACME = ("acme_directory", "acme_email", "acme_challenge", "acme_webroot", "acme_ca_bundle")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def check_acme_directory(value: Any) -> Optional[str]:
    """Why ``value`` is not an https URL we pass to certbot as ``--server``, or None."""
    if not isinstance(value, str) or not value:
        return "must be the https URL of an ACME directory"
    m = _URL_RE.fullmatch(value)
    if m is None:
        return (f"{value!r} is not an https URL (https://host[:port]/path; letters, digits "
                "and . _ ~ % / + = : @ - only, no query, no spaces)")
    host = m.group("host")
    if host.startswith("["):
        if not _is_ip(host[1:-1]):
            return f"{value!r}: {host} is not an IPv6 address"
    elif not _is_ip(host) and (err := check_hostname(host, fqdn=False)):
        return f"{value!r}: host {err}"
    port = m.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        return f"{value!r}: port {port} is not between 1 and 65535"
    return None


def check_acme_email(value: Any) -> Optional[str]:
    """An address an ACME CA accepts as a contact: a plain local part and a public domain."""
    if not isinstance(value, str) or value.count("@") != 1:
        return f"{value!r} is not an e-mail address"
    local, dom = value.split("@")
    if not LOCALPART_SIMPLE_RE.fullmatch(local):
        return (f"{value!r}: the local part may hold letters, digits and . _ % + - only "
                "(ACME CAs refuse other addresses)")
    err = check_domain(dom)
    return f"{value!r}: domain {err}" if err else None


def _parse_acme(p: Parser, c: Any, mode: str) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for key in _ACME:
        raw = c.get(key, getattr(_DEFAULT, key))
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            p.error(f"certificate.{key}", "must be text")
            raw = getattr(_DEFAULT, key)
        out[key] = raw
    if (msg := check_acme_directory(out["acme_directory"])):
        p.error("certificate.acme_directory", msg)
    if out["acme_email"] and (msg := check_acme_email(out["acme_email"])):
        p.error("certificate.acme_email", msg)
    if out["acme_challenge"] not in ACME_CHALLENGES:
        p.error("certificate.acme_challenge", f"must be one of {', '.join(ACME_CHALLENGES)}")
    for key in ("acme_webroot", "acme_ca_bundle"):
        if out[key] and (msg := check_path(out[key])):
            p.error(f"certificate.{key}", msg)
    if mode == "acme" and out["acme_challenge"] == "webroot" and not out["acme_webroot"]:
        p.error("certificate.acme_webroot", "is required when acme_challenge is webroot")
    return out


_DEFAULT = Certificate()
