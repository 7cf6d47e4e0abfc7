"""The ``certificate`` section: a self-signed certificate made here, or files to import."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Dict, List, Tuple

from .base import Parser, Section
from .validators import as_list, check_hostname, check_path

if TYPE_CHECKING:
    from .model import Answers

KEY_TYPES = ("rsa2048", "rsa3072", "rsa4096", "ecdsa-p256", "ecdsa-p384")
CERT_MODES = ("self-signed", "import")
_COUNTRY_RE = re.compile(r"[A-Z]{2}", re.ASCII)
_FILES = ("cert_file", "key_file", "chain_file")


@dataclass(frozen=True)
class Certificate(Section):
    KEY: ClassVar[str] = "certificate"

    mode: str = "self-signed"
    """``self-signed`` (made by mailwizard with ``cryptography``) or ``import``."""
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
        return cls(mode=mode, common_name=cn, organization=org, country=country, days=days,
                   key_type=key_type, extra_names=tuple(extra), cert_file=files["cert_file"],
                   key_file=files["key_file"], chain_file=files["chain_file"], csr=csr)

    def to_dict(self, include_secrets: bool = False) -> Dict[str, Any]:
        cert: Dict[str, Any] = {"mode": self.mode, "days": self.days, "key_type": self.key_type}
        for key in ("common_name", "organization", "country") + _FILES:
            if getattr(self, key):
                cert[key] = getattr(self, key)
        if self.extra_names:
            cert["extra_names"] = list(self.extra_names)
        if self.csr:
            cert["csr"] = True
        return cert

    def summary(self, answers: Answers) -> List[Tuple[str, str]]:
        return [("Certificate", f"{self.mode}, {self.key_type}, CN={answers.cert_cn}")]


_DEFAULT = Certificate()
