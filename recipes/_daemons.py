"""Facts about the running daemons: is postfix/dovecot running, who listens on a port, and
how to control a daemon that only has a pid file. One probe per fact; nothing here changes the
target.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Dict, List, Optional, Sequence

from wizard.changes import View
from wizard.executor import Executor
from wizard.facts import systemd_running

__all__ = ["DOVECOT_PIDFILE", "dovecot_running", "listeners", "only_loopback",
           "pidfile_direct", "postfix_running", "postfix_status", "systemd_running"]

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
        return ex.run(["systemctl", "is-active", "--quiet", "dovecot"], quiet=True,
                      timeout=60).ok
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
