"""Compare the expected records with what DNS publishes (dnspython).

:func:`check_records` asks one resolver for each record and says, per record, ``ok``,
``missing``, ``different`` (with what was found), ``present`` (a record exists but mailwizard
does not know the right value), ``unknown`` (the resolver gave no usable answer) or
``unchecked``. It never waits long: servers that answer SERVFAIL or REFUSED are not asked again
(``retry_servfail`` off), every query has a short lifetime, and once the resolver times out the
records left are reported ``unknown`` without asking. Before the first query
:func:`unreachable` asks each server once over a connected socket: a server that is not
there (ICMP "port unreachable", which an unconnected socket never sees) is known at once
instead of after the whole time-out.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .record import FILL, PENDING, Record

OK, MISSING, DIFFERENT, PRESENT, UNKNOWN, UNCHECKED = (
    "ok", "missing", "different", "present", "unknown", "unchecked")
STATUSES = (OK, MISSING, DIFFERENT, PRESENT, UNKNOWN, UNCHECKED)
DEFAULT_TIMEOUT = 3.0
NAMESERVER_ENV = "MAILWIZARD_NAMESERVER"
"""Comma-separated resolvers to ask instead of the system's (``IP`` or ``IP#PORT``)."""

_PORT_RE = re.compile(r"[0-9]{1,5}", re.ASCII)


@dataclass(frozen=True)
class RecordCheck:
    record: Record
    status: str
    found: Tuple[str, ...] = ()
    """What DNS answered for the record's name and type (zone-file text)."""
    detail: str = ""

    @property
    def problem(self) -> bool:
        """Missing or different: something to publish."""
        return self.status in (MISSING, DIFFERENT)


class _Unreachable(Exception):
    """The resolver did not answer at all: ask no more."""


# --------------------------------------------------------------------------- resolver
def parse_nameserver(spec: str) -> Tuple[str, int]:
    """``IP`` or ``IP#PORT`` (BIND's notation) as (address, port).

    Raises:
        ValueError: with a message naming the problem.
    """
    host, sep, port_text = spec.partition("#")
    try:
        addr = str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError(f"{spec!r} is not an IP address (IP or IP#PORT)") from None
    port = 53
    if sep:
        if not _PORT_RE.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"{spec!r}: the port must be a number from 1 to 65535")
        port = int(port_text)
    return addr, port


def make_resolver(nameservers: Sequence[str] = (), timeout: float = DEFAULT_TIMEOUT,
                  resolv_conf: Optional[str] = None) -> Any:
    """A dnspython resolver that fails fast: ``nameservers`` (``IP`` or ``IP#PORT``) if
    given, else those of ``resolv_conf`` (default: the system's). None when no resolver
    is configured.

    Raises:
        ValueError: a bad ``nameservers`` entry.
    """
    import dns.exception
    import dns.nameserver
    import dns.resolver

    parsed = [parse_nameserver(s) for s in nameservers]
    try:
        if parsed:
            res = dns.resolver.Resolver(configure=False)
            res.nameservers = [dns.nameserver.Do53Nameserver(a, p) for a, p in parsed]
        elif resolv_conf is not None:
            res = dns.resolver.Resolver(filename=resolv_conf)
        else:
            res = dns.resolver.Resolver()
    except (dns.exception.DNSException, OSError):
        return None
    res.retry_servfail = False
    res.timeout = timeout
    res.lifetime = timeout
    res.cache = None
    return res


def _servers(resolver: Any) -> List[Tuple[str, int]]:
    """(address, port) of the plain-DNS servers ``resolver`` asks."""
    out: List[Tuple[str, int]] = []
    for ns in getattr(resolver, "nameservers", None) or []:
        if isinstance(ns, str):
            out.append((ns, int(getattr(resolver, "port", 53))))
        elif hasattr(ns, "address") and hasattr(ns, "port"):
            out.append((str(ns.address), int(ns.port)))
    return out


def unreachable(resolver: Any, timeout: Optional[float] = None) -> str:
    """'' when some server of ``resolver`` answers (any answer: REFUSED and SERVFAIL are
    answers too), else why none did. One query for the root zone's NS per server over a
    connected UDP socket, so a server that is not there fails at once (connection
    refused); ``timeout`` (default: the resolver's) bounds the wait for all of them."""
    import dns.exception
    import dns.message

    if resolver is None:
        return "no resolver is configured"
    servers = _servers(resolver)
    if not servers:
        return ""  # not a plain-DNS resolver: its queries will tell
    budget = float(timeout if timeout is not None else getattr(resolver, "timeout", 2.0))
    deadline = time.monotonic() + budget
    why = "timed out"
    for addr, port in servers:
        query = dns.message.make_query(".", "NS")
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((addr, port))
                sock.send(query.to_wire())
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return why
                    sock.settimeout(left)
                    wire = sock.recv(65535)
                    try:
                        reply = dns.message.from_wire(wire)
                    except dns.exception.DNSException:
                        continue  # not a DNS message: keep waiting for one
                    if reply.id == query.id:
                        return ""
        except socket.timeout:
            return why
        except OSError as exc:
            if exc.errno == errno.ECONNREFUSED:
                why = f"{addr}: connection refused"
            else:
                why = f"{addr}: {exc.strerror or exc}"
    return why


# --------------------------------------------------------------------------- queries
def _query(resolver: Any, name: str, rtype: str) -> Tuple[Optional[List[Any]], str]:
    """(rdatas, '') or (None, why there are none): NXDOMAIN and no data are answers;
    SERVFAIL/REFUSED give ``None, 'error: ...'``; a time-out raises :class:`_Unreachable`."""
    import dns.exception
    import dns.resolver

    try:
        answer = resolver.resolve(name, rtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        return None, "the name does not exist (NXDOMAIN)"
    except dns.resolver.NoNameservers as exc:
        return None, f"error: the resolver could not answer ({_short(exc)})"
    except dns.exception.Timeout as exc:
        raise _Unreachable(_short(exc)) from exc
    except (dns.exception.DNSException, OSError, ValueError) as exc:
        return None, f"error: {_short(exc)}"
    if answer.rrset is None:
        return None, f"no {rtype} record at this name"
    return list(answer.rrset), ""


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def txt_text(rdata: Any) -> str:
    """A TXT rdata's strings joined (as receivers read it)."""
    return b"".join(rdata.strings).decode("ascii", errors="replace")


# --------------------------------------------------------------------------- comparison
def _words(text: str) -> str:
    return " ".join(text.split()).lower()


def _tags(text: str) -> Dict[str, str]:
    """A tag=value list (DMARC, DKIM, MTA-STS, TLS-RPT) as a dict; keys lower case,
    spaces around values dropped."""
    out: Dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            out[key.strip().lower()] = "".join(value.split())
    return out


def _version_tag(text: str) -> str:
    return text.split(";", 1)[0].replace(" ", "").lower()


def _compare_txt(r: Record, found: List[str]) -> Tuple[str, List[str], str]:
    """(status, the records that matter, detail) for a TXT record."""
    want = r.value
    if r.purpose == "SPF":
        spf = [t for t in found if _words(t).startswith("v=spf1")]
        if not spf:
            return MISSING, [], "no SPF record (v=spf1) at this name"
        if len(spf) > 1:
            return DIFFERENT, spf, "more than one SPF record: receivers treat that as an " \
                                   "error; keep one"
        return (OK if _words(spf[0]) == _words(want) else DIFFERENT), spf, ""
    if r.purpose == "DKIM":
        ours = None if r.state == PENDING else _tags(want).get("p")
        keys = [t for t in found if "p" in _tags(t)]
        if not keys:
            return MISSING, [], "no DKIM key (p=) at this name"
        if ours is None:  # the key is made at apply: anything there is worth showing
            return PRESENT, keys, "a key is published; this server's key is not made yet"
        same = any(_tags(t).get("p") == ours for t in keys)
        return (OK if same else DIFFERENT), keys, "" if same else "another key is published"
    version = _version_tag(want)
    same_kind = [t for t in found if _version_tag(t) == version]
    if not same_kind:
        return MISSING, [], f"no {version} record at this name"
    ok = any(_tags(t) == _tags(want) for t in same_kind)
    return (OK if ok else DIFFERENT), same_kind, ""


def _compare(r: Record, rdatas: List[Any]) -> Tuple[str, Tuple[str, ...], str]:
    if r.type == "TXT":
        texts = [txt_text(x) for x in rdatas]
        status, shown, detail = _compare_txt(r, texts)
        return status, tuple(shown or texts), detail
    found = tuple(x.to_text() for x in rdatas)
    if r.state == FILL:
        return PRESENT, found, "mailwizard does not know the right value: compare yourself"
    if r.type == "MX":
        want_host = r.value.split()[-1].lower()
        ok = any(x.exchange.to_text().lower() == want_host for x in rdatas)
        return (OK if ok else DIFFERENT), found, ""
    if r.type in ("A", "AAAA"):
        want_ip = ipaddress.ip_address(r.value)
        ok = any(ipaddress.ip_address(x.address) == want_ip for x in rdatas)
        return (OK if ok else DIFFERENT), found, ""
    normal = {_words(x) for x in found}
    return (OK if _words(r.value) in normal else DIFFERENT), found, ""


def check_record(r: Record, resolver: Any) -> RecordCheck:
    """One record against DNS (raises :class:`_Unreachable` when the resolver is silent)."""
    if r.name.startswith("<"):
        return RecordCheck(r, UNCHECKED, (), "the address is not known")
    rdatas, why = _query(resolver, r.name, r.type)
    if rdatas is None and r.type == "CNAME" and not why.startswith("error"):
        alt, _ = _query(resolver, r.name, "A")  # an A record serves the name as well
        if alt:
            return RecordCheck(r, PRESENT, tuple(x.to_text() for x in alt),
                               "an address record instead of the CNAME: fine if that host "
                               "serves the policy file")
    if rdatas is None:
        return RecordCheck(r, UNKNOWN if why.startswith("error") else MISSING, (), why)
    status, found, detail = _compare(r, rdatas)
    return RecordCheck(r, status, found, detail)


def check_records(records: Sequence[Record], resolver: Any,
                  on_result: Optional[Callable[[RecordCheck], None]] = None
                  ) -> List[RecordCheck]:
    """Check each of ``records`` with ``resolver`` (see :func:`make_resolver`; None: every
    record ``unknown``). ``on_result`` is called after each record."""
    out: List[RecordCheck] = []
    silent = "" if resolver is not None else "no resolver is configured"
    if not silent and records:
        down = unreachable(resolver)
        silent = f"the resolver did not answer ({down})" if down else ""
    for r in records:
        if silent:
            result = RecordCheck(r, UNKNOWN, (), f"not asked: {silent}")
        else:
            try:
                result = check_record(r, resolver)
            except _Unreachable as exc:
                silent = f"the resolver did not answer ({exc})"
                result = RecordCheck(r, UNKNOWN, (), silent)
        out.append(result)
        if on_result is not None:
            on_result(result)
    return out


@dataclass
class Tally:
    counts: Dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, results: Sequence[RecordCheck]) -> Tally:
        t = cls()
        for r in results:
            t.counts[r.status] = t.counts.get(r.status, 0) + 1
        return t

    def text(self) -> str:
        return ", ".join(f"{self.counts[s]} {s}" for s in STATUSES if self.counts.get(s))


def resolve_addresses(resolver: Any, name: str) -> Tuple[Optional[List[str]], str]:
    """The A and AAAA addresses of ``name`` (``[]``: it has none), or None with the reason
    when the resolver gave no usable answer."""
    if resolver is None:
        return None, "no resolver is configured"
    down = unreachable(resolver)
    if down:
        return None, f"the resolver did not answer ({down})"
    out: List[str] = []
    for rtype in ("A", "AAAA"):
        try:
            rdatas, why = _query(resolver, fqdn_of(name), rtype)
        except _Unreachable as exc:
            return None, f"the resolver did not answer ({exc})"
        if rdatas is None and why.startswith("error"):
            return None, why[len("error: "):]
        out += [str(ipaddress.ip_address(x.address)) for x in rdatas or []]
    return out, ""


def fqdn_of(name: str) -> str:
    return name.rstrip(".") + "."
