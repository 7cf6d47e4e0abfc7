"""Facts about the running daemons: is postfix/dovecot running, who listens on a port, and
how to control a daemon that only has a pid file. One probe per fact; nothing here changes the
target.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Dict, List, Optional, Sequence

from wizard.changes import View
from wizard.executor import Executor
from wizard.facts import systemd_running, unit_active

__all__ = ["DOVECOT_PIDFILE", "NotProbed", "dovecot_running", "listeners", "only_loopback",
           "parse_ss", "pidfile_direct", "port_programs", "postfix_running", "postfix_status",
           "systemd_running"]

DOVECOT_PIDFILE = "/run/dovecot/master.pid"


# --------------------------------------------------------------------------- running daemons
def postfix_status(ex: Executor) -> Optional[bool]:
    """Whether Postfix's master process runs (``postfix status`` exits 0); None when postfix
    is not installed on the target, False in a dry run (a probe there answers "no")."""
    if not ex.which("postfix"):
        return None
    if ex.dry_run:
        return False
    return ex.run(["postfix", "status"], quiet=True, timeout=60).ok


def postfix_running(ex: Executor) -> bool:
    """:func:`postfix_status` as a yes/no (not installed counts as not running)."""
    return postfix_status(ex) is True


def dovecot_running(ex: Executor) -> bool:
    """systemd's word when it runs, else Dovecot's master pid file checked in /proc (never
    ``kill -0``: procps is missing on minimal images). False in a dry run or when dovecot is
    not installed."""
    if ex.dry_run or not ex.which("dovecot"):
        return False
    if systemd_running(ex):
        return unit_active(ex, "dovecot")
    return ex.daemon_pid(DOVECOT_PIDFILE, ("dovecot",)) is not None


def pidfile_direct(start: List[List[str]], pidfile: str) -> Dict[str, List[List[str]]]:
    """Direct control (no systemd, no init script) of a daemon that writes ``pidfile``.

    Running and stopping are answered from the pid file and /proc by the executor
    (:meth:`~wizard.executor.Executor.daemon_pid`), under the daemon's name (the last start
    command's program): ``"pidfile": [[path, name]]``. No shell ``kill``: a stale pid file
    must never make mailwizard signal the program that got the pid since."""
    name = os.path.basename(start[-1][0])
    return {"start": start, "pidfile": [[pidfile, name]]}


# --------------------------------------------------------------------------- listeners
def _proc_addr(hexaddr: str) -> Optional[ipaddress._BaseAddress]:
    """Decode a /proc/net/tcp{,6} address (host byte order per 32-bit word, little endian)."""
    try:
        raw = bytes.fromhex(hexaddr)
    except ValueError:
        return None
    if len(raw) not in (4, 16):
        return None
    words = [raw[i:i + 4][::-1] for i in range(0, len(raw), 4)]
    return ipaddress.ip_address(b"".join(words))


def listeners(view: View, port: int) -> Optional[List[str]]:
    """Addresses with a TCP socket listening on ``port`` (None when /proc is not readable)."""
    found: List[str] = []
    seen = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        text = view.executor.read_text(table)
        if text is None:
            continue
        seen = True
        for line in text.splitlines()[1:]:
            cols = line.split()
            if len(cols) < 4 or cols[3] != "0A":  # 0A = LISTEN
                continue
            addr, _, hexport = cols[1].partition(":")
            try:
                if int(hexport, 16) != port:
                    continue
            except ValueError:
                continue
            ip = _proc_addr(addr)
            if ip is not None:
                found.append(str(ip))
    return found if seen else None


def only_loopback(addresses: Sequence[str]) -> bool:
    """Whether every address is a loopback one (IPv4-mapped loopback included); False when
    there is none."""
    def loop(a: str) -> bool:
        ip = ipaddress.ip_address(a)
        mapped = getattr(ip, "ipv4_mapped", None)
        return ip.is_loopback or (mapped is not None and mapped.is_loopback)

    return bool(addresses) and all(loop(a) for a in addresses)


class NotProbed(Exception):
    """A fact that could not be read on this target: ``detail`` says why, ``hint`` what would
    make it readable."""

    def __init__(self, detail: str, hint: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.hint = hint


def parse_ss(output: str) -> Dict[int, List[str]]:
    """``ss -ltnp`` output -> {port: [process names]} for the listening TCP sockets."""
    out: Dict[int, List[str]] = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[0] != "LISTEN":
            continue
        m = re.search(r":(\d+)\Z", fields[3])
        if not m:
            continue
        names = re.findall(r'\(\("([^"]+)"', line) + re.findall(r'\),\("([^"]+)"', line)
        out.setdefault(int(m.group(1)), []).extend(names or ["?"])
    return out


def port_programs(ex: Executor) -> Dict[int, List[str]]:
    """Which programs listen on which TCP port ({port: [process names]}, from ``ss -ltnp``;
    :func:`listeners` gives the addresses instead, without a tool). Raises
    :class:`NotProbed` when ``ss`` is missing or fails."""
    if not ex.which("ss"):
        raise NotProbed("ss is not installed: not checked",
                        "install iproute2 (Debian) or iproute (EL) to check")
    res = ex.run(["ss", "-ltnp"], quiet=True, timeout=20)
    if not res.ok:
        raise NotProbed(f"ss failed: {res.output[-200:]}")
    return parse_ss(res.stdout)
