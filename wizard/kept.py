"""Answers kept between visits: the TUI keeps the last valid answers (without passwords) in
the state directory, and offers them when the wizard opens again.

A real run keeps them in its session directory. A dry run changes nothing on the system, so
it keeps them only in a state directory that already exists (``./run.sh`` makes one under
``$TMPDIR``); otherwise :func:`keep_answers` returns None and the TUI says they are not kept.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional

import yaml

from .answers import Answers, dump_answers

KEPT_NAME = "answers.yaml"


def kept_path(state_dir: Path) -> Path:
    return state_dir / KEPT_NAME


def keep_answers(state_dir: Path, answers: Answers, *, may_create: bool) -> Optional[Path]:
    """Write ``answers`` without secrets to ``state_dir/answers.yaml`` (0600, atomic: a kill
    leaves the old file or the new one). ``may_create``: the directory may be made (0700).
    None when the directory is not there and may not be made."""
    if not state_dir.is_dir():
        if not may_create:
            return None
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = ("# mailwizard: the answers last given in the wizard (passwords are never kept)\n"
            + dump_answers(answers, include_secrets=False))
    path = kept_path(state_dir)
    fd, tmp = tempfile.mkstemp(prefix=".answers-", dir=str(state_dir))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def kept_answers(state_dir: Optional[Path]) -> Optional[Dict[str, Any]]:
    """The kept answers as raw form data, or None (none kept, unreadable or not a mapping:
    the form then starts from the defaults, never from a half-read file)."""
    if state_dir is None:
        return None
    try:
        data = yaml.safe_load(kept_path(state_dir).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None
