"""Change types: the units a recipe plans and the engine applies, journals and undoes.

Every change follows one protocol (driven by :mod:`wizard.engine`):

``preview(view)``
    What would happen, against a :class:`View` of the target that already includes the
    earlier planned changes (so two steps editing ``main.cf`` preview correctly). Pure.
``prepare(ctx)``
    Look at the real target. Return ``None`` when the change is already satisfied (the engine
    reports "unchanged"), otherwise a journal record (a plain dict) after taking any backup.
    The engine saves the record in the session *before* ``commit`` runs.
    Everything ``commit`` will write is decided here: a file change saves the exact new
    bytes (a generated private key too) in the backup store, 0600, and names that copy.
``commit(ctx, rec)``
    Make the change. Facts learnt on the way (directories about to be made, the state of
    /etc before a package install) go into ``rec`` and are saved with ``ctx.persist()``
    *before* acting on them. Must be safe to call again for the same record after a crash
    (resume, ``rec["resumed"]``): commands re-check their probe first.
``undo(ctx, rec, force)``
    Put things back, from the record alone; returns warnings. File changes restore bytes,
    mode and owner exactly, and refuse (unless ``force``) when the admin edited the file
    since we wrote it.
``took_effect(ctx, rec)`` / ``settle(ctx, rec)``
    For an entry left ``started`` by a crash or Ctrl-C: whether its probe shows it happened
    (rollback undoes it only then). Once an entry is done or undone: drop what only a
    resume needed (the saved copy of a private key).

Every journaled type is registered with :func:`register`; the journal stores the name of
the nearest registered class (:func:`journal_type`), so undo never needs the recipes.
"""

from __future__ import annotations

import difflib
import fcntl
import json
import os
import re
import shlex
import stat as stat_mod
import time
from dataclasses import dataclass, field
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    TypeVar,
)

from . import confedit
from .errors import CommandFailed, ExecutorError, ValidationFailed
from .executor import Executor, sha256
from .platforms import Platform, stock_file
from .secret import Secret

Record = Dict[str, Any]


# --------------------------------------------------------------------------- context
class BackupStore:
    """Where file backups go (the session's ``backups/`` folder)."""

    def __init__(self, directory: os.PathLike[str] | str) -> None:
        self.directory = os.fspath(directory)

    def save(self, key: str, data: bytes) -> str:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", key)
        path = os.path.join(self.directory, name)
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(path + ".tmp", path)
        _fsync_dir(self.directory)
        return name

    def load(self, name: str) -> bytes:
        with open(os.path.join(self.directory, name), "rb") as fh:
            return fh.read()

    def remove(self, name: str) -> None:
        """Delete one saved copy (a pending private key, a secret account file)."""
        try:
            os.unlink(os.path.join(self.directory, name))
        except FileNotFoundError:
            return
        _fsync_dir(self.directory)

    def names(self) -> List[str]:
        try:
            return sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return []


def _fsync_dir(directory: str) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class ChangeContext:
    executor: Executor
    platform: Platform
    backups: BackupStore
    key: str = "0"
    """Unique prefix for backup names of the current change (journal sequence)."""
    secrets: Dict[str, Secret] = field(default_factory=dict)
    """Passwords from the answers, by user name (never journaled)."""
    log: Callable[[str], None] = lambda _msg: None
    changed_paths: Set[str] = field(default_factory=set)
    """Target paths changed so far in this apply (for commands such as postmap)."""
    done_commands: Set[Tuple[str, ...]] = field(default_factory=set)
    """Commands this session already ran successfully (and has not undone)."""
    persist: Callable[[], None] = lambda: None
    """Save the current journal record durably now (the engine wires it to the session).
    A change calls it after adding a fact to its record and *before* acting on it, so a crash
    right after leaves a record that rollback and resume can use."""
    lock_wait: float = 900.0
    """How long a resumed package change waits for a package manager that still runs."""


# --------------------------------------------------------------------------- view
class View:
    """The target as it will be after the changes previewed so far.

    Reads fall back to the real target, then to the platform's stock copy (a fresh server or a
    dry run on another platform): such paths are remembered in :attr:`from_stock`.
    """

    def __init__(self, executor: Executor, platform: Platform, use_stock: bool = True) -> None:
        self.executor = executor
        self.platform = platform
        self.use_stock = use_stock
        self.files: Dict[str, Optional[bytes]] = {}
        self.from_stock: Set[str] = set()
        self.dirs: Set[str] = set()
        self.users: Set[str] = set()
        self.groups: Set[str] = set()
        self.packages: Set[str] = set()

    def read(self, path: str) -> Optional[bytes]:
        if path in self.files:
            return self.files[path]
        data = self.executor.read_bytes(path)
        if data is None and self.use_stock:
            stock = stock_file(self.platform, path)
            if stock is not None:
                self.from_stock.add(path)
                data = stock.read_bytes()
        self.files[path] = data
        return data

    def read_text(self, path: str) -> Optional[str]:
        data = self.read(path)
        return None if data is None else data.decode("utf-8", "surrogateescape")

    def write(self, path: str, data: Optional[bytes]) -> None:
        self.read(path)
        self.files[path] = data

    def exists(self, path: str) -> bool:
        return self.read(path) is not None or path in self.dirs or self.executor.exists(path)

    def user_exists(self, name: str) -> bool:
        return name in self.users or name in self.executor.users()

    def group_exists(self, name: str) -> bool:
        return name in self.groups or name in self.executor.groups()


@dataclass
class Preview:
    """What one change would do, for the TUI, ``plan`` and the runbook."""

    kind: str
    title: str
    diff: str = ""
    """Unified diff for file changes ('' when the content does not change)."""
    commands: List[str] = field(default_factory=list)
    """Exact command lines (shell syntax) that this change runs or stands for."""
    note: str = ""
    changed: bool = True
    path: str = ""
    new_content: Optional[str] = None
    """The whole new file when the file is created (runbook shows it in full)."""


def unified_diff(path: str, before: Optional[bytes], after: Optional[bytes],
                 stock: bool = False) -> str:
    a = (before or b"").decode("utf-8", "replace").splitlines(keepends=True)
    b = (after or b"").decode("utf-8", "replace").splitlines(keepends=True)
    label_a = f"{path} (stock)" if stock and before is not None else (
        path if before is not None else "/dev/null")
    label_b = path if after is not None else "/dev/null"
    lines = list(difflib.unified_diff(a, b, label_a, label_b, n=2))
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _q(args: Sequence[str]) -> str:
    return " ".join(shlex.quote(str(a)) for a in args)


# --------------------------------------------------------------------------- base
class Change:
    kind = "change"

    def describe(self) -> str:
        raise NotImplementedError

    def preview(self, view: View) -> Preview:
        raise NotImplementedError

    def prepare(self, ctx: ChangeContext) -> Optional[Record]:
        raise NotImplementedError

    def commit(self, ctx: ChangeContext, rec: Record) -> None:
        raise NotImplementedError

    @classmethod
    def undo_record(cls, ctx: ChangeContext, rec: Record, force: bool = False) -> List[str]:
        """Undo from the journal record alone (the plan may differ by now)."""
        return []

    def undo(self, ctx: ChangeContext, rec: Record, force: bool = False) -> List[str]:
        return type(self).undo_record(ctx, rec, force)

    @classmethod
    def took_effect(cls, ctx: ChangeContext, rec: Record) -> Optional[bool]:
        """For an entry left ``started`` (interrupted in flight): did the change happen?
        ``True``/``False`` from the change's probe, ``None`` when it cannot tell (undo then
        runs anyway: every undo copes with a change that was not made)."""
        return None

    @classmethod
    def settle(cls, ctx: ChangeContext, rec: Record) -> None:
        """Called once the entry is done or undone: drop what only a resume needed."""

    def touched_paths(self) -> List[str]:
        return []


CHANGE_TYPES: Dict[str, type] = {}
"""The registry of journaled change types: name in the journal -> class. Filled by
:func:`register`, here in the core only, so any process that imports :mod:`wizard.changes`
can undo every journal entry (recipes subclass these types; a subclass is journaled under the
name of its nearest registered ancestor and must keep everything its undo needs in the
record)."""

LEGACY_TYPES = {"SystemdDropIn": "FileWrite", "PrivateKeyFile": "FileWrite",
                "ConfiguredService": "Service"}
"""Names older journals used for recipe subclasses, and the type that undoes them."""

_C = TypeVar("_C", bound=type)


def register(cls: _C) -> _C:
    """Class decorator: put a change type in :data:`CHANGE_TYPES`."""
    name = cls.__name__
    if CHANGE_TYPES.get(name, cls) is not cls:
        raise TypeError(f"change type {name} is registered twice")
    CHANGE_TYPES[name] = cls
    return cls


def change_types() -> Dict[str, type]:
    """Journal name -> class, for every registered change type (and older journal names)."""
    out = dict(CHANGE_TYPES)
    for old, new in LEGACY_TYPES.items():
        out.setdefault(old, CHANGE_TYPES[new])
    return out


def journal_type(change: Any) -> str:
    """The registered name a change (or change class) is journaled under."""
    cls = change if isinstance(change, type) else type(change)
    for base in cls.__mro__:
        if CHANGE_TYPES.get(base.__name__) is base:
            return base.__name__
    raise TypeError(f"{cls.__name__} derives from no registered change type")


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


@register
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
    """Name of the structured editor (``INVERSE``) that can undo just this edit."""

    def remember(self, before: Optional[str], rec: Record) -> None:
        """Store in ``rec['old']`` what the inverse edit needs (e.g. old parameter values)."""

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
            inverse = INVERSE.get(rec.get("editor", ""))
            if inverse is not None and current is not None and "old" in rec and not force:
                text = inverse(current.decode("utf-8", "surrogateescape"), rec["old"])
                if text is not None:
                    st = ex.stat(path)
                    ex.write_atomic(path, text.encode("utf-8", "surrogateescape"),
                                    st.mode if st else 0o644, st.uid if st else 0,
                                    st.gid if st else 0)
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
                            rec["gid_before"])
        else:
            ex.remove(path)
            for d in reversed(rec.get("created_dirs", [])):
                if not ex.listdir(d):
                    ex.remove(d)
        for cmd in rec.get("undo_then") or []:
            res = ex.run(cmd, timeout=120)
            if not res.ok:
                warnings.append(f"`{_q(cmd)}` failed: {res.output}")
        return warnings


@register
class FileWrite(FileChange):
    """Write a whole file (a certificate, a map, a drop-in). ``content=None`` removes it."""

    def __init__(self, path: str, content: Optional[str | bytes], **kw: Any) -> None:
        super().__init__(path, **kw)
        if isinstance(content, bytes):
            content = content.decode("utf-8", "surrogateescape")
        self.content = content

    def describe(self) -> str:
        return f"write {self.path}" if self.content is not None else f"remove {self.path}"

    def transform(self, before: Optional[str]) -> Optional[str]:
        return self.content


@register
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
        self._made: Optional[str] = None

    def describe(self) -> str:
        return f"create {self.path}"

    def transform(self, before: Optional[str]) -> Optional[str]:
        if before is not None:
            return before
        if self._made is None:
            self._made = self.generate()
        return self._made

    def preview(self, view: View) -> Preview:
        before = view.read(self.path)
        if before is not None:
            return Preview(self.kind, self.describe(), changed=False, path=self.path,
                           note="exists already: kept")
        view.write(self.path, self.preview_text.encode())
        return Preview(self.kind, self.describe(), diff="", commands=list(self.commands),
                       note=self.reason,
                       changed=True, path=self.path, new_content=self.preview_text)


@register
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

    @classmethod
    def undo_record(cls, ctx: ChangeContext, rec: Record, force: bool = False) -> List[str]:
        ex = ctx.executor
        if rec["existed"]:
            ex.write_atomic(rec["path"], ctx.backups.load(rec["backup"]), rec["mode"],
                            rec["uid"], rec["gid"])
        else:
            ex.remove(rec["path"])
        return []


class _EditChange(FileChange):
    """A structured edit with an inverse (restores just the keys it set)."""

    def read_values(self, text: Optional[str]) -> Dict[str, str]:
        raise NotImplementedError

    def apply_values(self, text: Optional[str], values: Mapping[str, Optional[str]]) -> str:
        raise NotImplementedError

    def wanted(self) -> Mapping[str, str]:
        raise NotImplementedError

    def transform(self, before: Optional[str]) -> Optional[str]:
        return self.apply_values(before, dict(self.wanted()))

    def remember(self, before: Optional[str], rec: Record) -> None:
        current = self.read_values(before)
        rec["old"] = {k: current.get(k) for k in self.wanted()}


@register
class PostfixParams(_EditChange):
    """Set (or remove) main.cf parameters with ``postconf -e`` semantics, in Python.

    The file's mtime is set a few seconds back after the atomic write so Postfix commands run
    right after it do not pause "to let main.cf cool down" (the pause protects against reading
    a half-written file, which an atomic rename cannot produce).
    """

    editor = "main.cf"

    def __init__(self, params: Mapping[str, str], remove: Sequence[str] = (),
                 path: str = "/etc/postfix/main.cf", **kw: Any) -> None:
        kw.setdefault("cool_mtime", True)
        super().__init__(path, **kw)
        self.params = dict(params)
        self.remove_names = list(remove)

    def describe(self) -> str:
        names = list(self.params) + [f"-{n}" for n in self.remove_names]
        shown = ", ".join(names[:4]) + (f" (+{len(names) - 4})" if len(names) > 4 else "")
        return f"set in {self.path}: {shown}"

    def wanted(self) -> Mapping[str, str]:
        return self.params

    def read_values(self, text: Optional[str]) -> Dict[str, str]:
        return confedit.read_main_cf(text)

    def apply_values(self, text: Optional[str], values: Mapping[str, Optional[str]]) -> str:
        sets = {k: v for k, v in values.items() if v is not None}
        drops = [k for k, v in values.items() if v is None]
        return confedit.edit_main_cf(text, sets, drops)

    def transform(self, before: Optional[str]) -> Optional[str]:
        return confedit.edit_main_cf(before, self.params, self.remove_names)

    def remember(self, before: Optional[str], rec: Record) -> None:
        current = self.read_values(before)
        rec["old"] = {k: current.get(k) for k in [*self.params, *self.remove_names]}

    def postconf_commands(self) -> List[str]:
        cmds = []
        if self.params:
            cmds.append("postconf -e " + " ".join(
                shlex.quote(f"{k} = {v}") for k, v in self.params.items()))
        if self.remove_names:
            cmds.append("postconf -X " + " ".join(self.remove_names))
        return cmds

    def preview(self, view: View) -> Preview:
        p = super().preview(view)
        p.note = ("; ".join(filter(None, [p.note, "by hand: " + " && ".join(
            self.postconf_commands())])) if p.changed else p.note)
        return p


@register
class MasterService(FileChange):
    """Set whole service entries in master.cf (e.g. ``submission inet``)."""

    def __init__(self, entries: Sequence[confedit.MasterEntry],
                 path: str = "/etc/postfix/master.cf", **kw: Any) -> None:
        super().__init__(path, **kw)
        self.entries = list(entries)

    def describe(self) -> str:
        return f"set in {self.path}: " + ", ".join(f"{e.name}/{e.type}" for e in self.entries)

    def transform(self, before: Optional[str]) -> Optional[str]:
        return confedit.edit_master_cf(before, self.entries)

    editor = "master.cf"

    def remember(self, before: Optional[str], rec: Record) -> None:
        cur = confedit.read_master_cf(before)
        rec["old"] = {f"{e.name}/{e.type}": cur.get((e.name, e.type)) for e in self.entries}


@register
class DovecotSettings(_EditChange):
    """Set top-level ``key = value`` settings in one Dovecot configuration file."""

    editor = "dovecot"

    def __init__(self, path: str, settings: Mapping[str, str], **kw: Any) -> None:
        super().__init__(path, **kw)
        self.settings = dict(settings)

    def describe(self) -> str:
        return f"set in {self.path}: " + ", ".join(self.settings)

    def wanted(self) -> Mapping[str, str]:
        return self.settings

    def read_values(self, text: Optional[str]) -> Dict[str, str]:
        return confedit.read_dovecot_conf(text)

    def apply_values(self, text: Optional[str], values: Mapping[str, Optional[str]]) -> str:
        return confedit.edit_dovecot_conf(
            text, {k: v for k, v in values.items() if v is not None},
            [k for k, v in values.items() if v is None])


@register
class ShellVars(_EditChange):
    """Set ``KEY=value`` lines in a shell-style settings file (/etc/default, /etc/sysconfig)."""

    editor = "shell"

    def __init__(self, path: str, values: Mapping[str, str], **kw: Any) -> None:
        super().__init__(path, **kw)
        self.values = dict(values)

    def describe(self) -> str:
        return f"set in {self.path}: " + ", ".join(self.values)

    def wanted(self) -> Mapping[str, str]:
        return self.values

    def read_values(self, text: Optional[str]) -> Dict[str, str]:
        return confedit.read_shell_vars(text)

    def apply_values(self, text: Optional[str], values: Mapping[str, Optional[str]]) -> str:
        return confedit.edit_shell_vars(text, {k: v for k, v in values.items() if v is not None})


@register
class AliasEntries(_EditChange):
    """Set entries in an aliases(5) file."""

    editor = "aliases"

    def __init__(self, entries: Mapping[str, Sequence[str]], path: str = "/etc/aliases",
                 **kw: Any) -> None:
        super().__init__(path, **kw)
        self.entries = {k: list(v) for k, v in entries.items()}

    def describe(self) -> str:
        return f"set in {self.path}: " + ", ".join(self.entries)

    def wanted(self) -> Mapping[str, str]:
        return {k: ", ".join(v) for k, v in self.entries.items()}

    def read_values(self, text: Optional[str]) -> Dict[str, str]:
        return {k: ", ".join(v) for k, v in confedit.read_aliases(text).items()}

    def apply_values(self, text: Optional[str], values: Mapping[str, Optional[str]]) -> str:
        return confedit.edit_aliases(text, {
            k: [t.strip() for t in v.split(",")] for k, v in values.items() if v is not None})

    def transform(self, before: Optional[str]) -> Optional[str]:
        return confedit.edit_aliases(before, self.entries)


def _inverse_master(text: Optional[str], old: Mapping[str, Optional[str]]) -> str:
    out = text or ""
    for key, entry_text in old.items():
        name, typ = key.split("/", 1)
        current = confedit.read_master_cf(out).get((name, typ))
        if entry_text is None:
            out = confedit.edit_master_cf(out, [], remove=[(name, typ)])
        elif current is not None:
            out = out.replace(current, entry_text, 1)
    return out


def _split_values(values: Mapping[str, Optional[str]]) -> Tuple[Dict[str, str], List[str]]:
    return ({k: v for k, v in values.items() if v is not None},
            [k for k, v in values.items() if v is None])


INVERSE: Dict[str, Callable[[Optional[str], Mapping[str, Optional[str]]], Optional[str]]] = {
    "main.cf": lambda t, old: confedit.edit_main_cf(t, *_split_values(old)),
    "dovecot": lambda t, old: confedit.edit_dovecot_conf(t, *_split_values(old)),
    "shell": lambda t, old: confedit.edit_shell_vars(t, _split_values(old)[0]),
    "aliases": lambda t, old: confedit.edit_aliases(t, {
        k: [x.strip() for x in v.split(",")] for k, v in _split_values(old)[0].items()}),
    "master.cf": _inverse_master,
}
"""Editors that undo one structured edit when later edits changed the same file."""


# --------------------------------------------------------------------------- commands
@register
class Command(Change):
    """Run a command.

    Args:
        argv: the command.
        undo: command that reverses it (None: nothing to undo, e.g. ``newaliases`` whose
            effect is redone by the undo of the file change plus ``undo_rerun``).
        unless: probe; when it exits 0 the change is already satisfied.
        creates: target path; when it exists the change is already satisfied.
        after_files: run only when one of these paths changed in this apply (e.g. ``postmap``
            after its source changed), or when ``creates`` is missing.
    """

    kind = "command"

    def __init__(self, argv: Sequence[str], *, undo: Optional[Sequence[str]] = None,
                 unless: Optional[Sequence[str]] = None, creates: Optional[str] = None,
                 description: str = "", daemon: bool = False,
                 env: Optional[Mapping[str, str]] = None,
                 after_files: Sequence[str] = (),
                 input: Optional[str] = None, timeout: float = 600) -> None:
        self.argv = [str(a) for a in argv]
        self.undo_argv = [str(a) for a in undo] if undo else None
        self.unless = [str(a) for a in unless] if unless else None
        self.creates = creates
        self.description = description
        self.daemon = daemon
        self.env = dict(env or {})
        self.after_files = list(after_files)
        self.input = input
        self.timeout = timeout

    def describe(self) -> str:
        return self.description or f"run {_q(self.argv)}"

    def shell(self) -> str:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        return (env + " " if env else "") + _q(self.argv)

    def preview(self, view: View) -> Preview:
        if self.creates and view.exists(self.creates):
            return Preview(self.kind, self.describe(), commands=[self.shell()], changed=False,
                           note=f"{self.creates} exists: skipped")
        return Preview(self.kind, self.describe(), commands=[self.shell()],
                       note=("undo: " + _q(self.undo_argv)) if self.undo_argv else "")

    def satisfied(self, ctx: ChangeContext, changed_paths: Set[str]) -> bool:
        """True when running the command would change nothing."""
        ex = ctx.executor
        if self.after_files and any(p in changed_paths for p in self.after_files):
            return False
        if self.creates:
            return ex.exists(self.creates)
        if self.unless:
            return ex.run(self.unless, quiet=True, timeout=120).ok
        if self.after_files:
            return True
        # no probe: the session's ledger says whether it already ran
        return tuple(self.argv) in ctx.done_commands

    def prepare(self, ctx: ChangeContext) -> Optional[Record]:
        if self.satisfied(ctx, ctx.changed_paths):
            return None
        return {"argv": self.argv, "undo": self.undo_argv, "env": self.env,
                "unless": self.unless, "creates": self.creates,
                "after_files": self.after_files}

    def commit(self, ctx: ChangeContext, rec: Record) -> None:
        if rec.get("resumed") and type(self).took_effect(ctx, rec):
            return  # the interrupted run got it done: its probe says so
        res = ctx.executor.run(self.argv, env=self.env, daemon=self.daemon, input=self.input,
                               timeout=self.timeout)
        if not res.ok:
            raise CommandFailed(self.argv, res.returncode, res.output)

    @classmethod
    def took_effect(cls, ctx: ChangeContext, rec: Record) -> Optional[bool]:
        if rec.get("unless"):
            return ctx.executor.run(rec["unless"], quiet=True, timeout=120).ok
        if rec.get("creates") and not rec.get("after_files"):
            return ctx.executor.exists(rec["creates"])
        return None

    @classmethod
    def undo_record(cls, ctx: ChangeContext, rec: Record, force: bool = False) -> List[str]:
        if rec.get("undo"):
            res = ctx.executor.run(rec["undo"], env=rec.get("env") or {}, timeout=600)
            if not res.ok:
                return [f"undo command `{_q(rec['undo'])}` failed: {res.output}"]
        return []


# --------------------------------------------------------------------------- packages
def etc_snapshot(ex: Executor, top: str = "/etc") -> Dict[str, str]:
    """Target path -> ``dir``, ``link:<target>`` or ``sha:<sha256>`` for everything under top."""
    out: Dict[str, str] = {}
    base = str(ex.path(top))
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            target = top + p[len(base):]
            out[target] = _entry_state(p) or ""
    return out


def _entry_state(host_path: str) -> Optional[str]:
    try:
        st = os.lstat(host_path)
    except FileNotFoundError:
        return None
    if stat_mod.S_ISLNK(st.st_mode):
        return "link:" + os.readlink(host_path)
    if stat_mod.S_ISDIR(st.st_mode):
        return "dir"
    if stat_mod.S_ISREG(st.st_mode):
        with open(host_path, "rb") as fh:
            return "sha:" + (sha256(fh.read()) or "")
    return "other"


def _owned_by_packages(ex: Executor, manager: str, paths: Sequence[str]) -> Set[str]:
    """The paths some installed package owns (dpkg -S / rpm -qf)."""
    owned: Set[str] = set()
    for i in range(0, len(paths), 200):
        chunk = list(paths[i:i + 200])
        if manager == "apt":
            res = ex.run(["dpkg-query", "-S", *chunk], quiet=True, timeout=120)
            for line in res.stdout.splitlines():
                if ": /" in line and not line.startswith("diversion"):
                    owned.update(p.strip() for p in line.split(": ", 1)[1].split(","))
        else:
            res = ex.run(["rpm", "-qf", "--qf", "%{NAME}\\n", *chunk], quiet=True,
                         timeout=120)
            for path, line in zip(chunk, res.stdout.splitlines()):
                if "not owned" not in line:
                    owned.add(path)
    return owned


PACKAGE_LOCKS = {
    "apt": ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock", "/var/cache/debconf/config.dat"),
    "dnf": ("/var/lib/rpm/.rpm.lock",),
    "yum": ("/var/lib/rpm/.rpm.lock",),
}
"""Files a running package manager holds an fcntl lock on (dpkg, debconf, rpm)."""

PACKAGE_PIDFILES = {
    "dnf": ("/var/cache/dnf/rpmdb_lock.pid", "/var/cache/dnf/download_lock.pid",
            "/var/cache/dnf/metadata_lock.pid", "/run/dnf/rpmtransaction.lock"),
    "yum": ("/var/run/yum.pid", "/run/yum.pid"),
}
"""Pid files a running dnf/yum keeps (a stale one names a dead process)."""


def package_manager_busy(ex: Executor, manager: str) -> Optional[str]:
    """The lock or pid file showing that a package manager runs in the target, or None."""
    for target in PACKAGE_LOCKS.get(manager, ()):
        host = ex.path(target)
        try:
            fd = os.open(str(host), os.O_RDWR)
        except OSError:
            continue
        try:
            for lock in (fcntl.lockf, fcntl.flock):  # dpkg/rpm use fcntl locks, debconf flock
                try:
                    lock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    return target
                lock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    for target in PACKAGE_PIDFILES.get(manager, ()):
        text = ex.read_text(target)
        m = re.fullmatch(r"\s*(\d+)\s*", text or "")
        if m is None:
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass
        return target
    return None


def wait_for_package_manager(ctx: ChangeContext, manager: str, poll: float = 1.0) -> None:
    """Wait (at most ``ctx.lock_wait`` seconds) until no package manager holds its lock in
    the target: an apt-get or dnf orphaned by a killed run finishes its transaction first."""
    busy = package_manager_busy(ctx.executor, manager)
    if busy is None:
        return
    ctx.log(f"a package manager is still running ({busy} is locked); waiting up to "
            f"{int(ctx.lock_wait)} s for it to finish")
    deadline = time.monotonic() + ctx.lock_wait
    while busy is not None:
        if time.monotonic() >= deadline:
            raise ExecutorError(f"a package manager still holds {busy}; let it finish, then "
                                "run mailwizard again")
        time.sleep(poll)
        busy = package_manager_busy(ctx.executor, manager)
    ctx.log("the package manager has finished; going on")


def _record_install_effects(ctx: ChangeContext, rec: Record) -> None:
    """What the install left under /etc (package files and what maintainer scripts generate,
    such as /etc/aliases) and in the account files, against the write-ahead snapshot: an undo
    removes it again."""
    before = json.loads(ctx.backups.load(rec["etc_before"]).decode())
    rec["etc_created"] = {p: v for p, v in etc_snapshot(ctx.executor).items()
                          if p not in before}
    rec["accounts_added"] = _accounts_added(ctx, rec["accounts_before"])


@register
class Packages(Change):
    """Install and remove packages; undo removes only what this run installed."""

    kind = "packages"

    def __init__(self, manager: str, install: Sequence[str] = (), remove: Sequence[str] = (),
                 debconf: Sequence[str] = ()) -> None:
        self.manager = manager
        self.install = list(install)
        self.remove = list(remove)
        self.debconf = list(debconf)

    def describe(self) -> str:
        parts = []
        if self.install:
            parts.append("install " + " ".join(self.install))
        if self.remove:
            parts.append("remove " + " ".join(self.remove))
        return "; ".join(parts) or "packages"

    def _install_cmd(self, names: Sequence[str]) -> List[str]:
        if self.manager == "apt":
            return ["apt-get", "install", "-y", "-q", "-o", "Dpkg::Options::=--force-confdef",
                    "-o", "Dpkg::Options::=--force-confold", *names]
        return [self.manager, "install", "-y", *names]

    def _remove_cmd(self, names: Sequence[str]) -> List[str]:
        if self.manager == "apt":
            return ["apt-get", "remove", "-y", "-q", *names]
        return [self.manager, "remove", "-y", *names]

    def commands(self) -> List[str]:
        cmds = []
        if self.debconf:
            cmds.append("debconf-set-selections <<'EOF'\n" + "\n".join(self.debconf) + "\nEOF")
        if self.install:
            cmds.append(_q(self._install_cmd(self.install)))
        if self.remove:
            cmds.append(_q(self._remove_cmd(self.remove)) + "   # only those installed")
        return cmds

    def preview(self, view: View) -> Preview:
        view.packages.update(self.install)
        return Preview(self.kind, self.describe(), commands=self.commands())

    def installed(self, ctx: ChangeContext, names: Sequence[str]) -> Set[str]:
        if not names:
            return set()
        ex = ctx.executor
        if self.manager == "apt":
            res = ex.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\\n",
                          *names], quiet=True, timeout=120)
            out = set()
            for line in res.stdout.splitlines():
                parts = line.split()
                if len(parts) >= 2 and parts[1].startswith("ii"):
                    out.add(parts[0].split(":")[0])
            return out
        res = ex.run(["rpm", "-q", "--qf", "%{NAME}\\n", *names], quiet=True, timeout=120)
        return {line.strip() for line in res.stdout.splitlines()
                if line.strip() in names}

    def prepare(self, ctx: ChangeContext) -> Optional[Record]:
        have = self.installed(ctx, list(self.install) + list(self.remove))
        missing = [p for p in self.install if p not in have]
        present = [p for p in self.remove if p in have]
        if not missing and not present:
            return None
        return {"to_install": missing, "to_remove": present, "manager": self.manager}

    def commit(self, ctx: ChangeContext, rec: Record) -> None:
        ex = ctx.executor
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        if rec["to_install"] and "etc_before" not in rec and "etc_created" not in rec:
            # write-ahead: what /etc and the account files were before the install is saved
            # and journaled before apt/dnf starts (it creates files and accounts)
            rec["etc_before"] = ctx.backups.save(
                f"{ctx.key}-etc-before.json",
                json.dumps(etc_snapshot(ex), sort_keys=True).encode())
            rec["accounts_before"] = _save_account_files(ctx)
            ctx.persist()
        to_install = list(rec["to_install"])
        to_remove = list(rec["to_remove"])
        # a killed run may have left apt/dnf running (it finishes on its own), or a timer
        # (unattended-upgrades, dnf-makecache) holds the lock: wait for it first
        wait_for_package_manager(ctx, rec["manager"])
        if rec.get("resumed"):
            # a killed run may have left dpkg half-configured: finish that, then do only
            # what is still missing
            if rec["manager"] == "apt":
                ex.run(["dpkg", "--configure", "-a"], env=env, timeout=1800)
            have = self.installed(ctx, to_install + to_remove)
            to_install = [p for p in to_install if p not in have]
            to_remove = [p for p in to_remove if p in have]
        if to_install:
            if self.manager == "apt":
                if self.debconf:
                    ex.run(["debconf-set-selections"], input="\n".join(self.debconf) + "\n",
                           check=True)
                upd = ex.run(["apt-get", "update", "-q"], env=env, timeout=900)
                if not upd.ok:
                    ctx.log("apt-get update failed; trying the install with the current lists")
            res = ex.run(self._install_cmd(to_install), env=env, timeout=1800)
            if not res.ok:
                raise CommandFailed(self._install_cmd(to_install), res.returncode,
                                    res.output[-3000:])
        if rec["to_install"] and "etc_before" in rec:
            _record_install_effects(ctx, rec)
        if to_remove:
            res = ex.run(self._remove_cmd(to_remove), env=env, timeout=1800)
            if not res.ok:
                raise CommandFailed(self._remove_cmd(to_remove), res.returncode,
                                    res.output[-3000:])

    @classmethod
    def took_effect(cls, ctx: ChangeContext, rec: Record) -> Optional[bool]:
        self = cls(rec["manager"])
        have = self.installed(ctx, list(rec.get("to_install") or []) +
                              list(rec.get("to_remove") or []))
        return (any(p in have for p in rec.get("to_install") or [])
                or any(p not in have for p in rec.get("to_remove") or []))

    @classmethod
    def undo_record(cls, ctx: ChangeContext, rec: Record, force: bool = False) -> List[str]:
        warnings = []
        ex = ctx.executor
        self = cls(rec["manager"])
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        wait_for_package_manager(ctx, rec["manager"])
        if rec.get("to_install") and "etc_created" not in rec and "etc_before" in rec:
            # interrupted before "done": compare with the write-ahead snapshot now
            _record_install_effects(ctx, rec)
        have = self.installed(ctx, list(rec.get("to_install") or []) +
                              list(rec.get("to_remove") or []))
        purge = [p for p in rec.get("to_install") or [] if p in have]
        if purge:
            warnings.extend(cls._stop_package_units(ex, {**rec, "to_install": purge}))
            cmd = (["apt-get", "purge", "-y", "-q", "--auto-remove", *purge]
                   if self.manager == "apt" else [self.manager, "remove", "-y", *purge])
            res = ex.run(cmd, env=env, timeout=1800)
            if not res.ok:
                warnings.append(f"could not remove {' '.join(purge)}: {res.output}")
        if rec.get("to_install") and (not purge or res.ok):
            warnings.extend(cls._remove_leftovers(ex, rec))
            warnings.extend(_remove_added_accounts(ctx, rec))
        reinstall = [p for p in rec.get("to_remove") or [] if p not in have]
        if reinstall:
            res = ex.run(self._install_cmd(reinstall), env=env, timeout=1800)
            if not res.ok:
                warnings.append(f"could not reinstall {' '.join(reinstall)}")
        return warnings

    @staticmethod
    def _stop_package_units(ex: Executor, rec: Record) -> List[str]:
        """Under systemd, stop the active services the packages about to be removed ship.

        Maintainer scripts usually do this, but Debian 13's postfix prerm does not: after the
        purge its master kept running from a unit file that no longer exists."""
        if service_manager(ex) != "systemd":
            return []
        names = list(rec["to_install"])
        res = ex.run(["dpkg-query", "-L", *names] if rec["manager"] == "apt"
                     else ["rpm", "-ql", *names], quiet=True, timeout=120)
        units = sorted({os.path.basename(line.strip()) for line in res.stdout.splitlines()
                        if re.match(r"^(/usr)?/lib/systemd/system/[^/@]+\.service$",
                                    line.strip())})
        active = [u for u in units
                  if ex.run(["systemctl", "is-active", "--quiet", u], quiet=True,
                            timeout=60).ok]
        if not active:
            return []
        stop = ex.run(["systemctl", "stop", *active], timeout=300)
        return [] if stop.ok else [f"could not stop {' '.join(active)}: {stop.output}"]

    @staticmethod
    def _remove_leftovers(ex: Executor, rec: Record) -> List[str]:
        """After the purge: delete what the install created under /etc and is still there
        unchanged and owned by no installed package. Changed files are kept (and named)."""
        created: Dict[str, str] = rec.get("etc_created") or {}
        present = {p: st for p in created if (st := _entry_state(str(ex.path(p)))) is not None}
        if not present:
            return []
        owned = _owned_by_packages(ex, rec["manager"], sorted(present))
        warnings = []
        for p in sorted(present, key=lambda x: (-x.count("/"), x)):
            if p in owned:
                continue
            if created[p] == "dir":
                if present[p] == "dir" and not ex.listdir(p):
                    ex.remove(p)
            elif present[p] == created[p]:
                ex.remove(p)
            else:
                warnings.append(f"{p} came with the packages and was changed since: kept")
        return warnings


# --------------------------------------------------------------------------- services
def service_manager(executor: Executor, name: str = "") -> str:
    """How to control service ``name`` on the target: ``systemd`` when systemd runs it,
    ``sysv`` when an init script exists, else ``direct`` (containers and chroots without an
    init system: mailwizard starts the daemons itself)."""
    if executor.exists("/run/systemd/system"):
        return "systemd"
    if name and executor.exists(f"/etc/init.d/{name}"):
        return "sysv"
    return "direct" if name else "sysv"


# Direct control of the daemons we manage when no init system runs (containers, chroots).
DIRECT: Dict[str, Dict[str, List[List[str]]]] = {
    "postfix": {
        "start": [["postfix", "start"]],
        "stop": [["postfix", "stop"]],
        "reload": [["postfix", "reload"]],
        "status": [["postfix", "status"]],
    },
    "dovecot": {
        "start": [["dovecot"]],
        "stop": [["doveadm", "stop"]],
        "reload": [["doveadm", "reload"]],
        "status": [["doveadm", "service", "status"]],
    },
}


@register
class Service(Change):
    """Enable and (re)start or reload a service, through systemd, SysV or directly.

    ``action`` is ``start`` (start if stopped, else restart when ``restart_if_running``), or
    ``reload`` (reload if running, else start). Undo stops what this run started and disables
    what it enabled.
    """

    kind = "service"

    def __init__(self, name: str, action: str = "start", enable: bool = True,
                 units: Optional[Sequence[str]] = None, restart_if_running: bool = False,
                 direct: Optional[Dict[str, List[List[str]]]] = None,
                 status_unit: Optional[str] = None) -> None:
        self.name = name
        self.action = action
        self.enable = enable
        self.unit = (units or [name])[0]
        self.status_unit = status_unit or self.unit
        self.restart_if_running = restart_if_running
        self.direct = direct or DIRECT.get(name, {})

    def describe(self) -> str:
        verb = {"start": "start", "reload": "reload or start", "restart": "restart"}[self.action]
        return f"{'enable and ' if self.enable else ''}{verb} {self.name}"

    def preview(self, view: View) -> Preview:
        cmds = []
        if self.enable:
            cmds.append(f"systemctl enable {shlex.quote(self.unit)}")
        if self.action == "reload":
            cmds.append(f"systemctl reload-or-restart {shlex.quote(self.unit)}")
        elif self.action == "restart" or self.restart_if_running:
            cmds.append(f"systemctl restart {shlex.quote(self.unit)}")
        else:
            cmds.append(f"systemctl start {shlex.quote(self.unit)}")
        note = f"without systemd: service {self.name} start (init script)"
        if self.direct.get("start"):
            note += ", else " + "; ".join(_q(c) for c in self.direct["start"])
        return Preview(self.kind, self.describe(), commands=cmds, note=note)

    # -- state probes
    def _running(self, ctx: ChangeContext, mgr: str) -> bool:
        ex = ctx.executor
        if mgr == "systemd":
            return ex.run(["systemctl", "is-active", "--quiet", self.status_unit], quiet=True,
                          timeout=60).ok
        pidfile = self.direct.get("pidfile")  # [[path, name...]]: read from /proc, no tool
        if pidfile:
            return ex.daemon_pid(pidfile[0][0], pidfile[0][1:]) is not None
        if mgr == "direct" or self.direct.get("status"):
            cmds = self.direct.get("status", [])
            return bool(cmds) and all(ex.run(c, quiet=True, timeout=60).ok for c in cmds)
        return ex.run(["service", self.name, "status"], quiet=True, timeout=60).ok

    def _enabled(self, ctx: ChangeContext, mgr: str) -> bool:
        if mgr != "systemd":
            return True
        return ctx.executor.run(["systemctl", "is-enabled", "--quiet", self.unit], quiet=True,
                                timeout=60).ok

    def _do(self, ctx: ChangeContext, mgr: str, verb: str) -> None:
        ex = ctx.executor
        if mgr == "systemd":
            cmds = [["systemctl", verb, self.unit]]
        elif mgr == "sysv":
            cmds = [["service", self.name, verb]]
        elif self.direct.get(verb):
            cmds = self.direct[verb]
        elif verb == "stop" and self.direct.get("pidfile"):
            spec = self.direct["pidfile"][0]
            ex.stop_daemon(spec[0], spec[1:])
            return
        else:
            raise ExecutorError(f"no way to {verb} {self.name}: no systemd, no init script")
        for cmd in cmds:
            res = ex.run(cmd, daemon=verb in ("start", "restart", "reload"), timeout=180)
            if not res.ok:
                raise CommandFailed(cmd, res.returncode, res.output)

    def prepare(self, ctx: ChangeContext) -> Optional[Record]:
        mgr = service_manager(ctx.executor, self.name)
        running = self._running(ctx, mgr)
        enabled = self._enabled(ctx, mgr)
        rec: Record = {"manager": mgr, "was_running": running, "was_enabled": enabled,
                       "name": self.name, "unit": self.unit, "status_unit": self.status_unit,
                       "enable": self.enable, "direct": self.direct}
        if self.action == "start" and running and not self.restart_if_running and (
                enabled or not self.enable):
            return None
        return rec

    def commit(self, ctx: ChangeContext, rec: Record) -> None:
        mgr = rec["manager"]
        if self.enable and not rec["was_enabled"] and mgr == "systemd":
            self._do(ctx, mgr, "enable")
        running = self._running(ctx, mgr)
        if not running:
            self._do(ctx, mgr, "start")
        elif self.action == "reload":
            self._do(ctx, mgr, "reload")
        elif self.action == "restart" or self.restart_if_running:
            if mgr == "systemd":
                self._do(ctx, mgr, "restart")
            else:
                self._do(ctx, mgr, "stop")
                self._do(ctx, mgr, "start")

    @classmethod
    def undo_record(cls, ctx: ChangeContext, rec: Record, force: bool = False) -> List[str]:
        """Stop what this run started, disable what it enabled; a daemon that ran before is
        reloaded, or restarted again when the record says it was restarted (``action``:
        saslauthd and postgrey cannot reload, and postfix must rebind its sockets)."""
        self = Service(rec["name"], enable=rec["enable"], units=[rec["unit"]],
                       direct=rec.get("direct"), status_unit=rec.get("status_unit"))
        mgr = rec["manager"]
        warnings = []
        try:
            if not rec["was_running"] and self._running(ctx, mgr):
                self._do(ctx, mgr, "stop")
            elif rec["was_running"] and self._running(ctx, mgr):
                if rec.get("action") != "restart":
                    self._do(ctx, mgr, "reload")
                elif mgr == "systemd":
                    self._do(ctx, mgr, "restart")
                else:
                    self._do(ctx, mgr, "stop")
                    self._do(ctx, mgr, "start")
            if self.enable and not rec["was_enabled"] and mgr == "systemd":
                self._do(ctx, mgr, "disable")
        except ExecutorError as exc:
            warnings.append(str(exc))
        return warnings


# --------------------------------------------------------------------------- directories
@register
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


# --------------------------------------------------------------------------- accounts
@register
class UserGroup(Change):
    """Create a group and/or a user, or add a user to a group (useradd, groupadd, usermod).

    Exactly one form: ``UserGroup(group=G)``, ``UserGroup(user=U, create_home=True)`` or
    ``UserGroup(user=U, member_of=G)``. Undo deletes what this run created.
    """

    kind = "account"

    def __init__(self, user: str = "", group: str = "", member_of: str = "",
                 create_home: bool = True, shell: str = "/bin/bash", system: bool = False,
                 set_password: bool = False) -> None:
        self.user = user
        self.group = group
        self.member_of = member_of
        self.create_home = create_home
        self.shell = shell
        self.system = system
        self.set_password = set_password

    def describe(self) -> str:
        if self.member_of:
            return f"add user {self.user} to group {self.member_of}"
        if self.user:
            return f"create user {self.user}"
        return f"create group {self.group}"

    def _commands(self) -> List[List[str]]:
        if self.member_of:
            return [["usermod", "-a", "-G", self.member_of, self.user]]
        if self.user:
            cmd = ["useradd"]
            if self.system:
                cmd.append("-r")
            if self.create_home:
                cmd.append("-m")
            cmd += ["-s", self.shell, self.user]
            return [cmd]
        return [["groupadd"] + (["-r"] if self.system else []) + [self.group]]

    def preview(self, view: View) -> Preview:
        cmds = [_q(c) for c in self._commands()]
        if self.set_password:
            cmds.append(f"passwd {shlex.quote(self.user)}   # mailwizard sets the password "
                        "from the answers")
        changed = True
        if self.member_of:
            groups = view.executor.groups()
            changed = self.user not in groups.get(self.member_of, (0, []))[1]
        elif self.user:
            changed = not view.user_exists(self.user)
            view.users.add(self.user)
        else:
            changed = not view.group_exists(self.group)
            view.groups.add(self.group)
        return Preview(self.kind, self.describe(), commands=cmds, changed=changed,
                       note="" if changed else "exists already")

    def prepare(self, ctx: ChangeContext) -> Optional[Record]:
        ex = ctx.executor
        if self.member_of:
            groups = ex.groups()
            if self.member_of in groups and self.user in groups[self.member_of][1]:
                return None
            return self._rec("member")
        if self.user:
            return None if self.user in ex.users() else self._rec("user")
        return None if self.group in ex.groups() else self._rec("group")

    def _rec(self, form: str) -> Record:
        return {"form": form, "user": self.user, "group": self.group,
                "member_of": self.member_of, "create_home": self.create_home}

    def commit(self, ctx: ChangeContext, rec: Record) -> None:
        ex = ctx.executor
        if "accounts_before" not in rec:
            rec["accounts_before"] = _save_account_files(ctx)
            ctx.persist()
        done = (self.member_of and self.user in ex.groups().get(self.member_of, (0, []))[1]) or (
            not self.member_of and self.user and self.user in ex.users()) or (
            not self.member_of and not self.user and self.group in ex.groups())
        if not done:
            for cmd in self._commands():
                ex.run(cmd, check=True, timeout=120)
        if self.user and not self.member_of and self.set_password:
            pw = ctx.secrets.get(self.user)
            if pw is not None:
                line = f"{self.user}:{pw.reveal()}"
                if any(c in line for c in "\n\r\x00") or ":" in self.user:
                    # answers are validated long before; reaching this is a bug: refuse
                    # rather than hand chpasswd a second line (another account's password)
                    raise ExecutorError(f"refusing to set the password of {self.user!r}: "
                                        "it would not be one chpasswd line")
                ex.run(["chpasswd"], input=line + "\n", check=True, quiet=True, timeout=60)
                rec["password_set"] = True

    @classmethod
    def took_effect(cls, ctx: ChangeContext, rec: Record) -> Optional[bool]:
        ex = ctx.executor
        if rec["form"] == "member":
            return rec["user"] in ex.groups().get(rec["member_of"], (0, []))[1]
        if rec["form"] == "user":
            return rec["user"] in ex.users()
        return rec["group"] in ex.groups()

    @classmethod
    def undo_record(cls, ctx: ChangeContext, rec: Record, force: bool = False) -> List[str]:
        ex = ctx.executor
        if rec["form"] == "member":
            cmd = ["gpasswd", "-d", rec["user"], rec["member_of"]]
        elif rec["form"] == "user":
            cmd = (["userdel", "-r", rec["user"]] if rec["create_home"]
                   else ["userdel", rec["user"]])
        else:
            cmd = ["groupdel", rec["group"]]
        res = ex.run(cmd, timeout=120)
        if not res.ok:
            return [f"`{_q(cmd)}` failed: {res.output}"]
        _restore_account_backups(ctx, rec.get("accounts_before") or {})
        return []


ACCOUNT_FILES = ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/subuid",
                 "/etc/subgid")
"""The account databases useradd/userdel rewrite, each with a ``-`` backup copy."""


def _save_account_files(ctx: ChangeContext) -> Dict[str, Optional[Dict[str, Any]]]:
    """Back up the account files (into the 0700 backup store, never the journal)."""
    ex = ctx.executor
    saved: Dict[str, Optional[Dict[str, Any]]] = {}
    for base in ACCOUNT_FILES:
        for p in (base, base + "-"):
            data = ex.read_bytes(p)
            st = ex.stat(p)
            if data is None or st is None:
                saved[p] = None
                continue
            saved[p] = {"backup": ctx.backups.save(f"{ctx.key}-{p}", data), "mode": st.mode,
                        "uid": st.uid, "gid": st.gid, "sha": sha256(data)}
    return saved


def _account_names(data: Optional[bytes]) -> List[str]:
    return [line.split(b":", 1)[0].decode("utf-8", "replace")
            for line in (data or b"").splitlines() if b":" in line]


def _accounts_added(ctx: ChangeContext,
                    saved: Mapping[str, Optional[Mapping[str, Any]]]) -> Dict[str, List[str]]:
    """Names of the accounts/groups a package install added, per account file."""
    out: Dict[str, List[str]] = {}
    for base in ACCOUNT_FILES:
        old = saved.get(base)
        old_names = set(_account_names(ctx.backups.load(old["backup"]))) if old else set()
        new = [n for n in _account_names(ctx.executor.read_bytes(base)) if n not in old_names]
        if new:
            out[base] = new
    return out


def _remove_added_accounts(ctx: ChangeContext, rec: Record) -> List[str]:
    """After purging packages: drop the system accounts their scripts created. Where the
    file is then exactly as before the install, put back its old bytes and backup copy."""
    ex = ctx.executor
    saved = rec.get("accounts_before") or {}
    added: Dict[str, List[str]] = rec.get("accounts_added") or {}
    warnings = []
    for base in ACCOUNT_FILES:
        cur = ex.read_bytes(base)
        old = saved.get(base)
        names = set(added.get(base, []))
        if cur is None or old is None:
            continue
        kept = [line for line in cur.splitlines(keepends=True)
                if line.split(b":", 1)[0].decode("utf-8", "replace") not in names]
        stripped = b"".join(kept)
        old_bytes = ctx.backups.load(old["backup"])
        st = ex.stat(base)
        if stripped == old_bytes:
            if cur != old_bytes:
                ex.write_atomic(base, old_bytes, old["mode"], old["uid"], old["gid"])
            _restore_account_backups(ctx, {base: old, base + "-": saved.get(base + "-")})
        elif names and st is not None:
            ex.write_atomic(base, stripped, st.mode, st.uid, st.gid)
            warnings.append(f"{base}: removed {', '.join(sorted(names))}; other changes since "
                            "the install were kept")
    return warnings


def _restore_account_backups(ctx: ChangeContext,
                             saved: Mapping[str, Optional[Mapping[str, Any]]]) -> None:
    """After userdel/groupdel: where the database is back to its old content, put its ``-``
    backup copy back too (the tools rewrote it), so a rollback leaves /etc as it was."""
    ex = ctx.executor
    for base in ACCOUNT_FILES:
        if base not in saved:
            continue
        old = saved[base]
        cur = ex.read_bytes(base)
        if (old is None) != (cur is None) or (old is not None and sha256(cur) != old["sha"]):
            continue  # changed otherwise since: leave its backup alone
        bk = saved.get(base + "-")
        if bk is None:
            ex.remove(base + "-")
        else:
            ex.write_atomic(base + "-", ctx.backups.load(bk["backup"]), bk["mode"], bk["uid"],
                            bk["gid"])
