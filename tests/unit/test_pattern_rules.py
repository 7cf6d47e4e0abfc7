"""The project's pattern rule, checked on the source: a regular expression never ends a match
with a bare ``$`` (it also matches before a trailing newline); ``\\Z`` or ``re.fullmatch``."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("wizard", "recipes", "screens")
RE_FUNCS = {"compile", "match", "search", "fullmatch", "sub", "subn", "split", "findall",
            "finditer"}


def _literal(node: ast.AST) -> Optional[str]:
    """The pattern's text when it is built from string constants (``+`` joins included)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left), _literal(node.right)
        parts = [p for p in (left, right) if p is not None]
        return "\x00".join(parts) if parts else None
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values
                       if isinstance(v, ast.Constant) and isinstance(v.value, str))
    return None


def bare_dollars(pattern: str) -> bool:
    """True when ``pattern`` has a ``$`` anchor (not escaped, not in a character class)."""
    in_class = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "]":
                i += 1
        elif c == "$":
            return True
        i += 1
    return False


def patterns(source: str) -> Iterator[Tuple[int, str]]:
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "re"
                and node.func.attr in RE_FUNCS and node.args):
            text = _literal(node.args[0])
            if text is not None:
                yield node.lineno, text


def test_the_checker_sees_a_bare_dollar_and_nothing_else() -> None:
    src = ('import re\nre.compile(r"^a(.*)$")\nre.match("x" + r"\\s*$", s)\n'
           're.fullmatch(r"a\\$b[$]", s)\nre.search(rf"{x}\\Z", s)\n')
    found = [(n, bare_dollars(t)) for n, t in patterns(src)]
    assert found == [(2, True), (3, True), (4, False), (5, False)]
    assert not bare_dollars(r"[^$]+\Z") and bare_dollars(r"(a|b$)")


def test_no_pattern_anchors_with_a_bare_dollar() -> None:
    offenders: List[str] = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for line, text in patterns(path.read_text(encoding="utf-8")):
                if bare_dollars(text):
                    offenders.append(f"{path.relative_to(ROOT)}:{line}: {text!r}")
    assert not offenders, "use \\Z or re.fullmatch:\n" + "\n".join(offenders)

