"""The install session: answers (no secrets), per-step status, journal and backups.

Layout of the state directory (default ``/var/lib/mailwizard``, mode 0700)::

    session.yaml   0600, rewritten atomically (tmp + fsync + rename) after every change
    backups/       0700, one file per backed-up original
    lock           flock()ed while a wizard runs; holds the owner's pid

A journal entry is written with state ``started`` *before* its change touches the system and
set to ``done`` right after, so a crash or a dropped SSH connection in between is detected and
finished on the next run.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import os
import signal
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from .changes import BackupStore
from .errors import LockHeld, SessionError

DEFAULT_STATE_DIR = "/var/lib/mailwizard"
FORMAT = 1

STEP_STATES = ("pending", "applied", "verified", "failed", "rolled-back", "skipped")


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
        self._lock_fd: Optional[int] = None
        self.data: Dict[str, Any] = {}

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, state_dir: os.PathLike[str] | str, lock: bool = True) -> Session:
        s = cls(state_dir)
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
        if not self.file.exists():
            self.data = {"format": FORMAT, "created": _now(), "steps": {}, "journal": [],
                         "seq": 0}
            return
        try:
            data = yaml.safe_load(self.file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise SessionError(f"cannot read {self.file}: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SessionError(f"{self.file} is not a mailwizard session of this version")
        data.setdefault("steps", {})
        data.setdefault("journal", [])
        data.setdefault("seq", len(data["journal"]))
        self.data = data

    @property
    def exists(self) -> bool:
        return self.file.exists()

    def save(self) -> None:
        """Write session.yaml atomically (tmp, fsync, rename, fsync dir), mode 0600."""
        self.data["updated"] = _now()
        text = yaml.safe_dump(self.data, sort_keys=False, default_flow_style=False)
        tmp = self.file.with_name(".session.yaml.tmp")
        fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.file)
        dfd = os.open(str(self.dir), os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        _fault_point()

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
        entry.update(extra)
        self.save()

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
        self.save()
        return entry

    def finish_entry(self, entry: Dict[str, Any], state: str = "done") -> None:
        entry["state"] = state
        entry["at"] = _now()
        self.save()

    def entries(self, step: Optional[str] = None, states: tuple = ("done", "started")
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
        """Forget the session (after a complete rollback or on "start over")."""
        self.data = {"format": FORMAT, "created": _now(), "steps": {}, "journal": [], "seq": 0}
        self.save()
