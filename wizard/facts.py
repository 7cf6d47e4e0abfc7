"""Facts about the target that the core and the recipes both ask: one probe per fact.

Each function only reads (files under the target root, or a query command run through the
executor) and changes nothing. Recipes keep their subject facts in ``recipes/_*.py``; the ones
here are needed by the core too (which must not import recipes).
"""

from __future__ import annotations

import ipaddress
from typing import List, Sequence, Set

from .executor import Executor


def systemd_running(ex: Executor) -> bool:
    """Whether systemd is the init system running on the target (``/run/systemd/system``)."""
    return ex.exists("/run/systemd/system")


def installed_packages(ex: Executor, manager: str, names: Sequence[str]) -> Set[str]:
    """The subset of ``names`` installed on the target, in one query of the package database
    (``dpkg-query`` when ``manager`` is ``apt``, else ``rpm``). Architecture qualifiers
    (``libc6:amd64``) are dropped; a package dpkg knows but has not fully installed (state
    other than ``ii``) does not count."""
    if not names:
        return set()
    if manager == "apt":
        return _dpkg_installed(ex, names)
    res = ex.run(["rpm", "-q", "--qf", "%{NAME}\\n", *names], quiet=True, timeout=120)
    return {line.strip() for line in res.stdout.splitlines() if line.strip() in names}


def all_installed_packages(ex: Executor) -> Set[str]:
    """Every package dpkg has fully installed on the target (``ii``), architecture
    qualifiers dropped (apt targets only)."""
    return _dpkg_installed(ex, ())


def _dpkg_installed(ex: Executor, names: Sequence[str]) -> Set[str]:
    """Packages dpkg has fully installed (``ii``) among ``names`` (all when empty),
    architecture qualifiers dropped."""
    res = ex.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\\n", *names],
                 quiet=True, timeout=120)
    out = set()
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].startswith("ii"):
            out.add(parts[0].split(":")[0])
    return out


def unit_active(ex: Executor, unit: str) -> bool:
    """Whether systemd reports ``unit`` active (``systemctl is-active --quiet``); only
    meaningful when :func:`systemd_running`."""
    return ex.run(["systemctl", "is-active", "--quiet", unit], quiet=True, timeout=60).ok


def interface_addresses(ex: Executor) -> List[str]:
    """The addresses on the target's network interfaces (``ip -o addr show``), loopback and
    link-local ones left out; [] when ``ip`` is missing or says nothing (a dry run)."""
    if not ex.which("ip"):
        return []
    res = ex.run(["ip", "-o", "addr", "show"], quiet=True, timeout=30)
    out: List[str] = []
    for line in res.stdout.splitlines() if res.ok else []:
        words = line.split()
        for kind, value in zip(words, words[1:]):
            if kind not in ("inet", "inet6"):
                continue
            try:
                addr = ipaddress.ip_address(value.split("/", 1)[0])
            except ValueError:
                continue
            if not (addr.is_loopback or addr.is_link_local) and str(addr) not in out:
                out.append(str(addr))
    return out
