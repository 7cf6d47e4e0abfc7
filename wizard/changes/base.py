"""Change protocol: the units a recipe plans and the engine applies, journals and undoes.

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

A change is immutable once made: what applying it learns goes into its record or the
context. The engine asks a change what it needs to know (``journaled``,
``installs_software``) rather than testing its class.

Every journaled type is listed once, in ``JOURNALED`` (:mod:`wizard.changes`), and
registered from there; the journal stores the name of the nearest registered class
(:func:`journal_type`), so undo never needs the recipes. A structured edit's record names
its editor, which :func:`editor_type` maps back to the class that owns the inverse.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
from dataclasses import FrozenInstanceError, dataclass, field
from typing import Any, Callable, ClassVar, Dict, List, Optional, Sequence, Set, Tuple, TypeVar

from ..executor import Executor
from ..platforms import Platform, stock_file
from ..secret import Secret

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


def quote_argv(args: Sequence[str]) -> str:
    """One command line in shell syntax (each word quoted as needed)."""
    return " ".join(shlex.quote(str(a)) for a in args)


# --------------------------------------------------------------------------- base
class _FrozenAfterInit(type):
    """Metaclass of :class:`Change`: an instance refuses new values once its constructor
    (the outermost ``__init__``, subclasses included) has returned."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        obj = super().__call__(*args, **kwargs)
        object.__setattr__(obj, "_frozen", True)
        return obj


class Change(metaclass=_FrozenAfterInit):
    """One unit of a plan. Immutable after construction: what applying it learns goes into
    its journal record (or the :class:`ChangeContext`), so a plan applied, resumed or shown
    again always says the same."""

    kind = "change"

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__dict__.get("_frozen"):
            raise FrozenInstanceError(f"cannot assign to {type(self).__name__}.{name}: a "
                                      "change is immutable once made")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if self.__dict__.get("_frozen"):
            raise FrozenInstanceError(f"cannot delete {type(self).__name__}.{name}: a "
                                      "change is immutable once made")
        object.__delattr__(self, name)

    journaled: ClassVar[bool] = True
    """False for a change that never makes a journal entry (its ``prepare`` always returns
    None: a note, a configuration check); such a type is not registered."""

    recheck_on_resume: ClassVar[bool] = False
    """A change whose effect a crash can undo behind the journal's back (a daemon started
    in the killed run's process group dies with it): on a resume, its "done" entry is
    prepared again and applied once more when the target says so."""
    installs_software: ClassVar[bool] = False
    """True when applying it installs or removes software: the engine then gathers the
    target's facts again after the step (installed packages, daemons, paths)."""

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

    @classmethod
    def undo_ahead(cls, ctx: ChangeContext, rec: Record) -> bool:
        """The part of a ``done`` entry's undo that a rollback may run early and at the same
        time as others' (stopping a daemon this run started: an exit can take seconds); its
        :meth:`undo_record` still runs at the entry's own place and finds it done. True when
        there is such a part (then it ran); by default there is none."""
        return False

    def touched_paths(self) -> List[str]:
        return []

    def shell_form(self, preview: Preview) -> ShellForm:
        """How an admin makes this change by hand (the runbook), given its ``preview``.

        By default the commands the preview lists (a preview's commands are shell lines by
        contract), with no guard, undo or check; every change type of this package says more.
        """
        return ShellForm(do=tuple(preview.commands))


CHANGE_TYPES: Dict[str, type] = {}
"""The registry of journaled change types: name in the journal -> class. Filled by
:func:`register` from one list, ``JOURNALED`` in :mod:`wizard.changes`, so any process that
imports the package can undo every journal entry. A subclass of a registered type (such as
:class:`~wizard.changes.services.ConfiguredService`) is journaled under the name of its
nearest registered ancestor and keeps everything that ancestor's undo needs in the record."""

LEGACY_TYPES = {"SystemdDropIn": "FileWrite", "PrivateKeyFile": "FileWrite",
                "ConfiguredService": "Service", "FileChange": "FileWrite"}
"""Names older journals may hold (subclasses once defined in the recipes, the base of file
changes once registered itself), and the type that undoes them."""

_C = TypeVar("_C", bound=type)


def register(cls: _C) -> _C:
    """Put a change type in :data:`CHANGE_TYPES` (once; its editor name must be its own)."""
    name = cls.__name__
    if not getattr(cls, "journaled", False):
        raise TypeError(f"{name} never makes a journal entry: nothing to register")
    if CHANGE_TYPES.get(name, cls) is not cls:
        raise TypeError(f"change type {name} is registered twice")
    editor = getattr(cls, "editor", "")
    owner = editor_type(editor)
    if owner is not None and owner is not cls:
        raise TypeError(f"editor {editor!r} belongs to {owner.__name__} already")
    CHANGE_TYPES[name] = cls
    return cls


def editor_type(name: str) -> Optional[Any]:
    """The registered change type whose structured editor is journaled as ``name`` (a
    record's ``editor``: ``main.cf``, ``master.cf``, ``dovecot``, ``shell``, ``aliases``), or
    None. Its ``inverse`` undoes just that edit in a file changed since."""
    if not name:
        return None
    for cls in CHANGE_TYPES.values():
        if getattr(cls, "editor", "") == name:
            return cls
    return None


def change_types() -> Dict[str, type]:
    """Journal name -> class, for every registered change type (and older journal names)."""
    out = dict(CHANGE_TYPES)
    for old, new in LEGACY_TYPES.items():
        out.setdefault(old, CHANGE_TYPES[new])
    return out


def journal_type(change: Any) -> str:
    """The registered name a change (or change class) is journaled under; ``""`` for a type
    that is never journaled (so matching a plan against the journal can ask any change)."""
    cls = change if isinstance(change, type) else type(change)
    if not getattr(cls, "journaled", True):
        return ""
    for base in cls.__mro__:
        if CHANGE_TYPES.get(base.__name__) is base:
            return base.__name__
    raise TypeError(f"{cls.__name__} derives from no registered change type")



# --------------------------------------------------------------------------- shell form
@dataclass(frozen=True)
class ShellForm:
    """A change as an admin makes it by hand: shell lines for the runbook, and what to say
    about them. Every value in a shell line is shell-quoted; an entry of ``do`` may span
    lines (a here-document, a quoted ``sed`` script). Sentences are Markdown (code spans)."""

    do: Tuple[str, ...] = ()
    """Commands that make the change, in order (empty: nothing to run, see ``why``)."""
    guard: str = ""
    """A shell test that holds once the change is made; ``do`` runs only when it fails
    ('' when ``do`` is safe to run again as it is)."""
    guard_why: str = ""
    """The comment above the guarded commands (e.g. 'only when X does not exist yet')."""
    undo: Tuple[str, ...] = ()
    """Commands that undo it by hand (a file's back-up copy is the runbook's business)."""
    undo_last: Tuple[str, ...] = ()
    """Lines for the end of the step's roll-back, after its files are back."""
    check: Tuple[str, ...] = ()
    """Read-only commands that show the change is there."""
    why: str = ""
    """Said before ``do``: what the commands are; without ``do``, why there are none."""
    notes: Tuple[str, ...] = ()
    """Said after the commands."""
    show: str = ""
    """Text shown for reading before anything else (what a generated file looks like)."""
    show_why: str = ""
    """Said before ``show``."""
    ask: Tuple[str, ...] = ()
    """Commands that need a person at the keyboard (``passwd``), run after ``do``."""
    ask_why: str = ""
    """Said before ``ask``."""
    restore: str = ""
    """A file the step's back-up copies first and its roll-back restores ('' for none)."""
    runs_after: Tuple[str, ...] = ()
    """Files whose change in the same step makes ``do`` run whatever ``guard`` says; with
    none of them changed and no guard, ``do`` is not needed."""
    whole_file: bool = False
    """``do`` writes a whole file that a diff above already shows (HTML folds it)."""
    in_place: bool = False
    """``do`` edits the file in place; the runbook shows the whole result once, apart."""
    batch: str = ""
    """Consecutive changes with the same batch name (e.g. 'directories') share one block."""
