"""The guides the steps follow, named: a step cites "Guide 000, part 1 section 3.1"; a reader
who has not seen the guides needs to know which text that is.

The names are ours (short descriptions), not the guides' own titles.
"""

from __future__ import annotations

import re
from typing import Dict

GUIDE_NAMES: Dict[str, str] = {
    "000": "the CentOS walk-through of Postfix, Dovecot, restrictions, SASL and TLS",
    "001": "the CentOS Postfix guide with Cyrus SASL, PAM and TLS",
    "002": "the CentOS 6.4 notes on submission, sender logins, block lists, SPF and postgrey",
    "003": "the overview of how e-mail works, with hardening advice",
    "004": "the LPIC-2 reference on e-mail servers (objective 211.1)",
}

_REF = re.compile(r"\b([Gg]uide) (\d{3})\b", re.ASCII)


def named(reference: str) -> str:
    """``reference`` with each guide's name after its first mention:
    ``Guide 000, part 1`` -> ``Guide 000 (the CentOS walk-through ...), part 1``."""
    seen = set()

    def name(m: re.Match[str]) -> str:
        number = m.group(2)
        if number in seen or number not in GUIDE_NAMES:
            return m.group(0)
        seen.add(number)
        return f"{m.group(0)} ({GUIDE_NAMES[number]})"

    return _REF.sub(name, reference)
