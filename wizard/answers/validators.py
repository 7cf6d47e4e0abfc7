r"""Validators of single answers: each returns a message for its field, or None when it is fine.

Every pattern here is ASCII only (``re.ASCII``: no case folding of "\u017f" or "\u212a" into
[a-z]) and always used with ``fullmatch``. :func:`text_problem` refuses the characters no
answer may hold; the sections then narrow each field further.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

Errors = List[Tuple[str, str]]
"""(field, message) pairs, in the order they were found."""

LABEL_RE = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)", re.ASCII)
USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}", re.ASCII)
LOCALPART_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}", re.ASCII)
LOCALPART_SIMPLE_RE = re.compile(r"[A-Za-z0-9._%+-]{1,64}", re.ASCII)
ALIAS_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._+-]{0,63}", re.ASCII)
PATH_RE = re.compile(r"/[A-Za-z0-9._+@/-]{0,4095}", re.ASCII)
NETWORK_CHARS_RE = re.compile(r"[0-9A-Fa-f:./\[\]]{1,64}", re.ASCII)


def check_hostname(value: Any, *, fqdn: bool = True) -> Optional[str]:
    """Return an error message if ``value`` is not a valid (fully qualified) host name."""
    if not isinstance(value, str) or not value:
        return "must be a host name such as mail.example.com"
    name = value.rstrip(".")
    if len(name) > 253:
        return "is longer than 253 characters"
    labels = name.split(".")
    for label in labels:
        if not LABEL_RE.fullmatch(label):
            return (
                f"label {label!r} is not valid (letters, digits and inner hyphens, "
                "1 to 63 characters)"
            )
    if fqdn and len(labels) < 2:
        return "must be fully qualified (at least one dot), e.g. mail.example.com"
    if labels[-1].isdigit():
        return "must not end in a numeric label (that looks like an IP address)"
    return None


def check_domain(value: Any) -> Optional[str]:
    return check_hostname(value, fqdn=True)


def normalize_network(value: Any) -> Tuple[Optional[str], Optional[str]]:
    """Validate one mynetworks entry; return ``(postfix_form, error)``.

    IPv6 networks are written the way Postfix wants them in mynetworks: ``[::1]/128``.
    """
    if not isinstance(value, str) or not value.strip():
        return None, "must be a network in CIDR form, e.g. 192.0.2.0/24 or [2001:db8::]/32"
    text = value.strip()
    if not NETWORK_CHARS_RE.fullmatch(text):
        return None, (f"{value!r} is not a network: only digits, hex letters, ':', '.', '/' "
                      "and brackets are allowed (no zone index, no spaces)")
    bracketed = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](/\d+)?", text, re.ASCII)
    if bracketed:
        text = bracketed.group(1) + (bracketed.group(2) or "")
    if "/" not in text:
        text += "/128" if ":" in text else "/32"
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return None, f"{value!r} is not a valid network ({exc})"
        return None, f"{value!r} has host bits set; did you mean {loose.compressed}?"
    if net.prefixlen == 0:
        return None, f"{value!r} matches every address: that would make an open relay"
    if net.version == 4 and net.prefixlen < 8:
        return None, f"{value!r} is wider than a /8: too wide to trust for relaying"
    if net.version == 6 and net.prefixlen < 16:
        return None, f"{value!r} is wider than a /16: too wide to trust for relaying"
    if net.version == 6:
        return f"[{net.network_address.compressed}]/{net.prefixlen}", None
    return net.compressed, None


def check_user(value: Any) -> Optional[str]:
    if not isinstance(value, str) or not USER_RE.fullmatch(value):
        return (
            f"{value!r} is not a valid user name (lower-case letter or _ first, then letters, "
            "digits, _ or -, at most 32 characters)"
        )
    return None


def check_address(value: Any) -> Optional[str]:
    """An e-mail address ``local@domain``."""
    if not isinstance(value, str) or value.count("@") != 1:
        return f"{value!r} is not an e-mail address"
    local, dom = value.split("@")
    if not LOCALPART_RE.fullmatch(local):
        return f"{value!r} has an invalid local part"
    err = check_domain(dom)
    return f"{value!r}: domain {err}" if err else None


def check_path(value: Any) -> Optional[str]:
    if not isinstance(value, str) or not value.startswith("/"):
        return f"{value!r} must be an absolute path"
    if not PATH_RE.fullmatch(value) or ".." in value.split("/"):
        return (f"{value!r} is not an acceptable path (letters, digits and . _ + @ - / only, "
                "no '..', no spaces)")
    return None


def as_list(value: Any) -> List[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[,\s]+", value) if v.strip()]
    return [value]


_BAD_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))


def text_problem(value: str) -> Optional[str]:
    """Why ``value`` cannot be an answer at all, or None.

    Control characters (newlines above all: every answer ends up in a config line, a map
    entry or a command's input), format characters such as bidi overrides, lone surrogates,
    private-use and unassigned code points and the Unicode line separators are refused
    everywhere. The field validators then narrow each field further (most to ASCII)."""
    for ch in value:
        if unicodedata.category(ch) in _BAD_CATEGORIES:
            return f"contains the character U+{ord(ch):04X}, which is not allowed in an answer"
    return None


def printable(text: str) -> str:
    """``text`` with anything :func:`text_problem` refuses replaced, for error messages."""
    return "".join("?" if unicodedata.category(ch) in _BAD_CATEGORIES and ch != "\n" else ch
                   for ch in text)


def text_errors(data: Any) -> Errors:
    """Every string (key or value) in ``data`` that :func:`text_problem` refuses, by field.

    Iterative, so any nesting depth is safe (the TUI and callers may pass built data)."""
    errors: Errors = []
    todo: List[Tuple[str, Any]] = [("", data)]
    while todo:
        where, value = todo.pop()
        if isinstance(value, str):
            msg = text_problem(value)
            if msg:
                errors.append((where or "(file)", msg))
        elif isinstance(value, Mapping):
            for k, v in value.items():
                if isinstance(k, str) and (msg := text_problem(k)):
                    errors.append((f"{where}.{ascii(k)}" if where else ascii(k), msg))
                    continue
                todo.append((f"{where}.{k}" if where else str(k), v))
        elif isinstance(value, (list, tuple, set, frozenset)):
            for i, v in enumerate(value):
                todo.append((f"{where}[{i}]", v))
    return sorted(errors)


def find_loop(graph: Mapping[str, Sequence[str]]) -> Optional[List[str]]:
    """Return one cycle in ``graph`` (name -> names) as a path, or None.

    Iterative depth-first search: a chain of thousands of aliases is fine."""
    state: Dict[str, int] = {}
    for start in graph:
        if state.get(start) is not None:
            continue
        stack: List[Tuple[str, int]] = [(start, 0)]
        path: List[str] = [start]
        state[start] = 1
        while stack:
            node, i = stack[-1]
            nexts = [n for n in graph.get(node, ()) if n in graph]
            if i >= len(nexts):
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            stack[-1] = (node, i + 1)
            nxt = nexts[i]
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if state.get(nxt) is None:
                state[nxt] = 1
                stack.append((nxt, 0))
                path.append(nxt)
    return None


_REPORT_LOCAL_RE = re.compile(r"[A-Za-z0-9_+=](?:[A-Za-z0-9._+=-]{0,62}[A-Za-z0-9_+=-])?",
                              re.ASCII)


def report_address_error(addr: Any) -> Optional[str]:
    """Why ``addr`` is not an address to mail the health report to (None: it is).

    Stricter than :func:`check_address` on purpose, as the address ends up on a command line
    (``mailwizard check --mail-to``, a cron line, a systemd unit): ``local@domain``, ASCII
    letters, digits and ``._+=-`` in the local part (not starting with ``-`` or ``.``, no
    ``..``), a domain of at least two labels; nothing a shell, systemd or sendmail could read
    as an option, a variable or a second recipient."""
    if not isinstance(addr, str) or not addr:
        return "give an address such as admin@example.com"
    if len(addr) > 254:
        return "longer than 254 characters"
    if not addr.isascii() or any(ord(c) < 33 or ord(c) == 127 for c in addr):
        return "only printable ASCII without spaces"
    local, sep, domain = addr.rpartition("@")
    if not sep or not local or not domain:
        return "must be local@domain"
    if not _REPORT_LOCAL_RE.fullmatch(local) or ".." in local:
        return f"{local!r} is not an accepted local part (letters, digits and ._+=-)"
    labels = domain.split(".")
    if len(labels) < 2 or not all(LABEL_RE.fullmatch(lb) for lb in labels) \
            or labels[-1].isdigit():
        return f"{domain!r} is not a domain name"
    return None
