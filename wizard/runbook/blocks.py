"""The runbook's block model: the kinds of code block, a block, and a change as prose and
blocks (:class:`Rendered`, made from the change's shell form by :mod:`.steps`).

Every code block says what it is for in its info string (its first word), so the runbook can
be followed by a person and executed by a program alike; :data:`BLOCK_KINDS` lists the shell
kinds and the package docstring says what each is for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

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


@dataclass
class Block:
    """One fenced code block: its kind (the info string's first word), its lines, and an
    optional second word (:data:`WHOLE_FILE`)."""

    kind: str
    lines: List[str] = field(default_factory=list)
    extra: str = ""


@dataclass
class Rendered:
    """How one change shows in the runbook: paragraphs and blocks, in order."""

    items: List[str | Block] = field(default_factory=list)

