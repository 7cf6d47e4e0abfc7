"""Tree changes: directories a step makes, and snapshots of files a later command rewrites."""

from __future__ import annotations

import shlex
from typing import List, Optional, Tuple

from ..errors import ExecutorError
from .base import Change, ChangeContext, Preview, Record, ShellForm, View
from .files import _make_dirs


class Snapshot(Change):
    """Back up a file that a later command of the step rewrites (an indexed map such as
    ``aliases.db``): rollback puts the exact bytes back, or removes the file when it did not
    exist. Rebuilding instead would not give the same bytes (Berkeley DB files vary)."""

    kind = "snapshot"

    def __init__(self, path: str, reason: str = "", needed: bool = True) -> None:
        self.path = path
        self.reason = reason
        self.needed = needed
        """False when the command it guards will not run: the change is then "unchanged".
        A recipe plans the Snapshot either way, so the plan (and the journal's change
        indexes) stays the same across a crash that created the file."""

    def describe(self) -> str:
        return f"keep a copy of {self.path} for rollback"

    def touched_paths(self) -> List[str]:
        return []

    def preview(self, view: View) -> Preview:
        if not self.needed:
            return Preview(self.kind, self.describe(), changed=False, path=self.path,
                           note="up to date: not rebuilt, no copy needed")
        exists = view.read(self.path) is not None or view.executor.exists(self.path)
        note = self.reason or ("restored byte for byte on rollback" if exists
                               else "does not exist yet: removed again on rollback")
        return Preview(self.kind, self.describe(), changed=True, path=self.path, note=note)

    def prepare(self, ctx: ChangeContext) -> Optional[Record]:
        if not self.needed:
            return None
        ex = ctx.executor
        data = ex.read_bytes(self.path)
        st = ex.stat(self.path)
        rec: Record = {"path": self.path, "existed": data is not None}
        if data is not None and st is not None:
            rec.update(backup=ctx.backups.save(f"{ctx.key}-{self.path}", data), mode=st.mode,
                       uid=st.uid, gid=st.gid)
        return rec

    def commit(self, ctx: ChangeContext, rec: Record) -> None:
        return None

    def shell_form(self, preview: Preview) -> ShellForm:
        """By hand: the step's back-up copies the file and its roll-back puts it back (or
        removes it when it did not exist)."""
        if not preview.changed:
            return ShellForm()
        if "does not exist yet" in preview.note:
            return ShellForm(undo=(f"rm -f {shlex.quote(self.path)}",))
        return ShellForm(restore=self.path)

    @classmethod
    def undo_record(cls, ctx: ChangeContext, rec: Record, force: bool = False) -> List[str]:
        ex = ctx.executor
        if rec["existed"]:
            ex.write_atomic(rec["path"], ctx.backups.load(rec["backup"]), rec["mode"],
                            rec["uid"], rec["gid"])
        else:
            ex.remove(rec["path"])
        return []


# --------------------------------------------------------------------------- directories
class Directory(Change):
    """Make sure a directory exists with a mode and owner; undo removes what was created."""

    kind = "directory"

    def __init__(self, path: str, mode: int = 0o755, owner: str = "root",
                 group: str = "root") -> None:
        self.path = path
        self.mode = mode
        self.owner = owner
        self.group = group

    def describe(self) -> str:
        return f"directory {self.path} ({self.mode:04o} {self.owner}:{self.group})"

    def touched_paths(self) -> List[str]:
        return [self.path]

    def preview(self, view: View) -> Preview:
        exists = self.path in view.dirs or view.executor.exists(self.path)
        view.dirs.add(self.path)
        cmd = (f"install -d -m {self.mode:04o} -o {shlex.quote(self.owner)} "
               f"-g {shlex.quote(self.group)} {shlex.quote(self.path)}")
        return Preview(self.kind, self.describe(), commands=[cmd],
                       note="exists; mode and owner are checked" if exists else "")

    def prepare(self, ctx: ChangeContext) -> Optional[Record]:
        ex = ctx.executor
        st = ex.stat(self.path)
        uid, gid = ex.uid(self.owner), ex.gid(self.group)
        if st is not None and st.is_dir and (st.mode, st.uid, st.gid) == (self.mode, uid, gid):
            return None
        if st is not None and not st.is_dir:
            raise ExecutorError(f"{self.path} exists and is not a directory")
        rec: Record = {"path": self.path, "existed": st is not None, "uid": uid, "gid": gid,
                       "mode": self.mode}
        if st is not None:
            rec.update(mode_before=st.mode, uid_before=st.uid, gid_before=st.gid)
        return rec

    def commit(self, ctx: ChangeContext, rec: Record) -> None:
        ex = ctx.executor
        if not rec["existed"]:
            _make_dirs(ctx, rec, "created", self.path, self.mode, rec["uid"], rec["gid"])
        ex.set_meta(self.path, self.mode, rec["uid"], rec["gid"])

    @classmethod
    def undo_record(cls, ctx: ChangeContext, rec: Record, force: bool = False) -> List[str]:
        ex = ctx.executor
        if rec["existed"]:
            if ex.stat(rec["path"]) is not None:
                ex.set_meta(rec["path"], rec["mode_before"], rec["uid_before"],
                            rec["gid_before"])
            return []
        warnings = []
        for d in reversed(rec.get("created", [])):
            if ex.listdir(d):
                warnings.append(f"{d} is not empty: left in place")
                break
            ex.remove(d)
        return warnings


    def shell_form(self, preview: Preview) -> ShellForm:
        """``install -d``; undo removes the directory if this step made it and it is empty."""
        undo: Tuple[str, ...] = ()
        if preview.changed and "exists" not in preview.note:
            undo = (f"rmdir {shlex.quote(self.path)} 2>/dev/null || true   # only if empty",)
        return ShellForm(do=tuple(preview.commands), undo=undo, batch="directories",
                         check=(f"ls -ld {shlex.quote(self.path)}",))
