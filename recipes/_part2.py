"""Private helpers shared by the steps 7-13 (restrictions ... firewall).

Nothing here acts on the target: readers take a :class:`~wizard.changes.View` or an executor and
only read (the change types these steps use live in :mod:`wizard.changes`).
"""

from __future__ import annotations

import ipaddress
import os
from typing import Dict, Iterable, List, Optional, Sequence

from wizard import confedit
from wizard.changes import View
from wizard.executor import Executor
from wizard.platforms import Platform

MAIN_CF = "/etc/postfix/main.cf"
MASTER_CF = "/etc/postfix/master.cf"
DOVECOT_DIR = "/etc/dovecot"
DOVECOT_CONFD = "/etc/dovecot/conf.d"


def main_cf(view: View) -> Dict[str, str]:
    """The active main.cf parameters as the view sees them (after earlier planned steps)."""
    return confedit.read_main_cf(view.read_text(MAIN_CF))


def cache_db_type(db: str) -> str:
    """Map type for Postfix caches (TLS session cache): btree, or lmdb where there is no BDB."""
    return "lmdb" if db == "lmdb" else "btree"


def joined(items: Iterable[str]) -> str:
    return ", ".join(items)


# --------------------------------------------------------------------------- services
def systemd_running(ex: Executor) -> bool:
    return ex.exists("/run/systemd/system")


def postfix_running(ex: Executor) -> bool:
    """``postfix status`` (exit 0 when the master process runs); False in a dry run."""
    if ex.dry_run or not ex.which("postfix"):
        return False
    return ex.run(["postfix", "status"], quiet=True, timeout=60).ok


DOVECOT_PIDFILE = "/run/dovecot/master.pid"


def dovecot_running(ex: Executor) -> bool:
    """systemd's word when it runs, else Dovecot's master pid file checked in /proc (never
    ``kill -0``: procps is missing on minimal images)."""
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


# --------------------------------------------------------------------------- /proc/net/tcp
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
    def loop(a: str) -> bool:
        ip = ipaddress.ip_address(a)
        mapped = getattr(ip, "ipv4_mapped", None)
        return ip.is_loopback or (mapped is not None and mapped.is_loopback)

    return bool(addresses) and all(loop(a) for a in addresses)


# --------------------------------------------------------------------------- PAM
PAM_MARK = "# mailwizard: only members of the group below may authenticate"


def pam_default(platform: Platform, service: str) -> str:
    """What the PAM file for ``service`` holds when the package ships none."""
    if platform.is_debian:
        return ("#%PAM-1.0\n@include common-auth\n@include common-account\n"
                "@include common-session\n")
    if service == "dovecot":
        return ("#%PAM-1.0\nauth       required     pam_nologin.so\n"
                "auth       include      password-auth\naccount    include      password-auth\n"
                "session    include      password-auth\n")
    return ("#%PAM-1.0\nauth       include      password-auth\n"
            "account    include      password-auth\n")


def pam_with_group(text: Optional[str], platform: Platform, service: str, group: str) -> str:
    """The PAM file with a ``pam_succeed_if ... ingroup`` line before its first auth rule.

    An older mailwizard line (another group) is replaced; everything else is kept.
    """
    rule = f"auth       required     pam_succeed_if.so quiet_success user ingroup {group}\n"
    lines = (text if text is not None else pam_default(platform, service)).splitlines(True)
    out: List[str] = []
    skip_next = False
    for line in lines:
        if skip_next:
            skip_next = False
            if "pam_succeed_if.so" in line:
                continue
        if line.rstrip("\n") == PAM_MARK:
            skip_next = True
            continue
        out.append(line)
    pos = len(out)
    for i, line in enumerate(out):
        s = line.strip()
        if s.startswith("auth") or s.startswith("@include") or s.startswith("-auth"):
            pos = i
            break
    out[pos:pos] = [PAM_MARK + "\n", rule]
    if out and not out[-1].endswith("\n"):
        out[-1] += "\n"
    return "".join(out)
