"""Text from the mail system made safe for a terminal.

Queue entries and log lines carry text chosen by strangers (a sender address, a remote
server's reply, a HELO name). Before any of it reaches a terminal, a table cell or a JSON
report, :func:`clean` escapes every control character (C0, DEL, C1: the ESC of a colour or
cursor sequence above all), the Unicode line and paragraph separators, format characters
such as bidi overrides, lone surrogates and private-use code points. The escape is visible
(``\\x1b``, ``\\u202e``), so an admin sees that something was there.
"""

from __future__ import annotations

import unicodedata

_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def clean(text: str, limit: int = 2000) -> str:
    """``text`` with every unsafe character escaped, cut to ``limit`` characters (marked
    with an ellipsis: a log line cannot flood the screen)."""
    out = []
    for ch in text:
        if ch.isascii() and (" " <= ch <= "~"):
            out.append(ch)
        elif unicodedata.category(ch) in _BAD_CATEGORIES:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    s = "".join(out)
    return s if len(s) <= limit else s[:limit - 3] + "..."
