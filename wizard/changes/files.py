"""File changes: whole files and generated files.

A file change keeps its new content in memory, shows a diff, validates, backs the old file up
and moves the new one into place atomically; undo restores bytes, mode and owner.
"""

from __future__ import annotations

import os
import shlex
import time
from dataclasses import replace
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

from ..errors import ExecutorError, ValidationFailed
from ..executor import Executor, sha256
from ..shelltext import code_span
from .base import (
    Change,
    ChangeContext,
    Preview,
    Record,
    ShellForm,
    View,
    editor_type,
    quote_argv,
    unified_diff,
)

# --------------------------------------------------------------------------- files
Validator = Callable[[Executor, str, bytes], Optional[str]]
"""(executor, target path, new bytes) -> error message or None."""


def _missing_dirs(ex: Executor, target: str) -> List[str]:
    """The directories ``makedirs(target)`` would create, top first."""
    missing: List[str] = []
    cur = target
    while cur not in ("/", "") and not ex.exists(cur):
        missing.insert(0, cur)
        cur = os.path.dirname(cur)
    return missing


def _make_dirs(ctx: ChangeContext, rec: Record, key: str, target: str, mode: int = 0o755,
               uid: int = 0, gid: int = 0) -> None:
    """``makedirs`` with the list of directories it is about to create journaled first.

    ``rec[key]`` names every directory this change created (across a crash and a resume):
    the intended ones are saved before the first ``mkdir``, the list is then narrowed to what
    was really made. Undo removes those still there and empty."""
    ex = ctx.executor
    known: List[str] = list(rec.get(key) or [])
    missing = [d for d in _missing_dirs(ex, target) if d not in known]
    if missing:
        rec[key] = known + missing
        ctx.persist()
    made = ex.makedirs(target, mode, uid, gid)
    rec[key] = [d for d in known if ex.exists(d)] + [d for d in made if d not in known]


class FileChange(Change):
    """Base of every change to one file's content, mode and owner."""

    kind = "file"

    def __init__(self, path: str, *, mode: Optional[int] = None, owner: str = "root",
                 group: str = "root", validate: Optional[Validator] = None,
                 cool_mtime: bool = False, reason: str = "") -> None:
        self.path = path
        self.mode = mode
        self.owner = owner
        self.group = group
        self.validate = validate
        self.cool_mtime = cool_mtime
        self.reason = reason

    # subclasses implement this -------------------------------------------
    def transform(self, before: Optional[str]) -> Optional[str]:
        """New content from the current one (None = the file should not exist)."""
        raise NotImplementedError

    editor = ""
    """Name of the structured editor that can undo just this edit (journaled as
    ``rec['editor']``; :func:`~wizard.changes.base.editor_type` maps it back to the class)."""

    def remember(self, before: Optional[str], rec: Record) -> None:
        """Store in ``rec['old']`` what the inverse edit needs (e.g. old parameter values)."""

    @classmethod
    def inverse(cls, text: Optional[str], old: Mapping[str, Optional[str]]) -> Optional[str]:
        """``text`` with just this edit undone, from the values :meth:`remember` kept;
        ``None`` when the change has no structured inverse (a whole file)."""
        return None

    # ---------------------------------------------------------------------
    def touched_paths(self) -> List[str]:
        return [self.path]

    def _after_bytes(self, before: Optional[bytes]) -> Optional[bytes]:
        text = None if before is None else before.decode("utf-8", "surrogateescape")
        after = self.transform(text)
        return None if after is None else after.encode("utf-8", "surrogateescape")

    def preview(self, view: View) -> Preview:
        before = view.read(self.path)
        after = self._after_bytes(before)
        view.write(self.path, after)
        stock = self.path in view.from_stock
        diff = unified_diff(self.path, before, after, stock=stock)
        mode = self.mode if self.mode is not None else 0o644
        commands: List[str] = []
        if after is not None and before != after:
            commands.append(self._shell_write(after, mode, exists=before is not None))
        elif after is None and before is not None:
            commands.append(f"rm -f {shlex.quote(self.path)}")
        elif self.mode is not None:
            commands.append(f"chmod {mode:04o} {shlex.quote(self.path)}")
        note = self.reason
        if stock:
            note = (note + " " if note else "") + "(previewed against the stock file)"
        return Preview(self.kind, self.describe(), diff=diff, commands=commands, note=note,
                       changed=before != after, path=self.path,
                       new_content=(after.decode("utf-8", "replace")
                                    if before is None and after is not None else None))

    def _shell_write(self, data: bytes, mode: int, exists: bool = False) -> str:
        """Shell lines that leave the file as ``commit`` does. A new file is created with its
        mode and owner; an existing one is written through (a symlink stays a link, as
        ``write_atomic`` does) and keeps its mode unless the change sets one."""
        text = data.decode("utf-8", "replace")
        marker = "MAILWIZARD_EOF"
        while marker in text:
            marker += "_"
        body = text if text.endswith("\n") else text + "\n"
        writer = "cat" if text.endswith("\n") else "head -c -1"
        path = shlex.quote(self.path)
        heredoc = f"{writer} > {path} <<'{marker}'\n{body}{marker}"
        if not exists:
            return (f"install -D -m {mode:04o} -o {shlex.quote(self.owner)} "
                    f"-g {shlex.quote(self.group)} /dev/null {path}\n{heredoc}")
        lines = [heredoc]
        if self.mode is not None:
            lines.append(f"chmod {mode:04o} {path}")
        if (self.owner, self.group) != ("root", "root"):
            lines.append(f"chown {shlex.quote(self.owner + ':' + self.group)} {path}")
        return "\n".join(lines)

    def _target_meta(self, ctx: ChangeContext, current_mode: Optional[int]) -> Tuple[int, int, int]:
        ex = ctx.executor
        mode = self.mode if self.mode is not None else (
            current_mode if current_mode is not None else 0o644)
        return mode, ex.uid(self.owner), ex.gid(self.group)

    def prepare(self, ctx: ChangeContext) -> Optional[Record]:
        ex = ctx.executor
        before = ex.read_bytes(self.path)
        st = ex.stat(self.path, follow=True)  # a symlink is written through: its target's mode
        after = self._after_bytes(before)
        if after is None and before is None:
            return None
        mode, uid, gid = self._target_meta(ctx, st.mode if st else None)
        same_meta = st is not None and (st.mode, st.uid, st.gid) == (mode, uid, gid)
        if after == before and (after is None or same_meta):
            return None
        if after is not None and self.validate is not None:
            err = self.validate(ex, self.path, after)
            if err:
                raise ValidationFailed(f"{self.path}: {err}")
        rec: Record = {
            "path": self.path,
            "existed": before is not None,
            "sha_before": sha256(before),
            "sha_after": sha256(after),
            "mode_after": mode,
            "uid_after": uid,
            "gid_after": gid,
        }
        if before is not None:
            assert st is not None
            rec.update(mode_before=st.mode, uid_before=st.uid, gid_before=st.gid,
                       backup=ctx.backups.save(f"{ctx.key}-{self.path}", before))
        if after is not None and after != before:
            # write-ahead: the exact bytes to write are kept (0600) before the journal entry
            # exists, so a resume writes them and not a new rendering (a new private key)
            rec["new_copy"] = ctx.backups.save(f"{ctx.key}-new-{self.path}", after)
        if self.editor:
            rec["editor"] = self.editor
            self.remember(None if before is None else before.decode("utf-8", "surrogateescape"),
                          rec)
        return rec

    def commit(self, ctx: ChangeContext, rec: Record) -> None:
        ex = ctx.executor
        current = ex.read_bytes(self.path)
        if sha256(current) == rec["sha_after"]:
            ex.set_meta(self.path, rec["mode_after"], rec["uid_after"], rec["gid_after"])
            return
        if sha256(current) != rec["sha_before"]:
            raise ExecutorError(f"{self.path} changed while mailwizard was editing it")
        after = self._journaled_after(ctx, rec, current)
        if after is None:
            ex.remove(self.path)
            return
        if not rec["existed"]:
            _make_dirs(ctx, rec, "created_dirs", os.path.dirname(self.path))
        mtime = time.time() - 5 if self.cool_mtime else None
        ex.write_atomic(self.path, after, rec["mode_after"], rec["uid_after"], rec["gid_after"],
                        mtime=mtime)

    def _journaled_after(self, ctx: ChangeContext, rec: Record,
                         current: Optional[bytes]) -> Optional[bytes]:
        """The bytes the journal says to write (its saved copy), never a new rendering."""
        if rec.get("new_copy"):
            try:
                data = ctx.backups.load(rec["new_copy"])
            except FileNotFoundError:
                data = None
            if data is not None:
                if sha256(data) != rec["sha_after"]:
                    raise ExecutorError(f"{self.path}: the saved copy of the content to write "
                                        "is damaged; roll the step back first")
                return data
        after = self._after_bytes(current)
        if sha256(after) != rec["sha_after"]:
            raise ExecutorError(f"{self.path}: the content to write differs from what the "
                                "journal recorded; roll the step back first")
        return after

    @classmethod
    def settle(cls, ctx: ChangeContext, rec: Record) -> None:
        if rec.get("new_copy"):
            ctx.backups.remove(rec["new_copy"])

    @classmethod
    def undo_record(cls, ctx: ChangeContext, rec: Record, force: bool = False) -> List[str]:
        ex = ctx.executor
        path = rec["path"]
        current = ex.read_bytes(path)
        warnings: List[str] = []
        if sha256(current) != rec["sha_after"] and sha256(current) != rec["sha_before"]:
            editor = editor_type(rec.get("editor", ""))
            if editor is not None and current is not None and "old" in rec and not force:
                text = editor.inverse(current.decode("utf-8", "surrogateescape"), rec["old"])
                if text is not None:
                    st = ex.stat(path)
                    ex.write_atomic(path, text.encode("utf-8", "surrogateescape"),
                                    st.mode if st else 0o644, st.uid if st else 0,
                                    st.gid if st else 0, mtime=_cool_mtime(rec))
                    warnings.append(f"{path} was changed since: undid only this step's "
                                    "settings in it")
                    return warnings
            if not force:
                raise ExecutorError(
                    f"{path} was modified after mailwizard wrote it; not restoring it "
                    "(use --force to restore the backup anyway)")
            warnings.append(f"{path} had been modified since; restored the backup anyway")
        if rec["existed"]:
            data = ctx.backups.load(rec["backup"])
            ex.write_atomic(path, data, rec["mode_before"], rec["uid_before"],
                            rec["gid_before"], mtime=_cool_mtime(rec))
        else:
            ex.remove(path)
            for d in reversed(rec.get("created_dirs", [])):
                if not ex.listdir(d):
                    ex.remove(d)
        for cmd in rec.get("undo_then") or []:
            res = ex.run(cmd, timeout=120)
            if not res.ok:
                warnings.append(f"`{quote_argv(cmd)}` failed: {res.output}")
        return warnings

    def shell_form(self, preview: Preview) -> ShellForm:
        """Write the file whole (the diff above shows what changes), remove it, or set its
        mode; the step's back-up copies it first."""
        pv = preview
        restore = pv.path if pv.changed and pv.path else ""
        check = self.shell_checks(pv)
        if not pv.changed and not pv.commands:
            return ShellForm(why="Already as wanted: nothing to do.", check=check)
        if pv.new_content is not None:
            mode = f", mode {self.mode:04o}" if self.mode is not None else ""
            return ShellForm(do=tuple(pv.commands), restore=restore, check=check,
                             why=f"A new file{mode}, owned by {self.owner}:{self.group}. The "
                                 "command writes it in full:")
        if pv.commands and pv.commands[0].startswith("rm "):
            why, whole = "The file is removed:", False
        elif pv.diff:
            why, whole = "This command writes the whole file with the change above:", True
        elif pv.commands:
            why, whole = "The content is already right; only the mode changes:", False
        else:
            return ShellForm(restore=restore, check=check)
        return ShellForm(do=tuple(pv.commands), why=why, whole_file=whole, restore=restore,
                         check=check)

    def shell_checks(self, preview: Preview) -> Tuple[str, ...]:
        """Read-only commands that show the file (and a certificate's subject and dates)."""
        if not preview.path:
            return ()
        path = shlex.quote(preview.path)
        out = [f"ls -l {path}"]
        if "BEGIN CERTIFICATE-" in (preview.new_content or ""):
            out.append(f"openssl x509 -in {path} -noout -subject -enddate")
        if preview.path.startswith("/etc/postfix/"):
            out.append("postfix check")
        return tuple(out)



class FileWrite(FileChange):
    """Write a whole file (a certificate, a map, a drop-in). ``content=None`` removes it."""

    def __init__(self, path: str, content: Optional[str | bytes],
                 undo_then: Sequence[Sequence[str]] = (), **kw: Any) -> None:
        super().__init__(path, **kw)
        if isinstance(content, bytes):
            content = content.decode("utf-8", "surrogateescape")
        self.content = content
        self.undo_then = [[str(a) for a in cmd] for cmd in undo_then]
        """Commands the undo runs after it restored the file (journaled with the record),
        e.g. a reload once the step's other undos have put the old files back."""

    def prepare(self, ctx: ChangeContext) -> Optional[Record]:
        rec = super().prepare(ctx)
        if rec is not None and self.undo_then:
            rec["undo_then"] = self.undo_then
        return rec

    def describe(self) -> str:
        return f"write {self.path}" if self.content is not None else f"remove {self.path}"

    def shell_form(self, preview: Preview) -> ShellForm:
        """As any file change; the commands of ``undo_then`` end the step's roll-back."""
        form = super().shell_form(preview)
        if self.undo_then and preview.changed:
            form = replace(form, undo_last=tuple(quote_argv(c) for c in self.undo_then))
        return form

    def transform(self, before: Optional[str]) -> Optional[str]:
        return self.content


class GeneratedFile(FileChange):
    """A file whose content is produced once, only if it does not exist yet (private keys,
    self-signed certificates): re-running the plan keeps the existing file."""

    def __init__(self, path: str, generate: Callable[[], str], preview_text: str,
                 commands: Sequence[str] = (), **kw: Any) -> None:
        super().__init__(path, **kw)
        self.generate = generate
        self.preview_text = preview_text
        self.commands = list(commands)
        """Shell lines that make an equivalent file by hand (the runbook), e.g. ``openssl``."""

    def describe(self) -> str:
        return f"create {self.path}"

    def transform(self, before: Optional[str]) -> Optional[str]:
        # generated once per prepare: the journal keeps those bytes (``new_copy``) and
        # commit, or a resume, writes them, never a new rendering
        return before if before is not None else self.generate()

    def preview(self, view: View) -> Preview:
        before = view.read(self.path)
        if before is not None:
            return Preview(self.kind, self.describe(), changed=False, path=self.path,
                           note="exists already: kept")
        view.write(self.path, self.preview_text.encode())
        return Preview(self.kind, self.describe(), diff="", commands=list(self.commands),
                       note=self.reason,
                       changed=True, path=self.path, new_content=self.preview_text)

    def shell_form(self, preview: Preview) -> ShellForm:
        """What the file will look like, and the commands that make an equivalent one (the
        ``commands`` given, guarded so an existing file is kept)."""
        pv = preview
        check = self.shell_checks(pv)
        if not pv.changed:
            return ShellForm(why="The file exists already and is kept as it is.", check=check)
        mode = f"{(self.mode if self.mode is not None else 0o644):04o}"
        path = shlex.quote(self.path)
        form = ShellForm(show=pv.new_content or self.preview_text, restore=self.path,
                         check=check,
                         show_why="mailwizard generates this file once and keeps it if it "
                                  f"exists. It will look like this (mode {mode}, owned by "
                                  f"{self.owner}:{self.group}):")
        if not pv.commands:
            return replace(form, why="There is no shell equivalent: let `mailwizard apply` "
                                     "make this file, or put a suitable file at "
                                     f"{code_span(self.path)} yourself.")
        owner = shlex.quote(f"{self.owner}:{self.group}")
        return replace(form, do=(*pv.commands, f"chmod {mode} {path}", f"chown {owner} {path}"),
                       guard=f"[ -e {path} ]",
                       guard_why=f"only when {self.path} does not exist yet",
                       why="By hand, this makes an equivalent file (the bytes differ from what "
                           "mailwizard would write: a new random key, serial number or "
                           "signature):")


def _cool_mtime(rec: Record) -> Optional[float]:
    """For a restored main.cf (``PostfixParams``' file): an mtime a few seconds back, as its
    apply wrote it, so the ``postfix reload`` right after the restore does not pause for the
    file to "cool down" (a guard against half-written files; the write is atomic and
    fsynced before the rename). None (now) for every other file."""
    return time.time() - 5 if rec.get("editor") == "main.cf" else None
