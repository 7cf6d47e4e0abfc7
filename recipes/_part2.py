"""What is left of the helpers of steps 7-13 until the change classes move to wizard.changes:
:class:`Note` and the configuration fingerprint. Every other helper lives in a module by
subject (``_postfix``, ``_dovecot``, ``_pam``, ``_daemons``, ``_accounts``).
"""

from __future__ import annotations

import hashlib
from typing import Dict, Sequence

from wizard.changes import Change, ChangeContext, Preview, View
from wizard.executor import Executor


# --------------------------------------------------------------------------- a note in a plan
class Note(Change):
    """Changes nothing; shows a remark in the plan (e.g. why a step has nothing to do)."""

    kind = "note"

    def __init__(self, title: str, note: str = "") -> None:
        self.title = title
        self.note = note

    def describe(self) -> str:
        return self.title

    def preview(self, view: View) -> Preview:
        return Preview(self.kind, self.title, note=self.note, changed=False)

    def prepare(self, ctx: ChangeContext) -> None:
        return None

    def commit(self, ctx: ChangeContext, rec: Dict) -> None:  # type: ignore[type-arg]
        return None


# --------------------------------------------------------------------------- fingerprints
def fingerprint(ex: Executor, paths: Sequence[str]) -> str:
    """SHA-256 over the content of the given files (directories: their files, sorted)."""
    h = hashlib.sha256()
    for path in paths:
        st = ex.stat(path)
        if st is not None and st.is_dir:
            files = [f"{path}/{n}" for n in ex.listdir(path)]
        else:
            files = [path]
        for f in files:
            fst = ex.stat(f)
            if fst is not None and fst.is_dir:
                continue
            data = ex.read_bytes(f)
            h.update(f.encode() + b"\0")
            h.update(hashlib.sha256(data).digest() if data is not None else b"-")
    return h.hexdigest()
