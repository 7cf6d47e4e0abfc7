"""The sections about the server itself: its names, its networks, mail access, optional steps."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Dict, List, Tuple

from .base import Parser, Section
from .validators import as_list, check_domain, check_hostname, normalize_network

if TYPE_CHECKING:
    from .model import Answers

INET_PROTOCOLS = ("all", "ipv4", "ipv6")
QUOTA_RE = re.compile(r"[1-9][0-9]{0,5}[MGT]", re.ASCII)
"""A quota size: 1 to 999999 mebi-, gibi- or tebibytes (Dovecot's M, G and T)."""
OPTIONAL_STEPS = ("firewall", "postgrey", "virtual-aliases")
_INTERFACE_WORDS = ("all", "loopback-only", "localhost")


@dataclass(frozen=True)
class Identity(Section):
    """``hostname`` and ``domain``: the server's name and the mail domain it serves.

    The host may live outside the domain (``mx.provider.net`` serving ``customer.org``: the MX
    record points there). Only a domain below the host name is refused (the two answers are
    most likely swapped: mail would go to ``user@mail.example.com``)."""

    hostname: str = ""
    domain: str = ""

    @classmethod
    def parse(cls, p: Parser) -> Identity:
        # checked before lower(): str.lower() folds some non-ASCII letters to ASCII ones
        # (U+212A KELVIN SIGN becomes 'k'), which must not turn a bad name into a good one
        hostname = p.req_str("hostname").rstrip(".")
        if hostname and (msg := check_hostname(hostname)):
            p.error("hostname", msg)
        hostname = hostname.lower()
        domain = p.req_str("domain").rstrip(".")
        if domain and (msg := check_domain(domain)):
            p.error("domain", msg)
        domain = domain.lower()
        if (hostname and domain and not p.has_error("hostname", "domain")
                and domain.endswith("." + hostname)):
            p.error("domain", f"the mail domain {domain!r} lies below the host name "
                              f"{hostname!r}: swapped? domain is what follows the @ in your "
                              "addresses, hostname the server's own name")
        return cls(hostname=hostname, domain=domain)

    def to_dict(self, include_secrets: bool = False) -> Dict[str, Any]:
        return {"hostname": self.hostname, "domain": self.domain}

    def summary(self, answers: Answers) -> List[Tuple[str, str]]:
        return [("Host name", self.hostname), ("Mail domain", self.domain)]


@dataclass(frozen=True)
class Network(Section):
    """``mynetworks`` (trusted for relaying), ``inet_interfaces`` and ``inet_protocols``."""

    mynetworks: Tuple[str, ...] = ("127.0.0.0/8", "[::1]/128")
    inet_interfaces: str = "all"
    inet_protocols: str = "all"

    @classmethod
    def parse(cls, p: Parser) -> Network:
        nets: List[str] = []
        raw_nets = p.data.get("mynetworks", list(_NETWORK.mynetworks))
        for i, entry in enumerate(as_list(raw_nets)):
            norm, msg = normalize_network(entry)
            if msg:
                p.error(f"mynetworks[{i}]", msg)
            elif norm and norm not in nets:
                nets.append(norm)
        if not nets and not p.has_error_under("mynetworks"):
            p.error("mynetworks", "needs at least the loopback network 127.0.0.0/8")

        inet_interfaces = str(p.data.get("inet_interfaces", _NETWORK.inet_interfaces)).strip()
        if inet_interfaces not in _INTERFACE_WORDS:
            for i, addr in enumerate(as_list(inet_interfaces)):
                try:
                    if "%" in str(addr):
                        raise ValueError("zone index")
                    ipaddress.ip_address(str(addr))
                except ValueError:
                    p.error(f"inet_interfaces[{i}]",
                            f"{addr!r} is not 'all', 'loopback-only' or an IP address")
            inet_interfaces = ", ".join(str(a) for a in as_list(inet_interfaces))
        inet_protocols = str(p.data.get("inet_protocols", _NETWORK.inet_protocols)).strip()
        if inet_protocols not in INET_PROTOCOLS:
            p.error("inet_protocols", f"must be one of {', '.join(INET_PROTOCOLS)}")
        return cls(mynetworks=tuple(nets), inet_interfaces=inet_interfaces,
                   inet_protocols=inet_protocols)

    def to_dict(self, include_secrets: bool = False) -> Dict[str, Any]:
        return {"mynetworks": list(self.mynetworks), "inet_interfaces": self.inet_interfaces,
                "inet_protocols": self.inet_protocols}

    def summary(self, answers: Answers) -> List[Tuple[str, str]]:
        return [("Trusted networks", ", ".join(self.mynetworks)),
                ("Listen on", f"{self.inet_interfaces} ({self.inet_protocols})")]


_NETWORK = Network()


@dataclass(frozen=True)
class MailAccess(Section):
    """``imap``, ``pop3`` (at least one) and ``plaintext_ports``."""

    FORM_KEYS: ClassVar[Tuple[str, ...]] = ("imap", "pop3")

    imap: bool = True
    pop3: bool = True
    plaintext_ports: bool = False
    """Also open 110/143 in the firewall (login there still needs STARTTLS)."""
    mail_quota: str = ""
    """Per-user mailbox quota (``500M``, ``1G``, ``2T``); empty or ``off``: none."""

    @classmethod
    def parse(cls, p: Parser) -> MailAccess:
        imap = p.opt_bool(p.data, "imap", _ACCESS.imap, "imap")
        pop3 = p.opt_bool(p.data, "pop3", _ACCESS.pop3, "pop3")
        if not imap and not pop3:
            p.error("imap", "at least one of imap and pop3 must be on")
        plaintext_ports = p.opt_bool(p.data, "plaintext_ports", _ACCESS.plaintext_ports,
                                     "plaintext_ports")
        quota = p.data.get("mail_quota", "")
        if quota is None or quota is False or quota == "" or quota == "off":
            quota = ""
        elif not isinstance(quota, str) or not QUOTA_RE.fullmatch(quota):
            p.error("mail_quota", f"{quota!r} is not a size like 500M, 1G or 2T "
                                  "(or off for no quota)")
            quota = ""
        return cls(imap=imap, pop3=pop3, plaintext_ports=plaintext_ports, mail_quota=quota)

    def to_dict(self, include_secrets: bool = False) -> Dict[str, Any]:
        return {"imap": self.imap, "pop3": self.pop3, "plaintext_ports": self.plaintext_ports,
                "mail_quota": self.mail_quota or "off"}

    def summary(self, answers: Answers) -> List[Tuple[str, str]]:
        on = [name for name, enabled in (("IMAP", self.imap), ("POP3", self.pop3)) if enabled]
        out = [("Mail access", ", ".join(on) or "none")]
        if self.mail_quota:
            out.append(("Mailbox quota", f"{self.mail_quota} per user"))
        return out


_ACCESS = MailAccess()


@dataclass(frozen=True)
class Steps(Section):
    """``steps``: which optional steps run (``firewall``, ``postgrey``, ``virtual-aliases``)."""

    steps: Tuple[Tuple[str, bool], ...] = (
        ("firewall", True),
        ("postgrey", False),
        ("virtual-aliases", True),
    )

    @classmethod
    def parse(cls, p: Parser) -> Steps:
        steps = dict(_STEPS.steps)
        for k, v in p.sub("steps").items():
            if k not in OPTIONAL_STEPS:
                p.error(f"steps.{k}", f"is not an optional step ({', '.join(OPTIONAL_STEPS)})")
            elif not isinstance(v, bool):
                p.error(f"steps.{k}", "must be true or false")
            else:
                steps[k] = v
        # virtual aliases given with the step off are simply not configured
        return cls(steps=tuple(sorted(steps.items())))

    def to_dict(self, include_secrets: bool = False) -> Dict[str, Any]:
        return {"steps": dict(self.steps)}


_STEPS = Steps()
