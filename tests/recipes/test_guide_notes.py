"""What the steps say about the guides must match the guides (../shared/guides).

Guides 003 and 004 switch VRFY off; guides 000 and 003 ask for MX and PTR records. A note that
says otherwise sends an admin comparing the two the wrong way."""

from __future__ import annotations

import re

from recipes import all_recipes


def _texts() -> str:
    out = []
    for r in all_recipes():
        out += [r.summary, *r.outdated]
    return "\n".join(out)


def test_no_note_says_the_guides_leave_dns_out() -> None:
    text = _texts()
    assert not re.search(r"guides? (leaves?|ignores?|skips?) DNS|DNS to the reader", text)
    preflight = next(r for r in all_recipes() if r.id == "preflight")
    dns_note = next(n for n in preflight.outdated if "PTR" in n)
    assert "000" in dns_note and "003" in dns_note and "MX" in dns_note


def test_vrfy_note_credits_the_guides_that_turn_it_off() -> None:
    text = _texts()
    assert not re.search(r"guides? (leaves?|keeps?) VRFY", text)
    restrictions = next(r for r in all_recipes() if r.id == "restrictions")
    assert re.search(r"VRFY[^.]*guides 003 and 004", restrictions.summary)
