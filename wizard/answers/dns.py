"""The ``dns`` section: what mailwizard cannot see from the server itself about its DNS.

``public_addresses`` lists the addresses the internet reaches this server at (IPv4 and/or
IPv6). It matters behind NAT (a cloud instance whose interface holds a private address): the
A/AAAA records, the PTR advice and the ACME preflight then use these. Empty (the default):
the server's own global interface addresses are used when there are any.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Dict, List, Optional, Tuple

from .base import Parser, Section
from .validators import as_list

if TYPE_CHECKING:
    from .model import Answers

MAX_ADDRESSES = 16


def check_public_address(value: Any) -> Optional[str]:
    """An error message for one ``public_addresses`` entry, or None."""
    if not isinstance(value, str) or not value or len(value) > 45:
        return "must be an IPv4 or IPv6 address such as 203.0.113.5 or 2001:db8::5"
    try:
        if "%" in value:
            raise ValueError("zone index")
        addr = ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IPv4 or IPv6 address"
    if addr.is_loopback or addr.is_unspecified or addr.is_multicast or addr.is_link_local:
        return f"{value} cannot be reached from the internet (loopback, link-local, " \
               "multicast or unspecified)"
    return None


@dataclass(frozen=True)
class Dns(Section):
    """``dns.public_addresses``: the addresses the A/AAAA records must name."""

    KEY: ClassVar[str] = "dns"

    public_addresses: Tuple[str, ...] = ()

    @classmethod
    def parse(cls, p: Parser) -> Dns:
        d = p.sub("dns")
        p.unknown_keys(d, [f.name for f in fields(cls)], "dns")
        raw = d.get("public_addresses")
        entries = as_list(raw) if raw not in (None, "") else []
        if len(entries) > MAX_ADDRESSES:
            p.error("dns.public_addresses", f"at most {MAX_ADDRESSES} addresses")
            return cls()
        out: List[str] = []
        for i, entry in enumerate(entries):
            value = entry.strip() if isinstance(entry, str) else entry
            msg = check_public_address(value)
            if msg:
                p.error(f"dns.public_addresses[{i}]", msg)
                continue
            norm = str(ipaddress.ip_address(value))
            if norm not in out:
                out.append(norm)
        return cls(public_addresses=tuple(out))

    def to_dict(self, include_secrets: bool = False) -> Dict[str, Any]:
        return {"public_addresses": list(self.public_addresses)}

    @classmethod
    def form_start(cls) -> Dict[str, Any]:
        return {}  # not on the form: an answers file gives it, the default suits most servers

    def summary(self, answers: Answers) -> List[Tuple[str, str]]:
        if not self.public_addresses:
            return []
        return [("Public addresses", ", ".join(self.public_addresses))]
