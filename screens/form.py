"""The answers form's values: answers data to field text and back, which error line an
answers error belongs to, and saving the form to a file. No Textual: the form
(``screens.answers``) and tests use them."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import yaml

_INDEX = re.compile(r"\[\d+\]")


def entries(text: str) -> Iterator[Tuple[str, str]]:
    """``name: rest`` per line -> (name, rest), blank lines and ``#`` comments skipped."""
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, rest = line.partition(":")
            yield name.strip(), rest.strip()


def lines_to_map(text: str) -> Dict[str, Any]:
    """``name: a, b`` per line -> ``{name: [a, b]}`` (one target stays a string)."""
    out: Dict[str, Any] = {}
    for name, targets in entries(text):
        items = [t for t in re.split(r"[,\s]+", targets) if t]
        out[name] = items[0] if len(items) == 1 else items
    return out


def lines_to_actions(text: str) -> Dict[str, str]:
    """``sender: ACTION [text]`` per line -> ``{sender: "ACTION [text]"}`` (text kept as is)."""
    return dict(entries(text))


def int_or_text(text: str, default: int) -> Any:
    """A number field: an int when it is one, else the text (the validator explains)."""
    text = text.strip()
    if not text:
        return default
    return int(text) if text.isdigit() else text


def map_to_lines(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    lines = []
    for name, targets in value.items():
        if isinstance(targets, (list, tuple)):
            targets = ", ".join(str(t) for t in targets)
        lines.append(f"{name}: {targets}")
    return "\n".join(lines)


def list_to_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def text_to_list(text: str) -> List[str]:
    return [v for v in re.split(r"[,\s]+", text.strip()) if v]


def error_slot(field: str) -> str:
    """The error line an answers error belongs to (``users[1].name`` -> ``users-1``)."""
    m = re.match(r"^users\[(\d+)\]", field)
    if m:
        return f"users-{m.group(1)}"
    base = _INDEX.sub("", field)
    for prefix in ("aliases", "virtual_aliases", "steps", "restrictions.sender_access"):
        if base == prefix or base.startswith(prefix + "."):
            return prefix.replace(".", "-")
    return base.replace(".", "-")


def save_answers(data: Dict[str, Any], path: Path, with_passwords: bool) -> str:
    """Write the form's answers to ``path`` (mode 0600 with the passwords, else 0644 and the
    passwords left out); returns what to add to "Saved to PATH" ('' without passwords).
    Raises OSError."""
    users = data.get("users", [])
    has_pw = any(isinstance(u, dict) and u.get("password") for u in users) or bool(
        data.get("relay_password"))
    if not with_passwords:
        for user in users:
            if isinstance(user, dict):
                user.pop("password", None)
        data.pop("relay_password", None)
    text = ("# mailwizard answers (saved from the wizard)\n"
            + yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                 0o600 if with_passwords else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    if with_passwords:
        os.chmod(path, 0o600)
    if not has_pw:
        return ""
    return " with passwords" if with_passwords else " (passwords left out)"


__all__ = ["entries", "error_slot", "int_or_text", "lines_to_actions", "lines_to_map",
           "list_to_text", "map_to_lines", "save_answers", "text_to_list"]
