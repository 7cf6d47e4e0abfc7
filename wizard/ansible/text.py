"""Text for the Ansible export: values Jinja must not read, host values it must fill in, YAML.

Every value that reaches an exported file goes through :func:`jinja_value` (Jinja may not
interpret a brace of the plan's own text) and :func:`dump_yaml` (``yaml.safe_dump``: quoting is
the YAML library's job, never ours). A value that holds a per-host value (the host name, so
the certificate paths too) gets the host variable in its place; a secret is only ever a
variable's name.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Sequence, Tuple

import yaml

from ..errors import MailwizardError

HOST_VAR = "mailwizard_hostname"
"""The host variable every exported value uses in place of the answers' host name."""

_MARKERS = ("{{", "{%", "{#")


class ExportError(MailwizardError):
    """The plan holds something the export cannot express faithfully."""

    title = "Cannot export"
    exit_code = 2


def literal(text: str) -> str:
    """``text`` for a string Jinja will render: every ``{`` as the expression ``{{ '{' }}``
    (no block tag, so ``trim_blocks`` cannot eat a newline)."""
    return text.replace("{", "{{ '{' }}")


def needs_template(text: str, subst: Sequence[Tuple[str, str]]) -> bool:
    return any(m in text for m in _MARKERS) or any(s and s in text for s, _ in subst)


def jinja_value(text: str, subst: Sequence[Tuple[str, str]] = ()) -> str:
    """``text`` as Ansible must see it to render ``text`` itself, except that each literal of
    ``subst`` (e.g. the host name) is replaced by its Jinja expression. Text without either is
    returned as it is (Ansible leaves it alone)."""
    if not needs_template(text, subst):
        return text
    pieces: List[Tuple[bool, str]] = [(False, text)]
    for lit, expr in subst:
        if not lit:
            continue
        nxt: List[Tuple[bool, str]] = []
        for is_expr, piece in pieces:
            if is_expr:
                nxt.append((True, piece))
                continue
            parts = piece.split(lit)
            for i, part in enumerate(parts):
                if i:
                    nxt.append((True, expr))
                nxt.append((False, part))
        pieces = nxt
    return "".join(p if is_expr else literal(p) for is_expr, p in pieces)


def var(name: str) -> str:
    """A Jinja expression naming a variable (validated name: letters, digits, underscore)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ExportError(f"not a variable name: {name!r}")
    return "{{ " + name + " }}"


class _NoAliases(yaml.SafeDumper):
    """``yaml.safe_dump`` without anchors: a value used twice is written twice."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(data: Any, comment: str = "") -> str:
    """YAML for ``data`` (``yaml.safe_dump``, block style, keys in the given order), with
    ``comment`` lines on top."""
    text = yaml.dump(data, Dumper=_NoAliases, sort_keys=False, default_flow_style=False,
                     allow_unicode=False, width=100)
    head = "".join(f"# {line}".rstrip() + "\n" for line in comment.splitlines()) if comment \
        else ""
    return "---\n" + head + text


def task_name(text: str) -> str:
    """A task name: one line, no control characters, no Jinja."""
    one = re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()
    return one.replace("{", "(").replace("}", ")")


def mode_text(mode: int) -> str:
    """``0o2750`` -> ``"02750"`` (a string: YAML would read 0644 as a number)."""
    return f"0{mode:o}" if mode > 0o777 else f"0{mode:03o}"


Subst = List[Tuple[str, str]]


def host_subst(hostname: str) -> Subst:
    return [(hostname, var(HOST_VAR))] if hostname else []


def merge(*dicts: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for d in dicts:
        out.update({k: v for k, v in d.items() if v is not None})
    return out
