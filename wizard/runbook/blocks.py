"""The runbook's building blocks: the kinds of code block, a block, and shell helpers.

Every code block says what it is for in its info string (its first word), so the runbook can
be followed by a person and executed by a program alike; :data:`BLOCK_KINDS` lists the shell
kinds and the package docstring says what each is for.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass, field
from typing import Iterable, List

APPLY = "sh"
INTERACTIVE = "sh-interactive"
BACKUP = "sh-backup"
ROLLBACK = "sh-rollback"
VERIFY = "sh-verify"
BLOCK_KINDS = (APPLY, INTERACTIVE, BACKUP, ROLLBACK, VERIFY)
"""Info strings of the shell blocks (the first word of a fence's info string)."""

WHOLE_FILE = "whole-file"
"""Second word on an apply block that rewrites a file shown as a diff above (HTML folds it)."""

BACKUP_SUFFIX = ".mailwizard-bak-"
"""Backups made by hand are ``FILE.mailwizard-bak-STEP`` (one per step, so rolling back one
step restores exactly what that step found)."""


# --------------------------------------------------------------------------- shell helpers
def shq(args: Iterable[str]) -> str:
    return " ".join(shlex.quote(str(a)) for a in args)


def strip_comment(cmd: str) -> str:
    """A preview command without its trailing explanatory ``   # ...`` comment."""
    return re.split(r"\s{2,}# ", cmd, maxsplit=1)[0]


def guarded(cmd: str, condition: str, why: str) -> str:
    """``cmd`` run only when ``condition`` (a shell test) holds."""
    if "<<" in cmd:  # a here-document's end marker must stay at the start of its line
        return f"# {why}\nif {condition}; then\n{cmd}\nfi"
    if "\n" in cmd:
        cmd = "\n  ".join(cmd.splitlines())
    return f"# {why}\nif {condition}; then\n  {cmd}\nfi"


def san_kind(name: str) -> str:
    """``IP`` for an address, ``DNS`` for a name (openssl's subjectAltName syntax)."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return "DNS"
    return "IP"


def is_key(content: str) -> bool:
    low = content.lower()
    return "private key" in low and "certificate" not in low


@dataclass
class Block:
    kind: str
    lines: List[str] = field(default_factory=list)
    extra: str = ""


@dataclass
class Rendered:
    """How one change shows in the runbook: paragraphs and blocks, in order."""

    items: List[str | Block] = field(default_factory=list)

