"""The lab's own authoritative DNS: a small server written with dnspython, for lab servers.

The lab is offline, so a mail server in it has no resolver: every DNS-based control (RBLs,
SPF, unknown sender domains, PTR checks) either fails or is never exercised.  ``LabDNS``
serves test zones to lab servers:

* it listens on UDP and TCP port 53 at ``10.201.N.53``, an extra address on the host end of
  server N's veth.  The server reaches it on its own link, as a LAN resolver; nothing else
  routes there.  The sockets are served by one thread of this process (no daemon, nothing
  to reap: they close with :meth:`LabDNS.close` or when the process dies);
* :meth:`LabDNS.attach` adds that address, publishes the server's records (below) and points
  the server's ``/etc/resolv.conf`` at it (before Postfix starts: Debian's start script copies
  it into the chroot);
* answers carry the AA flag; a name that is not published is NXDOMAIN (the lab is the whole
  DNS: there is no "outside"), a published name without the asked type is NODATA, both with
  the SOA of the closest zone in the authority section; ``*.`` wildcards are served.

Records for server N (``srv.ip`` = 10.201.N.2, clients ``srv.host_ip`` = .1 and
``srv.host_ip2`` = .3):

=================================  ===========================================================
``mail.example.test``              A srv.ip; PTR of srv.ip -> ``mail.example.test``
``example.test``, ``example.net``  MX 10 ``mail.example.test``; example.test TXT
                                   ``v=spf1 mx -all``
``client.example.org``             A srv.host_ip, and its PTR (forward-confirmed); srv.host_ip2
                                   has no PTR
``pass.lab.test``                  A + MX, TXT ``v=spf1 ip4:<every attached server's .1> -all``
``fail.lab.test``                  A + MX, TXT ``v=spf1 ip4:192.0.2.0/24 -all`` (no lab client)
``rbl.lab.test``                   an RBL zone listing srv.host_ip2: A 127.0.0.2 and a TXT
``refused.lab.test``               ``*`` A 127.255.255.254: a list that refuses the querier
                                   (what Spamhaus answers to queries from public resolvers)
``nospf.lab.test``                 A + MX, no TXT (SPF result "none")
``nosuch.lab.test``                not published: NXDOMAIN
=================================  ===========================================================

The lab has no IPv6 outside loopback, so there are no AAAA records (NODATA).

Usable without pytest::

    with lab.Server(lab.ensure_image()) as srv, LabDNS() as dns:
        dns.attach(srv)
        ...
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.reversename
import dns.rrset
import lab

ZONES = ("example.test", "example.net", "example.org", "lab.test", "rbl.lab.test",
         "refused.lab.test", "in-addr.arpa", ".")
RBL_ZONE = "rbl.lab.test"
REFUSED_ZONE = "refused.lab.test"
SPF_PASS = "pass.lab.test"
SPF_FAIL = "fail.lab.test"
UNKNOWN = "nosuch.lab.test"
NO_SPF = "nospf.lab.test"          # A + MX, no SPF record (SPF result: none)
CLIENT_NAME = "client.example.org"
TTL = 60
DNS_HOST_OCTET = 53             # the resolver of server N is 10.201.N.53

Records = Dict[dns.name.Name, Dict[int, dns.rdataset.Rdataset]]


def _name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def rbl_query_name(ip: str, zone: str = RBL_ZONE) -> str:
    """``2.1.201.10.rbl.lab.test`` for 10.201.1.2: the name reject_rbl_client looks up."""
    return ".".join(reversed(ip.split("."))) + "." + zone


class LabDNS:
    """An authoritative DNS server for lab servers (see the module doc)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: Records = {}
        self._sel = selectors.DefaultSelector()
        self._socks: Dict[str, List[socket.socket]] = {}      # server netns -> its sockets
        self._attached: Dict[str, Tuple[lab.Server, str]] = {}  # netns -> (server, address)
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._serve, name="lab-dns", daemon=True)
        self._thread.start()
        self.queries: List[Tuple[str, str, str]] = []      # (client, qname, qtype), for tests
        for zone in ZONES:
            self.add(zone, "SOA", f"ns.lab.test. hostmaster.lab.test. 1 3600 600 86400 {TTL}")
        self.add(SPF_FAIL, "A", "192.0.2.20")
        self.add(SPF_FAIL, "MX", f"10 mx.{SPF_FAIL}.")
        self.add(f"mx.{SPF_FAIL}", "A", "192.0.2.20")
        self.add(SPF_FAIL, "TXT", '"v=spf1 ip4:192.0.2.0/24 -all"')
        self.add(SPF_PASS, "A", "192.0.2.10")
        self.add(SPF_PASS, "MX", f"10 mx.{SPF_PASS}.")
        self.add(f"mx.{SPF_PASS}", "A", "192.0.2.10")
        self.add(NO_SPF, "A", "192.0.2.30")
        self.add(NO_SPF, "MX", f"10 {NO_SPF}.")
        self.add(f"*.{REFUSED_ZONE}", "A", "127.255.255.254")

    # ------------------------------------------------------------------ records
    def add(self, name: str, rtype: str, *rdatas: str, replace: bool = False) -> None:
        """Publish ``name`` ``rtype`` ``rdatas`` (zone file syntax, names absolute or
        relative to the root).  ``replace``: drop the name's earlier records of that type."""
        n = _name(name)
        rdt = dns.rdatatype.from_text(rtype)
        new = dns.rdataset.from_text(dns.rdataclass.IN, rdt, TTL, *rdatas)
        with self._lock:
            node = self._records.setdefault(n, {})
            if rdt in node and not replace:
                node[rdt].union_update(new)
            else:
                node[rdt] = new

    def add_txt(self, name: str, text: str, replace: bool = True) -> None:
        """Publish a TXT record of any length: ``text`` split into strings of at most 255
        characters (a DKIM key of 2048 bits needs two), as DNS providers do."""
        if '"' in text or "\\" in text:
            raise ValueError(f"quote or backslash in TXT text: {text!r}")
        parts = [text[i:i + 255] for i in range(0, len(text), 255)] or [""]
        self.add(name, "TXT", " ".join(f'"{p}"' for p in parts), replace=replace)

    def txt(self, name: str) -> List[str]:
        """The TXT records published at ``name``, each with its strings joined."""
        with self._lock:
            rds = self._records.get(_name(name), {}).get(dns.rdatatype.TXT)
            return [b"".join(r.strings).decode() for r in rds] if rds else []

    def remove(self, name: str, rtype: Optional[str] = None) -> None:
        n = _name(name)
        with self._lock:
            if rtype is None:
                self._records.pop(n, None)
            else:
                self._records.get(n, {}).pop(dns.rdatatype.from_text(rtype), None)

    def add_ptr(self, ip: str, name: str) -> None:
        self.add(dns.reversename.from_address(ip).to_text(), "PTR", name.rstrip(".") + ".",
                 replace=True)

    def list_in_rbl(self, ip: str, zone: str = RBL_ZONE, code: str = "127.0.0.2") -> None:
        self.add(rbl_query_name(ip, zone), "A", code, replace=True)
        self.add(rbl_query_name(ip, zone), "TXT", f'"{ip} is listed in the lab block list"',
                 replace=True)

    # ------------------------------------------------------------------ servers
    def address_for(self, srv: lab.Server) -> str:
        return f"{lab.NET_PREFIX}.{srv.n}.{DNS_HOST_OCTET}"

    def attach(self, srv: lab.Server, resolv: bool = True) -> str:
        """Serve ``srv``: listen on 10.201.N.53 (added to the host end of its veth), publish
        its records, and (``resolv``) write ``nameserver 10.201.N.53`` to its resolv.conf.
        Returns the address."""
        addr = self.address_for(srv)
        t0 = time.monotonic()
        lab._sh(["ip", "addr", "replace", f"{addr}/24", "dev", srv.veth], timeout=20)
        socks = []
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            for s in (udp, tcp):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                # the address may still be "tentative" for a moment: bind() retries briefly
                for attempt in range(50):
                    try:
                        s.bind((addr, 53))
                        break
                    except OSError:
                        if attempt == 49:
                            raise
                        time.sleep(0.02)
                s.setblocking(False)
                socks.append(s)
            tcp.listen(16)
        except BaseException:
            udp.close()
            tcp.close()
            raise
        with self._lock:
            self._socks[srv.netns] = socks
            self._attached[srv.netns] = (srv, addr)
        self._sel.register(udp, selectors.EVENT_READ, "udp")
        self._sel.register(tcp, selectors.EVENT_READ, "tcp")
        self._wake_w.send(b"x")
        self._publish_server(srv)
        if resolv:
            srv.path("/etc/resolv.conf").write_text(
                f"# the lab's DNS (tests/e2e/lab_dns.py)\nnameserver {addr}\n"
                "options timeout:2 attempts:2\n")
        lab._record("lab_dns_attach", time.monotonic() - t0)
        return addr

    def _publish_server(self, srv: lab.Server) -> None:
        host = lab.HOSTNAME
        self.add(host, "A", srv.ip, replace=True)
        self.add_ptr(srv.ip, host)
        for domain in ("example.test", "example.net"):
            self.add(domain, "MX", f"10 {host}.", replace=True)
        self.add("example.test", "TXT", '"v=spf1 mx -all"', replace=True)
        self.add_ptr(srv.host_ip, CLIENT_NAME)
        self.list_in_rbl(srv.host_ip2)
        self._refresh_shared()

    def _refresh_shared(self) -> None:
        """Records that name every attached server's first client address."""
        with self._lock:
            clients = sorted(s.host_ip for s, _ in self._attached.values())
        if clients:
            self.add(CLIENT_NAME, "A", *clients, replace=True)
            spf = " ".join(f"ip4:{ip}" for ip in clients)
            self.add(SPF_PASS, "TXT", f'"v=spf1 {spf} -all"', replace=True)
        else:
            self.remove(CLIENT_NAME, "A")
            self.remove(SPF_PASS, "TXT")

    def detach(self, srv: lab.Server) -> None:
        with self._lock:
            socks = self._socks.pop(srv.netns, [])
            entry = self._attached.pop(srv.netns, None)
        for s in socks:
            try:
                self._sel.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
        if entry is not None:
            lab._sh(["ip", "addr", "del", f"{entry[1]}/24", "dev", srv.veth], timeout=20,
                    check=False)
            for ip in (srv.ip, srv.host_ip):
                self.remove(dns.reversename.from_address(ip).to_text())
            self.remove(rbl_query_name(srv.host_ip2))
            self._refresh_shared()

    def close(self) -> None:
        for netns in list(self._socks):
            srv, _ = self._attached[netns]
            self.detach(srv)
        self._stop.set()
        self._wake_w.send(b"x")
        self._thread.join(timeout=10)
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> LabDNS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ answering
    def _zone_of(self, qname: dns.name.Name) -> dns.name.Name:
        best = dns.name.root
        for z in ZONES:
            zn = _name(z)
            if qname.is_subdomain(zn) and len(zn) > len(best):
                best = zn
        return best

    def _exists(self, qname: dns.name.Name) -> bool:
        """Published, or an empty non-terminal above something published."""
        return any(n == qname or n.is_subdomain(qname) for n in self._records)

    def _wildcard(self, qname: dns.name.Name) -> Optional[Dict[int, dns.rdataset.Rdataset]]:
        """The records of the closest ``*.<ancestor>`` of ``qname``, if any."""
        for i in range(1, len(qname.labels)):
            node = self._records.get(dns.name.Name((b"*",) + qname.labels[i:]))
            if node is not None:
                return node
            if self._exists(dns.name.Name(qname.labels[i:])):
                return None      # a closer encloser exists without a wildcard
        return None

    def answer(self, wire: bytes, client: str = "?") -> Optional[bytes]:
        """The response to one query in wire format (None for garbage)."""
        try:
            q = dns.message.from_wire(wire)
        except Exception:  # noqa: BLE001 - a malformed packet gets no answer
            return None
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        r.flags &= ~dns.flags.RA
        if q.opcode() != 0 or len(q.question) != 1:
            r.set_rcode(dns.rcode.NOTIMP if q.opcode() != 0 else dns.rcode.FORMERR)
            return r.to_wire()
        rrset = q.question[0]
        qname, qtype = rrset.name, rrset.rdtype
        self.queries.append((client, qname.to_text(), dns.rdatatype.to_text(qtype)))
        with self._lock:
            node = self._records.get(qname)
            if node is None and not self._exists(qname):
                node = self._wildcard(qname)
            found = node is not None or self._exists(qname)
            rds = (node or {}).get(qtype) if qtype != dns.rdatatype.ANY else None
            if qtype == dns.rdatatype.ANY and node:
                for rdt, rds_any in node.items():
                    r.answer.append(self._rrset(qname, rdt, rds_any))
            elif rds is not None:
                r.answer.append(self._rrset(qname, qtype, rds))
            if not r.answer:
                zone = self._zone_of(qname)
                soa = self._records.get(zone, {}).get(dns.rdatatype.SOA)
                if soa is not None:
                    r.authority.append(self._rrset(zone, dns.rdatatype.SOA, soa))
                if not found:
                    r.set_rcode(dns.rcode.NXDOMAIN)
        return r.to_wire(max_size=65535)

    @staticmethod
    def _rrset(name: dns.name.Name, rdtype: int, rds: dns.rdataset.Rdataset
               ) -> dns.rrset.RRset:
        out = dns.rrset.RRset(name, dns.rdataclass.IN, dns.rdatatype.RdataType.make(rdtype))
        out.update(rds)
        return out

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                events = self._sel.select(timeout=1.0)
            except (OSError, ValueError):
                if self._stop.is_set():
                    return
                time.sleep(0.05)
                continue
            for key, _ in events:
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    if key.data == "wake":
                        sock.recv(64)
                    elif key.data == "udp":
                        self._udp(sock)
                    elif key.data == "tcp":
                        conn, peer = sock.accept()
                        threading.Thread(target=self._tcp, args=(conn, peer[0]),
                                         name="lab-dns-tcp", daemon=True).start()
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    continue         # a socket closed by detach() meanwhile

    def _udp(self, sock: socket.socket) -> None:
        while True:
            try:
                data, peer = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            out = self.answer(data, peer[0])
            if out is None:
                continue
            if len(out) > 512:
                # no EDNS negotiation here: a long answer is truncated, the client asks again
                # over TCP
                msg = dns.message.from_wire(out)
                msg.answer, msg.authority, msg.additional = [], [], []
                msg.flags |= dns.flags.TC
                out = msg.to_wire()
            sock.sendto(out, peer)

    def _tcp(self, conn: socket.socket, peer: str) -> None:
        conn.settimeout(5)
        try:
            while True:
                head = _recv_exact(conn, 2)
                if head is None:
                    return
                (length,) = struct.unpack("!H", head)
                data = _recv_exact(conn, length)
                if data is None:
                    return
                out = self.answer(data, peer)
                if out is None:
                    return
                conn.sendall(struct.pack("!H", len(out)) + out)
        except OSError:
            return
        finally:
            conn.close()


def _recv_exact(conn: socket.socket, n: int) -> Optional[bytes]:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def resolver_probe(srv: lab.Server, queries: Sequence[Tuple[str, str]],
                   python: str = "/opt/mw/bin/python", tcp: bool = False
                   ) -> Dict[Tuple[str, str], str]:
    """Resolve ``(name, type)`` pairs inside ``srv`` with dnspython and its resolv.conf
    (needs mailwizard installed: dnspython is its dependency).  Returns
    (name, type) -> ``"NXDOMAIN"``, ``"NODATA"`` or the answers, sorted and joined by ``|``."""
    script = (
        "import sys, dns.resolver\n"
        "res = dns.resolver.Resolver()\n"
        "res.lifetime = 5\n"
        "for line in sys.stdin.read().split(chr(10)):\n"
        "    if not line: continue\n"
        "    name, rtype = line.split()\n"
        "    try:\n"
        f"        a = res.resolve(name, rtype, tcp={tcp!r}, search=False)\n"
        "        out = '|'.join(sorted(r.to_text() for r in a))\n"
        "        aa = 'AA' if a.response.flags & 0x400 else 'noAA'\n"
        "    except dns.resolver.NXDOMAIN: out, aa = 'NXDOMAIN', ''\n"
        "    except dns.resolver.NoAnswer: out, aa = 'NODATA', ''\n"
        "    print(name, rtype, aa, out, sep=chr(9))\n")
    r = srv.run([python, "-c", script], input="\n".join(f"{n} {t}" for n, t in queries) + "\n",
                timeout=60)
    res = {}
    for line in r.stdout.splitlines():
        name, rtype, aa, out = line.split("\t")
        res[(name, rtype)] = out + ("" if aa in ("", "AA") else " (not authoritative)")
    return res
