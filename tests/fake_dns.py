"""A tiny authoritative DNS server on 127.0.0.1 for unit tests (dnspython, one thread, UDP).

Serves ``records`` (name -> type -> rdata texts); a name that is not there is NXDOMAIN, a name
without the asked type NODATA. Names in ``refuse`` answer REFUSED, in ``servfail`` SERVFAIL,
in ``silent`` nothing at all. ``queries`` counts what was asked (to prove nobody retried).
Like the lab's server (tests/e2e/lab_dns.py), cut down to what the unit tests need.
"""

from __future__ import annotations

import socket
import threading
from typing import Dict, List, Set, Tuple

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class FakeDNS:
    def __init__(self) -> None:
        self.records: Dict[str, Dict[str, List[str]]] = {}
        self.refuse: Set[str] = set()
        self.servfail: Set[str] = set()
        self.silent: Set[str] = set()
        self.queries: List[Tuple[str, str]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def spec(self) -> str:
        return f"127.0.0.1#{self.port}"

    def add(self, name: str, rtype: str, *rdatas: str) -> None:
        key = name.rstrip(".").lower() + "."
        self.records.setdefault(key, {}).setdefault(rtype, []).extend(rdatas)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def __enter__(self) -> FakeDNS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except (socket.timeout, OSError):
                continue
            try:
                query = dns.message.from_wire(data)
            except Exception:  # noqa: BLE001 - garbage is ignored
                continue
            q = query.question[0]
            name = q.name.to_text().lower()
            rtype = dns.rdatatype.to_text(q.rdtype)
            self.queries.append((name, rtype))
            if name in self.silent:
                continue
            resp = dns.message.make_response(query)
            resp.flags |= dns.flags.AA
            if name in self.refuse:
                resp.set_rcode(dns.rcode.REFUSED)
            elif name in self.servfail:
                resp.set_rcode(dns.rcode.SERVFAIL)
            elif name not in self.records:
                resp.set_rcode(dns.rcode.NXDOMAIN)
            elif rtype in self.records[name]:
                resp.answer.append(dns.rrset.from_text_list(
                    q.name, 60, dns.rdataclass.IN, q.rdtype, self.records[name][rtype]))
            self.sock.sendto(resp.to_wire(), peer)
