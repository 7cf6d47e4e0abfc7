"""Drift: the files mailwizard wrote that changed since (by hand, or by another program).

The session's journal records, for every file a change wrote, the SHA-256 of the bytes it
left; edits of structured files (main.cf, master.cf, Dovecot, shell-style and aliases files)
also record the keys they set with their values before (``old``) and after (``new``).  For a
file whose bytes now differ from the last recorded write, the report names the file and, for
a structured file, the settings that changed:

* a key mailwizard set whose value is no longer the one it wrote ("changed by hand"), and
* any other key whose value differs from the file mailwizard found first (the backup of the
  first write: "added or changed by hand").

Values are never shown (a hand-edited line may hold a secret); only the names of settings.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from ..drift import KEEPS, READERS
from ..executor import Executor
from ..session import Session
from .model import OK, UNKNOWN, WARNING, Finding


@dataclass
class ManagedFile:
    """What the journal says about one file."""

    path: str
    sha_after: Optional[str]
    """Of the last write (None: mailwizard removed the file)."""
    step: str
    editor: str = ""
    ours: Dict[str, Optional[str]] = field(default_factory=dict)
    """Key -> the value mailwizard left (None: it removed the key); only structured edits."""
    new_known: bool = True
    """Every edit of the file recorded its new values (journals before this version did not)."""
    first_backup: str = ""
    """The backup of the file as mailwizard found it ("" when it did not exist)."""


@dataclass
class DriftResult:
    path: str
    step: str
    state: str
    """``same``, ``changed``, ``removed`` or ``unreadable``."""
    changed_keys: List[str] = field(default_factory=list)
    """Keys mailwizard set, now different."""
    other_keys: List[str] = field(default_factory=list)
    """Keys mailwizard never set that differ from the file it found."""
    keys_known: bool = True
    editor: str = ""


def managed_files(entries: Sequence[Dict[str, Any]]) -> Dict[str, ManagedFile]:
    """Path -> what the journal entries (in order, ``done`` ones) say about it."""
    files: Dict[str, ManagedFile] = {}
    for e in entries:
        rec = e.get("record")
        if e.get("state") != "done" or not isinstance(rec, dict):
            continue
        path = rec.get("path")
        if not isinstance(path, str) or "sha_after" not in rec:
            continue
        mf = files.get(path)
        if mf is None:
            mf = files[path] = ManagedFile(path, rec["sha_after"], str(e.get("step", "")),
                                           first_backup=str(rec.get("backup") or ""))
        mf.sha_after, mf.step = rec["sha_after"], str(e.get("step", ""))
        editor = rec.get("editor") or ""
        if editor:
            mf.editor = editor
            new = rec.get("new")
            if isinstance(new, dict):
                mf.ours.update(new)
            else:
                mf.new_known = False
                mf.ours.update({k: None for k in (rec.get("old") or {})})
    return files


def _sha(data: Optional[bytes]) -> Optional[str]:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def _text(data: Optional[bytes]) -> Optional[str]:
    return None if data is None else data.decode("utf-8", "surrogateescape")


def compare(ex: Executor, mf: ManagedFile, load_backup: Callable[[str], bytes]) -> DriftResult:
    """One managed file against what the journal recorded."""
    try:
        current = ex.read_bytes(mf.path)
    except OSError:
        return DriftResult(mf.path, mf.step, "unreadable")
    if _sha(current) == mf.sha_after:
        return DriftResult(mf.path, mf.step, "same")
    if current is None:
        return DriftResult(mf.path, mf.step, "removed")
    res = DriftResult(mf.path, mf.step, "changed", editor=mf.editor)
    reader = READERS.get(mf.editor)
    if reader is None:
        res.keys_known = False
        return res
    now = reader(_text(current))
    if mf.new_known:
        res.changed_keys = sorted(k for k, v in mf.ours.items() if now.get(k) != v)
    else:
        res.keys_known = False
    try:
        stock = reader(_text(load_backup(mf.first_backup))) if mf.first_backup else {}
    except OSError:
        stock = None
    if stock is not None:
        res.other_keys = sorted(k for k in set(now) | set(stock)
                                if k not in mf.ours and now.get(k) != stock.get(k))
    return res


def _names(keys: List[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit})" if len(keys) > limit else "")


def drift_findings(ex: Executor, state_dir: Path, skip: Sequence[str] = ()) -> List[Finding]:
    """One finding per managed file that drifted, or one OK finding saying how many were
    compared.  ``skip``: paths another program rewrites by design (an ACME client's
    certificate and key)."""
    if not (state_dir / "session.yaml").exists() and not (state_dir / "journal.log").exists():
        return [Finding("drift", "managed files", UNKNOWN, f"no session in {state_dir}",
                        "mailwizard has not configured this server from this state "
                        "directory (--state-dir)")]
    try:
        session = Session.open(state_dir, lock=False)
    except Exception as exc:  # noqa: BLE001 - a damaged session is reported, not raised
        return [Finding("drift", "managed files", UNKNOWN, f"the session cannot be read: {exc}")]
    files = managed_files(session.journal)
    out: List[Finding] = []
    same = 0
    for mf in files.values():
        if mf.path in skip:
            continue
        res = compare(ex, mf, session.backups.load)
        if res.state == "same":
            same += 1
            continue
        out.append(_finding(res))
    out.append(Finding("drift", "managed files", OK,
                       f"{same} of {len(files)} file(s) as mailwizard left them"
                       + (f" ({len(skip)} renewed by their own program not compared)"
                          if skip else "")))
    return out


def _finding(res: DriftResult) -> Finding:
    name = f"{res.path} edited since apply"
    hint = ("keep it if the edit is yours (a re-run keeps settings mailwizard does not "
            "manage); mailwizard plan shows what a re-run would set back")
    if res.changed_keys and res.editor in KEEPS:
        hint = ("a re-run keeps these edits, mailwizard's settings included (mailwizard plan "
                "shows stock, mailwizard's and the current value); apply --overwrite-edits "
                "sets mailwizard's values back")
    if res.state == "removed":
        return Finding("drift", name, WARNING, f"removed (written by step {res.step})",
                       "run mailwizard apply to write it again")
    if res.state == "unreadable":
        return Finding("drift", name, UNKNOWN, "cannot be read")
    parts = []
    if res.changed_keys:
        parts.append("mailwizard's settings changed: " + _names(res.changed_keys))
    if res.other_keys:
        parts.append("other settings changed: " + _names(res.other_keys))
    if not parts:
        parts.append("content changed" + (
            " (the settings are the same: comments or layout)" if res.keys_known else ""))
    return Finding("drift", name, WARNING, f"step {res.step}; " + "; ".join(parts), hint)
