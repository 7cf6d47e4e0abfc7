"""What the outside world sees: DNS records against the expected set (reverse DNS
included), our public addresses on the configured block lists, and the listening ports."""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any, Callable, List, Optional, Sequence, Tuple

from ..dnsrecords.check import DIFFERENT, MISSING, UNCHECKED, RecordCheck
from ..dnsrecords.check import OK as REC_OK
from ..dnsrecords.check import UNKNOWN as REC_UNKNOWN
from ..dnsrecords.render import publish_line
from .model import CRITICAL, OK, UNKNOWN, WARNING, Finding


def record_findings(results: Sequence[RecordCheck]) -> List[Finding]:
    """A required record missing or different, a recommended one different, a PTR record
    (reverse DNS) missing or different: WARNING; a recommended record not published: OK
    with the line to publish; no answer from the resolver: UNKNOWN."""
    out = []
    for c in results:
        r = c.record
        group_name = ("reverse DNS " if r.type == "PTR" else "DNS ") + \
            f"{r.purpose} {r.display_name} {r.type}"
        found = f"; found {'; '.join(c.found)}" if c.found else ""
        if c.status == REC_OK:
            out.append(Finding("dns", group_name, OK, "published"))
        elif c.status == UNCHECKED:
            out.append(Finding("dns", group_name, OK, f"not checked: {c.detail}",
                               r.explanation))
        elif c.status == REC_UNKNOWN:
            out.append(Finding("dns", group_name, UNKNOWN, c.detail or "no answer",
                               "is a resolver reachable? (--nameserver)"))
        elif c.status in (MISSING, DIFFERENT):
            hint = f"publish: {publish_line(r)}" if r.known else r.explanation
            serious = r.required or r.type == "PTR" or c.status == DIFFERENT
            out.append(Finding("dns", group_name, WARNING if serious else OK,
                               f"{c.status}{found}" + ("" if serious else " (recommended)"),
                               hint))
        else:  # present: a record exists, its right value unknown to mailwizard
            out.append(Finding("dns", group_name, OK, f"present{found}"))
    return out


# --------------------------------------------------------------------------- block lists
def rbl_query_name(address: str, zone: str) -> str:
    return ".".join(reversed(address.split("."))) + "." + zone.rstrip(".") + "."


def _octet_matches(spec: str, value: int) -> bool:
    if spec.startswith("["):
        for part in spec[1:-1].split(";"):
            lo, _, hi = part.partition("..")
            if lo.isdigit() and (int(lo) <= value <= int(hi or lo) if (hi or lo).isdigit()
                                 else False):
                return True
        return False
    return spec.isdigit() and int(spec) == value


def rbl_code_matches(code: str, flt: str) -> bool:
    """Whether ``code`` (an answer such as ``127.0.0.2``) passes Postfix's reply filter
    ``flt`` (``127.0.0.[2..11]``; empty: any answer except the 127.255.255.x refusals)."""
    try:
        octets = [int(x) for x in code.split(".")]
    except ValueError:
        return False
    if len(octets) != 4:
        return False
    if not flt:
        return not (octets[0] == 127 and octets[1:3] == [255, 255])
    specs = re.findall(r"\[[^\]]*\]|[^.\[]+", flt)
    if len(specs) != 4 or ".".join(specs) != flt:
        return False
    return all(_octet_matches(s, v) for s, v in zip(specs, octets))


Lookup = Callable[[str], Tuple[Optional[List[str]], str]]
"""name -> (A answers, or [] for NXDOMAIN/no data; None with the reason when unknown)."""


def resolver_lookup(resolver: Any) -> Lookup:
    def look(name: str) -> Tuple[Optional[List[str]], str]:
        import dns.exception
        import dns.resolver

        if resolver is None:
            return None, "no resolver is configured"
        try:
            ans = resolver.resolve(name, "A", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return [], ""
        except dns.exception.DNSException as exc:
            return None, type(exc).__name__
        return [r.address for r in ans], ""
    return look


def rbl_findings(addresses: Sequence[str], rbls: Sequence[str],
                 lookup: Lookup) -> List[Finding]:
    """Each public IPv4 address against each configured block list."""
    out: List[Finding] = []
    v4 = [a for a in addresses if isinstance(ipaddress.ip_address(a), ipaddress.IPv4Address)]
    if not rbls:
        return [Finding("dns", "block lists", OK, "no block list configured "
                        "(restrictions.rbl)")]
    if not v4:
        return [Finding("dns", "block lists", OK, "no public IPv4 address known: give it as "
                        "dns.public_addresses to check it against the block lists")]
    for entry in rbls:
        zone, _, flt = entry.partition("=")
        for addr in v4:
            name = f"{addr} on {zone}"
            codes, why = lookup(rbl_query_name(addr, zone))
            if codes is None:
                out.append(Finding("dns", name, UNKNOWN, f"not answered: {why}"))
            elif any(rbl_code_matches(c, flt) for c in codes):
                out.append(Finding("dns", name, CRITICAL, f"LISTED ({', '.join(codes)})",
                                   "other servers refuse mail from this address: find the "
                                   "cause (an open relay, a compromised account) and ask "
                                   f"{zone} for delisting"))
            elif codes:
                out.append(Finding("dns", name, UNKNOWN, f"the list refused to answer "
                                   f"({', '.join(codes)})", "block lists refuse queries "
                                   "from public resolvers: use a local resolver"))
            else:
                out.append(Finding("dns", name, OK, "not listed"))
    return out


# --------------------------------------------------------------------------- ports
def port_findings(host: str, ports: Sequence[Tuple[int, str]],
                  timeout: float = 3.0) -> List[Finding]:
    out = []
    for port, what in ports:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                out.append(Finding("services", f"port {port} ({what})", OK, "listening"))
        except OSError as exc:
            out.append(Finding("services", f"port {port} ({what})", CRITICAL,
                               f"{host}:{port}: {exc.strerror or exc}",
                               "is the service running and listening on this address?"))
    return out


def expected_ports(imap: bool, pop3: bool, plaintext: bool) -> List[Tuple[int, str]]:
    ports = [(25, "SMTP"), (587, "submission")]
    if imap:
        ports.append((993, "IMAPS"))
        if plaintext:
            ports.append((143, "IMAP"))
    if pop3:
        ports.append((995, "POP3S"))
        if plaintext:
            ports.append((110, "POP3"))
    return ports
