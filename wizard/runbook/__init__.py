"""The runbook (``mailwizard docs``): the plan for one platform and one set of answers as a runbook.

:func:`render_runbook` writes Markdown (default) or one self-contained HTML page. The runbook
is reproducible (no dates, no host-specific paths) and holds no secrets.

Every code block says what it is for in its info string, so the runbook can be followed by a
person and executed by a program alike:

``sh``
    Apply. Run in order as root; together the ``sh`` blocks do what ``mailwizard apply`` does
    (file contents, modes and owners, commands, packages, services).
``sh-interactive``
    Apply, but needs a person at the keyboard (``passwd`` asks for a password).
``sh-backup``
    Before a step: copy the files the step changes to ``FILE.mailwizard-bak-STEP``.
``sh-rollback``
    Undo a step by hand (restore those copies, undo its commands).
``sh-verify``
    Read-only checks an admin types to see that a step worked.
``diff`` and ``text``
    For reading only.

:func:`extract_commands` returns the blocks of the wanted kinds in document order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .blocks import (
    APPLY,
    BACKUP,
    BACKUP_SUFFIX,
    BLOCK_KINDS,
    INTERACTIVE,
    ROLLBACK,
    VERIFY,
    WHOLE_FILE,
)
from .html import render_html
from .markdown import render_markdown
from .text import Slugger, extract_commands

if TYPE_CHECKING:  # pragma: no cover
    from ..engine import Engine

__all__ = ["APPLY", "BACKUP", "BACKUP_SUFFIX", "BLOCK_KINDS", "INTERACTIVE", "ROLLBACK",
           "VERIFY", "WHOLE_FILE", "Slugger", "extract_commands", "render_html",
           "render_markdown", "render_runbook"]


def render_runbook(engine: Engine, fmt: str = "markdown") -> str:
    """The runbook for ``engine``'s plan: ``fmt`` is ``markdown`` or ``html``."""
    text = render_markdown(engine)
    if fmt == "html":
        title = f"Mail server runbook: {engine.answers.hostname} on {engine.platform.name}"
        return render_html(text, title)
    return text
