"""Two lab servers on one network: a direct veth link between their network namespaces.

Each lab server has its own netns with one veth to the host (10.201.N.0/24, no route out).
``link(a, b)`` adds a second veth pair whose ends live in the two servers' namespaces only:
``a`` gets 10.202.A.B and ``b`` 10.202.B.A (point-to-point /32 addresses with a peer route,
A and B being the servers' slots), so each pair of slots has its own addresses and nothing
touches the host's namespace or needs forwarding.  The link dies with either netns (no
cleanup needed; :func:`unlink` removes it earlier).
"""

from __future__ import annotations

from typing import Tuple

import lab

LINK_PREFIX = "10.202"


def link_addresses(a: lab.Server, b: lab.Server) -> Tuple[str, str]:
    """(a's address, b's address) on the link between ``a`` and ``b``."""
    return f"{LINK_PREFIX}.{a.n}.{b.n}", f"{LINK_PREFIX}.{b.n}.{a.n}"


def _ifname(other: lab.Server) -> str:
    return f"peer{other.n}"


def link(a: lab.Server, b: lab.Server) -> Tuple[str, str]:
    """Connect ``a`` and ``b`` directly; returns (a's address, b's address)."""
    if not (a.alive and b.alive):
        raise lab.LabError("both servers must be running")
    ia, ib = link_addresses(a, b)
    na, nb = _ifname(b), _ifname(a)
    for argv in (
        ["ip", "-n", a.netns, "link", "add", na, "type", "veth", "peer", "name", nb,
         "netns", b.netns],
        ["ip", "-n", a.netns, "addr", "add", ia, "peer", f"{ib}/32", "dev", na],
        ["ip", "-n", b.netns, "addr", "add", ib, "peer", f"{ia}/32", "dev", nb],
        ["ip", "-n", a.netns, "link", "set", na, "up"],
        ["ip", "-n", b.netns, "link", "set", nb, "up"],
    ):
        lab._sh(argv, timeout=20)
    return ia, ib


def unlink(a: lab.Server, b: lab.Server) -> None:
    lab._sh(["ip", "-n", a.netns, "link", "del", _ifname(b)], timeout=20, check=False)
