"""Which public addresses the A/AAAA records name: the answer, else the server's own."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, List, Sequence, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from ..answers import Answers


def is_public(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_global
    except ValueError:
        return False


def public_addresses(answers: Answers, interface: Sequence[str]) -> Tuple[List[str], str]:
    """(addresses, where they come from): ``dns.public_addresses`` when answered, else the
    global ones among ``interface`` (the target's interface addresses). An empty list says
    nobody knows: the records then show a placeholder."""
    if answers.dns.public_addresses:
        return list(answers.dns.public_addresses), "the answers (dns.public_addresses)"
    found = [a for a in interface if is_public(a)]
    if found:
        return found, "this server's network interfaces"
    note = ("no public address is known: this server's interfaces hold only private ones "
            "(behind NAT?) or none could be read")
    return [], note + "; give it as dns.public_addresses in the answers"
