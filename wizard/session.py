"""The install session: answers (no secrets), per-step status, journal and backups.

Layout of the state directory (default ``/var/lib/mailwizard``, mode 0700)::

    journal.log    0600, append-only: one JSON line (with its SHA-256) per save, fsynced
                   *before* session.yaml is rewritten
    session.yaml   0600, rewritten atomically (tmp + fsync + rename) after every change, as
                   indented JSON (which is YAML; sessions written as YAML block text by
                   older versions are read too); its last key ``check`` holds the log
                   line count and a checksum of the rest
    backups/       0700, one file per backed-up original
    lock           flock()ed while a wizard runs; holds the owner's pid
    checked-keys   0600, SHA-256 of private key texts whose full check passed
                   (:mod:`wizard.pemkey`)

A journal entry is written with state ``started`` *before* its change touches the system and
set to ``done`` right after, so a crash or a dropped SSH connection in between is detected and
finished on the next run. A change saves the facts it learns on the way (``persist``).

When session.yaml is damaged (empty, not YAML, not UTF-8, the wrong shape, cut short) or
older than the log, the session is rebuilt from ``journal.log`` and :attr:`Session.recovered`
says so; without a usable log a :class:`SessionError` explains what to do.
"""

from __future__ import annotations

import copy
import datetime as _dt
import fcntl
import hashlib
import json
import os
import re
import signal
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

from .changes import BackupStore
from .errors import LockHeld, SessionError

DEFAULT_STATE_DIR = "/var/lib/mailwizard"


def state_dir_on_target(state_dir: os.PathLike[str] | str, root: Optional[Path]) -> str:
    """``state_dir`` (a path on this machine) as the target sees it: relative to the
    target's ``root`` when inside it, else as it is."""
    here = Path(os.path.abspath(state_dir))
    if root is not None and str(root) != "/":
        try:
            rel = str(here.relative_to(Path(root).resolve()))
            return "/" if rel == "." else "/" + rel
        except ValueError:
            pass
    return str(here)


FORMAT = 2
"""Session format: 2 ends session.yaml with a ``check`` (log line, checksum) and keeps
journal.log; 1 (older mailwizard, no check) is still read."""
FORMATS = (1, FORMAT)

STEP_STATES = ("pending", "applied", "verified", "failed", "rolled-back", "skipped",
               "interrupted")
ENTRY_STATES = ("started", "done", "undone", "failed")

SECRET_BACKUP = re.compile(r"[0-9]+-_etc_g?shadow-?")
"""Backup names of copies of /etc/shadow and /etc/gshadow (account-file backups)."""


_FAULT = {"saves": 0}


def _fault_point() -> None:
    """Fault injection for the crash-safety tests (``tests/e2e``), inert unless asked for.

    With ``MAILWIZARD_FAULT_AT=N`` in the environment, the N-th durable session write of this
    process (counting from 1) is followed by the signal ``MAILWIZARD_FAULT_SIGNAL`` (``KILL``,
    ``TERM``, ``INT`` or ``HUP``; default ``KILL``) sent to the process itself: the session
    file is then exactly as a crash at that point would leave it."""
    at = os.environ.get("MAILWIZARD_FAULT_AT")
    if not at:
        return
    _FAULT["saves"] += 1
    if str(_FAULT["saves"]) != at.strip():
        return
    name = os.environ.get("MAILWIZARD_FAULT_SIGNAL", "KILL").strip().upper()
    if name not in ("KILL", "TERM", "INT", "HUP"):
        return
    os.kill(os.getpid(), getattr(signal, "SIG" + name))


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Session:
    """A session in ``state_dir``. Use :meth:`open`; call :meth:`close` (or use ``with``)."""

    def __init__(self, state_dir: os.PathLike[str] | str) -> None:
        self.dir = Path(state_dir)
        self.file = self.dir / "session.yaml"
        self.backups = BackupStore(self.dir / "backups")
        self.log = self.dir / "journal.log"
        self._lock_fd: Optional[int] = None
        self.data: Dict[str, Any] = {}
        self.recovered = ""
        """Set when session.yaml was rebuilt from journal.log: what was wrong with it."""
        self._logged: Dict[str, bytes] = {}
        self._pieces: Dict[str, _Pieces] = {}
        self._log_n = 0
        self._log_started = False

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, state_dir: os.PathLike[str] | str, lock: bool = True) -> Session:
        s = cls(state_dir)
        if not s.dir.is_dir():
            # only a directory mailwizard makes is set to 0700 (never /tmp or a shared one)
            s.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(s.dir, 0o700)
        if lock:
            s._acquire()
        s._load()
        return s

    def _acquire(self) -> None:
        path = self.dir / "lock"
        fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                owner = os.read(fd, 32).decode(errors="replace").strip()
            finally:
                os.close(fd)
            raise LockHeld(
                f"another mailwizard (pid {owner or '?'}) is working on {self.dir}; "
                "wait for it to finish or stop it first") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def close(self) -> None:
        if self._lock_fd is not None:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            finally:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _load(self) -> None:
        logged, lines, log_problem = self._read_log()
        if not self.file.exists():
            if logged is None:
                self.data = _fresh()
                return
            data, problem = None, "it is missing"
        else:
            data, problem = self._read_yaml()
        check: Dict[str, Any] = {}
        if data is not None:
            check = data.get("check") or {}
            if not check and logged is not None:
                data, problem = None, "its end marker is missing (cut short?)"
            elif check and logged is not None and check["lines"] < lines:
                data, problem = None, "it is older than the journal log"
        if data is None:
            if logged is None:
                raise SessionError(
                    f"{self.file} cannot be used: {problem}, and there is no journal log "
                    f"({self.log.name}) to rebuild it from{log_problem}. The backups in "
                    f"{self.backups.directory} are intact; move the session file away to start "
                    "a new session (nothing can then be rolled back automatically).")
            data = logged
            self.recovered = (f"{self.file} was damaged ({problem}); the session was rebuilt "
                              f"from {self.log.name}")
        data.pop("check", None)
        data["format"] = FORMAT  # an older session is written in this format from now on
        data.setdefault("seq", len(data["journal"]))
        self.data = data
        # line numbers only grow; the first save of this process starts a fresh log file
        # (a torn tail is dropped with it)
        self._log_n = max(lines, int(check.get("lines", 0)))
        self._log_started = False

    def _read_yaml(self) -> Tuple[Optional[Dict[str, Any]], str]:
        """(data, "") or (None, what is wrong) for session.yaml."""
        try:
            raw = self.file.read_bytes()
        except OSError as exc:
            return None, f"it cannot be read ({exc.strerror})"
        if not raw.strip():
            return None, "it is empty"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None, "it is not UTF-8 text"
        try:
            data = _parse(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            return None, f"it is not valid YAML{where}"
        except RecursionError:
            return None, "it is nested too deeply"
        if (isinstance(data, dict) and isinstance(data.get("format"), int)
                and data["format"] not in FORMATS):
            raise SessionError(f"{self.file} is a session of another mailwizard version "
                               f"(format {data.get('format')!r}, this one reads {FORMAT})")
        problem = _shape_problem(data)
        if problem:
            return None, problem
        check = data.get("check")
        if check is None and data["format"] == FORMAT:
            return None, "its end marker is missing (cut short?)"
        if check is not None:
            if (not isinstance(check, dict) or not isinstance(check.get("lines"), int)
                    or check.get("sha") != _digest(data)):
                return None, "its checksum does not match (cut short or edited)"
        return data, ""

    def _read_log(self) -> Tuple[Optional[Dict[str, Any]], int, str]:
        """Replay journal.log: (data or None, number of its last good line, a note)."""
        try:
            raw = self.log.read_bytes()
        except FileNotFoundError:
            return None, 0, ""
        except OSError as exc:
            return None, 0, f" ({self.log.name} cannot be read: {exc.strerror})"
        data: Optional[Dict[str, Any]] = None
        lines = 0
        for line in raw.split(b"\n"):
            if not line:
                continue
            payload, _, digest = line.rpartition(b" ")
            if hashlib.sha256(payload).hexdigest().encode() != digest:
                break  # a torn last write: what came before is complete
            try:
                rec = json.loads(payload.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                break
            lines = int(rec.get("n", lines + 1))
            if rec.get("full"):
                data = _fresh()
                data["journal"] = []
            if data is None:
                break
            data.update(rec.get("set") or {})
            index = {e["key"]: i for i, e in enumerate(data["journal"])}
            for entry in rec.get("entries") or []:
                if entry["key"] in index:
                    data["journal"][index[entry["key"]]] = entry
                else:
                    index[entry["key"]] = len(data["journal"])
                    data["journal"].append(entry)
        if data is not None and _shape_problem(data):
            return None, 0, f" ({self.log.name} is damaged too)"
        return data, lines, ""

    @property
    def exists(self) -> bool:
        return self.file.exists() or self.log.exists()

    def save(self) -> None:
        """Append what changed to journal.log (fsync), then write session.yaml atomically
        (tmp, fsync, rename, fsync dir), both mode 0600. One save is one fault point."""
        self.data["updated"] = _now()
        pieces = self._serialized()
        self._append_log(pieces)
        check = {"lines": self._log_n, "sha": _digest_of(self.data, pieces)}
        # JSON, which is YAML too (a YAML reader reads it as before): the C encoder writes a
        # 30 KB session in about a millisecond, PyYAML's representer (pure Python even with
        # libyaml's emitter) took 25 ms, on every save
        text = _dump_of(self.data, pieces, check)
        tmp = self.file.with_name(".session.yaml.tmp")
        fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.file)
        _fsync_dir(self.dir)
        _fault_point()

    def _serialized(self) -> Dict[str, _Pieces]:
        """The serialized forms of every top-level value (``top:NAME``) and journal entry
        (``key:KEY``), each computed again only when its value no longer equals the copy
        kept with it: a save of a large site's answers (10,000 aliases) and journal
        re-encoded everything each time (20 ms a save), for one entry that changed."""
        out: Dict[str, _Pieces] = {}
        for k, v in self.data.items():
            if k not in ("journal", "check"):
                # the steps change with every step's status and hold its check results
                # (10,000 for a large site): encoded anew each time, no copy kept
                out["top:" + k] = self._piece("top:" + k, v, keep=k != "steps")
        for e in self.data.get("journal", []):
            out["key:" + str(e["key"])] = self._piece("key:" + str(e["key"]), e)
        self._pieces = out
        return out

    def _piece(self, name: str, value: Any, keep: bool = True) -> _Pieces:
        p = self._pieces.pop(name, None)  # an outdated one goes before the new one is made
        if p is not None and p.same(value):
            return p
        del p
        return _Pieces(value, keep)

    def _append_log(self, pieces: Dict[str, _Pieces], full: bool = False) -> None:
        state = {name: p.sha for name, p in pieces.items()}
        line: Dict[str, Any] = {"full": True} if full or not self._log_started else {}
        if line:
            self._logged = {}
        changed = {k: v for k, v in state.items() if self._logged.get(k) != v}
        if not changed and not line:
            return
        self._log_n += 1
        line["n"] = self._log_n
        line["set"] = {k[4:]: self.data[k[4:]] for k in changed if k.startswith("top:")}
        line["entries"] = [json.loads(pieces[k].digest) for k in changed if k.startswith("key:")]
        payload = json.dumps(line, sort_keys=True, separators=(",", ":")).encode()
        data = payload + b" " + hashlib.sha256(payload).hexdigest().encode() + b"\n"
        full = bool(line.get("full"))
        # a full line starts a new log atomically (tmp + rename); the others are appended
        path = self.log.with_name(".journal.log.tmp") if full else self.log
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if full else os.O_APPEND)
        fd = os.open(str(path), flags, 0o600)
        try:
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if full:
            os.replace(path, self.log)
            _fsync_dir(self.dir)
        self._logged = state
        self._log_started = True

    # ------------------------------------------------------------------ metadata
    def bind(self, platform_id: str, root: str, answers: Dict[str, Any]) -> None:
        """Record what this session is about (answers without secrets)."""
        self.data["platform"] = platform_id
        self.data["root"] = root
        self.data["answers"] = answers
        self.save()

    @property
    def platform_id(self) -> Optional[str]:
        return self.data.get("platform")

    @property
    def answers(self) -> Optional[Dict[str, Any]]:
        return self.data.get("answers")

    # ------------------------------------------------------------------ steps
    def step_status(self, step: str) -> str:
        return str(self.data["steps"].get(step, {}).get("status", "pending"))

    def set_step(self, step: str, status: str, **extra: Any) -> None:
        assert status in STEP_STATES, status
        entry = self.data["steps"].setdefault(step, {})
        entry["status"] = status
        entry["at"] = _now()
        if status != "interrupted":
            entry.pop("run_from", None)  # the run of the step is over
            entry.pop("change", None)
        entry.update(extra)
        self.save()

    def run_start(self, step: str) -> Optional[int]:
        """Journal number of the first entry of a run of ``step`` that did not finish it
        (killed or interrupted), or None."""
        value = self.data["steps"].get(step, {}).get("run_from")
        return value if isinstance(value, int) else None

    def steps(self) -> Dict[str, Dict[str, Any]]:
        return self.data["steps"]  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ journal
    @property
    def journal(self) -> List[Dict[str, Any]]:
        return self.data["journal"]  # type: ignore[no-any-return]

    def next_key(self) -> str:
        self.data["seq"] = int(self.data.get("seq", 0)) + 1
        return f"{self.data['seq']:04d}"

    def start_entry(self, step: str, index: int, kind: str, desc: str, key: str,
                    record: Dict[str, Any], type_name: str = "") -> Dict[str, Any]:
        entry = {"key": key, "step": step, "change": index, "kind": kind, "type": type_name,
                 "desc": desc, "state": "started", "at": _now(), "record": record}
        self.journal.append(entry)
        self.data["steps"].setdefault(step, {}).setdefault("run_from", int(key))
        self.save()
        return entry

    def finish_entry(self, entry: Dict[str, Any], state: str = "done") -> None:
        entry["state"] = state
        entry["at"] = _now()
        self.save()

    def entries(self, step: Optional[str] = None, states: Tuple[str, ...] = ("done", "started")
                ) -> List[Dict[str, Any]]:
        return [e for e in self.journal
                if (step is None or e["step"] == step) and e["state"] in states]

    def unfinished(self) -> List[Dict[str, Any]]:
        return [e for e in self.journal if e["state"] == "started"]

    def progress(self) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for info in self.data["steps"].values():
            counts[info.get("status", "pending")] = counts.get(info.get("status", "pending"),
                                                               0) + 1
        return counts

    def reset(self) -> None:
        """Forget the session (after a complete rollback or on "start over"); the copies of
        /etc/shadow and /etc/gshadow in backups/ go with it."""
        self.data = _fresh()
        self._log_started = False  # the log starts again with one full line
        self.save()
        self.purge_secret_backups()

    # ------------------------------------------------------------------ secrets in backups
    def secret_backups(self) -> List[str]:
        """Backup copies of /etc/shadow and /etc/gshadow (password hashes) kept for rollback."""
        return [n for n in self.backups.names() if SECRET_BACKUP.fullmatch(n)]

    def purge_secret_backups(self) -> List[str]:
        """Delete the account-file copies that hold password hashes, once no journal entry
        can need them (nothing applied is left to roll back)."""
        if self.entries():
            return []
        names = self.secret_backups()
        for name in names:
            self.backups.remove(name)
        return names

    def step_note(self, step: str) -> str:
        """Where an interrupted step stopped, for ``status`` and the TUI."""
        info = self.data["steps"].get(step, {})
        if info.get("status") != "interrupted":
            return ""
        change = info.get("change")
        return f"stopped at: {change}" if change else ""


def _parse(text: str) -> Any:
    """session.yaml's content: JSON as written by :func:`_dump_of` (the C decoder), else YAML
    (a session written by an older mailwizard; libyaml's loader when PyYAML has it)."""
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            pass  # not JSON after all (a YAML flow mapping): YAML says what is wrong
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader


def _fresh() -> Dict[str, Any]:
    return {"format": FORMAT, "created": _now(), "steps": {}, "journal": [], "seq": 0}


class _Pieces:
    """One value of the session in its two encodings (the checksum's and journal.log's
    sorted compact one, session.yaml's), with a copy of the value (``deepcopy``: new
    containers, the same strings and numbers) that tells whether they still hold: an equal
    value encodes the same (but for equal numbers of different types, 1 and True, which
    the session never exchanges for one another)."""

    __slots__ = ("digest", "dump", "sha", "_copy", "_exact")

    def __init__(self, value: Any, keep: bool = True) -> None:
        self.digest = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
        self.dump = json.dumps(value, ensure_ascii=True, default=str)
        self.sha = hashlib.sha256(self.digest.encode()).digest()
        """What journal.log last wrote of the value is compared by this."""
        self._copy, self._exact = None, False
        if not keep:
            return
        try:
            self._copy = copy.deepcopy(value)
            self._exact = bool(self._copy == value)  # False: never reused
        except Exception:  # noqa: BLE001 - a value deepcopy cannot copy: encoded each time
            self._copy, self._exact = None, False

    def same(self, value: Any) -> bool:
        return bool(self._exact and value == self._copy)


def _digest_of(data: Dict[str, Any], pieces: Dict[str, _Pieces]) -> str:
    """:func:`_digest` of ``data`` from its pieces (the same bytes: ``sort_keys`` writes
    a mapping as its sorted keys with their values' encodings)."""
    parts = []
    for k in sorted(k for k in data if k != "check"):
        if k == "journal" and isinstance(data[k], list):
            body = "[" + ",".join(pieces["key:" + str(e["key"])].digest
                                  for e in data[k]) + "]"
        else:
            body = pieces["top:" + k].digest
        parts.append(json.dumps(k) + ":" + body)
    return hashlib.sha256(("{" + ",".join(parts) + "}").encode()).hexdigest()


def _dump_of(data: Dict[str, Any], pieces: Dict[str, _Pieces], check: Dict[str, Any]) -> str:
    """session.yaml's text, from the pieces: JSON (a subset of YAML), ASCII only, one
    top-level key a line and one journal entry a line, ``check`` last."""
    lines = []
    for key, value in data.items():
        if key == "check":
            continue
        if key == "journal" and isinstance(value, list):
            body = ("[\n  " + ",\n  ".join(pieces["key:" + str(e["key"])].dump
                                            for e in value) + "\n ]") if value else "[]"
        else:
            body = pieces["top:" + key].dump
        lines.append(f" {json.dumps(key)}: {body}")
    lines.append(f" {json.dumps('check')}: {json.dumps(check)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _digest(data: Dict[str, Any]) -> str:
    """Checksum of a session's content (without its ``check`` key)."""
    body = {k: v for k, v in data.items() if k != "check"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"),
                                     default=str).encode()).hexdigest()


def _shape_problem(data: Any) -> str:
    """What makes ``data`` not a session, or ''."""
    if not isinstance(data, dict):
        return "it does not hold a session (not a mapping)"
    if data.get("format") not in FORMATS:
        return "it does not say which session format it is"
    if not isinstance(data.get("steps", {}), dict) or not all(
            isinstance(v, dict) for v in data.get("steps", {}).values()):
        return "its steps are not a mapping of step states"
    journal = data.get("journal", [])
    if not isinstance(journal, list):
        return "its journal is not a list"
    for e in journal:
        if not (isinstance(e, dict) and isinstance(e.get("key"), str)
                and isinstance(e.get("step"), str) and isinstance(e.get("change"), int)
                and e.get("state") in ENTRY_STATES and isinstance(e.get("record"), dict)):
            return "its journal holds an entry of the wrong shape"
    if not isinstance(data.get("seq", 0), int):
        return "its sequence number is not a number"
    data.setdefault("steps", {})
    data.setdefault("journal", [])
    return ""


def _fsync_dir(path: Path) -> None:
    dfd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
