"""The real executor: file operations under a target root, and commands on the target.

An :class:`Executor` works on a *target root*: ``/`` on a real server, a temporary directory in
unit tests, a mounted image otherwise. Paths given to it are target paths (``/etc/postfix``);
it maps them under the root, following links with chroot semantics. Commands run through
:func:`wizard.executor.process.run_sh`; when the root is not ``/`` they run through ``chroot``
(or, for unit tests, on the host with ``MW_ROOT`` set).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shlex
import shutil
import signal
import stat as stat_mod
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, Dict, List, Mapping, Optional, Sequence, Tuple

from .. import procs
from ..errors import CommandFailed, ExecutorError
from .probecache import ProbeCaching
from .process import DEFAULT_PATH, CommandResult, OutputCallback, run_sh, safe_line

MAX_LINKS = 40
"""Symlinks followed while resolving one target path (the kernel's limit too)."""


@dataclass(frozen=True)
class FileStat:
    mode: int
    """Permission bits only (``0o644``)."""
    uid: int
    gid: int
    size: int
    is_dir: bool
    is_link: bool = False


def sha256(data: Optional[bytes]) -> Optional[str]:
    return hashlib.sha256(data).hexdigest() if data is not None else None


class Executor(ProbeCaching):
    """Real executor over ``root``.

    Args:
        root: the target root directory.
        host_commands: run commands on the host instead of ``chroot root`` even when root is
            not ``/`` (unit tests); ``MW_ROOT`` is set for them.
        on_output: called with each line of command output (the TUI's live log).
    """

    dry_run = False
    rehearsal = False
    """A rehearsal (:mod:`.rehearsal`): files real in a scratch root, commands recorded."""

    def __init__(self, root: os.PathLike[str] | str = "/", host_commands: bool = False,
                 on_output: Optional[OutputCallback] = None) -> None:
        self.root = Path(root).resolve()
        self.host_commands = host_commands
        self.on_output = on_output
        self.history: List[CommandResult] = []
        self.validated: Dict[Tuple[str, ...], Callable[[], Optional[str]]] = {}
        """Validators (``postfix check``) an apply found satisfied, by argv: each answers
        how, while the files it validated are unchanged, else None (see
        :class:`~wizard.changes.Validate`); the apply's checks report that instead of
        running the validator a second time. Empty outside an apply."""

    def checking(self) -> ContextManager[None]:
        """Context in which checks run (a rehearsal refuses to make up their answers)."""
        return contextlib.nullcontext()

    # ------------------------------------------------------------------ paths
    @property
    def is_real_root(self) -> bool:
        return str(self.root) == "/"

    def path(self, target: str) -> Path:
        """Host path for a target path: every directory on the way is resolved inside the root
        (see :meth:`resolve`); the last component is not followed (a link stays a link)."""
        return self._resolve(target, follow=False)

    def resolve(self, target: str) -> Path:
        """Host path for a target path with every symlink followed *inside* the root.

        Links are resolved one component at a time with chroot semantics: an absolute link
        target starts again at the root and ``..`` never climbs above it, so no path of the
        target can reach a host file outside the root, whatever links the target holds. On a
        real root (``/``) this is the path itself: the kernel's resolution is the same."""
        return self._resolve(target, follow=True)

    def _resolve(self, target: str, follow: bool) -> Path:
        if not isinstance(target, str) or not target.startswith("/"):
            raise ExecutorError(f"target path must be absolute: {target!r}")
        if "\0" in target:
            raise ExecutorError(f"target path holds a NUL byte: {target!r}")
        if self.is_real_root:  # the kernel resolves exactly so
            return Path(os.path.realpath(target) if follow else target)
        root = str(self.root)
        done: List[str] = []
        todo = [c for c in reversed(target.split("/")) if c]
        links = 0
        while todo:
            name = todo.pop()
            if name == ".":
                continue
            if name == "..":
                if done:
                    done.pop()
                continue
            if not todo and not follow:
                done.append(name)
                break
            host = os.path.join(root, *done, name)
            try:
                st = os.lstat(host)
            except (FileNotFoundError, NotADirectoryError):
                done.append(name)  # the rest does not exist yet: nothing left to follow
                continue
            except OSError as exc:
                raise ExecutorError(f"cannot resolve {target} in {root}: {exc.strerror}") \
                    from exc
            if stat_mod.S_ISLNK(st.st_mode):
                links += 1
                if links > MAX_LINKS:
                    raise ExecutorError(f"cannot resolve {target} in {root}: too many symbolic "
                                        "links (a loop)")
                dest = os.readlink(host)
                if dest.startswith("/"):
                    done = []  # absolute links are relative to the target root
                todo.extend(c for c in reversed(dest.split("/")) if c)
                continue
            done.append(name)
        return Path(root, *done)

    def _inside(self, host: Path, target: str) -> Path:
        """``host`` again, after checking that the kernel's own view of its directory is still
        inside the root (a link swapped in after :meth:`_resolve` looked): refuse otherwise."""
        if self.is_real_root:
            return host
        real = os.path.realpath(host.parent)
        root = str(self.root)
        if real != root and not real.startswith(root + "/"):
            raise ExecutorError(f"refusing {target}: it leads to {real}, outside the target "
                                f"root {root}")
        return host

    # ------------------------------------------------------------------ reading
    def exists(self, target: str) -> bool:
        return os.path.lexists(self.path(target))

    def _open_regular(self, target: str) -> int:
        """A read-only descriptor on the regular file ``target`` (links followed in the root).

        Raises FileNotFoundError when it is missing and ExecutorError when it is not a regular
        file (a directory, a FIFO that would block, a device)."""
        p = self._inside(self.resolve(target), target)
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(p, flags)
        except IsADirectoryError as exc:
            raise ExecutorError(f"{target} is a directory, expected a file") from exc
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ExecutorError(f"refusing {target}: a link appeared while reading it") \
                    from exc
            raise
        st = os.fstat(fd)
        if not stat_mod.S_ISREG(st.st_mode):
            os.close(fd)
            if stat_mod.S_ISDIR(st.st_mode):
                raise ExecutorError(f"{target} is a directory, expected a file")
            raise ExecutorError(f"{target} is not a regular file")
        return fd

    def read_bytes(self, target: str) -> Optional[bytes]:
        try:
            fd = self._open_regular(target)
        except (FileNotFoundError, NotADirectoryError):
            return None
        with os.fdopen(fd, "rb") as fh:
            return fh.read()

    def read_text(self, target: str) -> Optional[str]:
        data = self.read_bytes(target)
        return None if data is None else data.decode("utf-8", "surrogateescape")

    def stat(self, target: str, follow: bool = False) -> Optional[FileStat]:
        """Mode and owner of ``target`` (of the link itself unless ``follow``)."""
        try:
            st = os.stat(self.resolve(target)) if follow else os.lstat(self.path(target))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return FileStat(mode=stat_mod.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid,
                        size=st.st_size, is_dir=stat_mod.S_ISDIR(st.st_mode),
                        is_link=stat_mod.S_ISLNK(st.st_mode))

    def listdir(self, target: str) -> List[str]:
        try:
            return sorted(os.listdir(self.resolve(target)))
        except (FileNotFoundError, NotADirectoryError):
            return []

    # ------------------------------------------------------------------ accounts (target's)
    def _table(self, target: str) -> List[List[str]]:
        text = self.read_text(target) or ""
        return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]

    def users(self) -> Dict[str, Tuple[int, int, str]]:
        """name -> (uid, gid, home) from the target's /etc/passwd."""
        out: Dict[str, Tuple[int, int, str]] = {}
        for f in self._table("/etc/passwd"):
            if len(f) >= 6 and f[2].isdigit() and f[3].isdigit():
                out[f[0]] = (int(f[2]), int(f[3]), f[5])
        return out

    def groups(self) -> Dict[str, Tuple[int, List[str]]]:
        """name -> (gid, members) from the target's /etc/group."""
        out: Dict[str, Tuple[int, List[str]]] = {}
        for f in self._table("/etc/group"):
            if len(f) >= 3 and f[2].isdigit():
                members = [m for m in (f[3].split(",") if len(f) > 3 else []) if m]
                out[f[0]] = (int(f[2]), members)
        return out

    def uid(self, owner: str | int) -> int:
        if isinstance(owner, int):
            return owner
        if owner == "root":
            return 0
        users = self.users()
        if owner not in users:
            raise ExecutorError(f"user {owner!r} does not exist on the target")
        return users[owner][0]

    def gid(self, group: str | int) -> int:
        if isinstance(group, int):
            return group
        if group == "root":
            return 0
        groups = self.groups()
        if group not in groups:
            raise ExecutorError(f"group {group!r} does not exist on the target")
        return groups[group][0]

    # ------------------------------------------------------------------ writing
    def write_atomic(self, target: str, data: bytes, mode: int, uid: int, gid: int,
                     mtime: Optional[float] = None) -> None:
        """Write ``data`` to ``target`` atomically: temp file, fsync, chmod/chown, rename.

        A symlink is written through, as an editor would, keeping the link: the file replaced
        is the link's target resolved inside the root (:meth:`resolve`)."""
        self._changed()
        dest = self.resolve(target)
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._inside(dest, target)
        fd, tmp = tempfile.mkstemp(prefix=".mw-", dir=str(dest.parent))
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            try:
                os.chown(tmp, uid, gid)
            except PermissionError:
                if os.geteuid() == 0:
                    raise
            if mtime is not None:
                os.utime(tmp, (mtime, mtime))
            os.replace(tmp, dest)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        self._fsync_dir(dest.parent)

    @staticmethod
    def _fsync_dir(path: Path) -> None:
        try:
            fd = os.open(str(path), os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def set_meta(self, target: str, mode: Optional[int] = None, uid: Optional[int] = None,
                 gid: Optional[int] = None) -> None:
        """Mode and owner of ``target``; a symlink's target (resolved in the root) gets them,
        as :meth:`write_atomic` writes through links."""
        self._changed()
        p = self._inside(self.resolve(target), target)
        if os.path.islink(p):  # swapped in after resolve() looked
            raise ExecutorError(f"refusing {target}: a link appeared while changing it")
        if mode is not None:
            os.chmod(p, mode)
        if uid is not None or gid is not None:
            try:
                os.lchown(p, -1 if uid is None else uid, -1 if gid is None else gid)
            except PermissionError:
                if os.geteuid() == 0:
                    raise

    def remove(self, target: str) -> None:
        self._changed()
        p = self._inside(self.path(target), target)
        try:
            if p.is_dir() and not p.is_symlink():
                p.rmdir()
            else:
                p.unlink()
        except FileNotFoundError:
            pass

    def makedirs(self, target: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> List[str]:
        """Create ``target`` and missing parents; return the created target paths, top first.

        Only ``target`` itself gets ``mode`` and the owner; missing parents are made
        ``0755 root:root`` like ``install -d`` would. Existing links to directories are
        followed inside the root, like ``mkdir -p``."""
        self._changed()
        created: List[str] = []
        parts = Path(target).parts
        cur = "/"
        for i, part in enumerate(parts[1:], start=1):
            cur = os.path.join(cur, part)
            p = self._inside(self.path(cur), cur)
            last = i == len(parts) - 1
            m, u, g = (mode, uid, gid) if last else (0o755, 0, 0)
            if os.path.islink(p) and not os.path.exists(self.resolve(cur)):
                # a dangling link: make its target (in the root), as the link's owner meant
                dest = "/" + os.path.relpath(self.resolve(cur), self.root)
                created += self.makedirs(dest, m, u, g) if dest != cur else []
                continue
            if not os.path.lexists(p):
                try:
                    os.mkdir(p, m)
                except FileExistsError:
                    continue
                os.chmod(p, m)
                try:
                    os.chown(p, u, g)
                except PermissionError:
                    if os.geteuid() == 0:
                        raise
                created.append(cur)
        return created

    def copy_file(self, target: str, dest_host: Path) -> None:
        """Copy the regular file ``target`` (links followed in the root) to a host path."""
        fd = self._open_regular(target)
        with os.fdopen(fd, "rb") as src, open(dest_host, "wb") as dst:
            shutil.copyfileobj(src, dst)
            st = os.fstat(src.fileno())
        os.chmod(dest_host, stat_mod.S_IMODE(st.st_mode))
        os.utime(dest_host, ns=(st.st_atime_ns, st.st_mtime_ns))

    # ------------------------------------------------------------------ commands
    def which(self, name: str) -> Optional[str]:
        """Target path of an executable found in the target's PATH, or None."""
        for d in DEFAULT_PATH.split(":"):
            cand = f"{d}/{name}"
            p = self.resolve(cand)
            if p.is_file() and os.access(p, os.X_OK):
                return cand
        return None

    # ------------------------------------------------------------------ daemons
    def daemon_pid(self, pidfile: str, names: Sequence[str]) -> Optional[int]:
        """The pid of the daemon whose pid file in the target is ``pidfile`` when it runs and
        goes by one of ``names`` (a stale pid file, one whose pid now belongs to another
        program, gives None). Read from /proc: daemons started through ``chroot`` share our
        pid namespace."""
        try:
            pid = procs.read_pid(self.read_text(pidfile))
        except ExecutorError:
            return None
        return pid if pid is not None and procs.runs_as(pid, names) else None

    def knocking(self, address: str) -> ContextManager[object]:
        """While the block runs (a daemon's stop), knock on the daemon's listener ``address``
        (``local:/path`` in the target, or ``inet:PORT@127.0.0.1``) so that it notices the
        stop at once (see :mod:`wizard.executor.knock`); ValueError for another address."""
        from .knock import Knocker, parse

        where = parse(address)
        if self.dry_run or self.rehearsal:  # no daemon runs there
            return contextlib.nullcontext()
        return Knocker(self.path(where) if isinstance(where, str) else where)

    def stop_daemon(self, pidfile: str, names: Sequence[str], timeout: float = 30.0) -> None:
        """SIGTERM to the daemon of ``pidfile`` (when it runs as one of ``names``) and wait
        for it to exit; ExecutorError when it is still running after ``timeout`` s."""
        self._changed()
        pid = self.daemon_pid(pidfile, names)
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while procs.runs_as(pid, names):
            if time.monotonic() >= deadline:
                raise ExecutorError(f"{names[0]} (pid {pid}) did not stop within {timeout:g} s")
            time.sleep(0.1)

    def run(
        self,
        argv: Sequence[str],
        *,
        input: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        check: bool = False,
        timeout: Optional[float] = 600,
        daemon: bool = False,
        quiet: bool = False,
    ) -> CommandResult:
        """Run ``argv`` on the target.

        Args:
            daemon: the command starts a background daemon that may keep stdout/stderr open;
                output then goes to temp files instead of pipes so we never hang on it.
            quiet: do not stream output to ``on_output`` (probes).
        """
        argv = [str(a) for a in argv]
        hit = self._probe_hit(argv, input, env, quiet)
        if hit is not None:  # asked before, nothing changed since (see probecache)
            if check and not hit.ok:
                raise CommandFailed(argv, hit.returncode, hit.output)
            return hit
        full = list(argv)
        run_env = {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                   "HOME": "/root", "DEBIAN_FRONTEND": "noninteractive"}
        if env:
            run_env.update(env)
        if not self.is_real_root:
            if self.host_commands:
                run_env["MW_ROOT"] = str(self.root)
            else:
                full = ["chroot", str(self.root)] + full
        if self.on_output and not quiet:
            show = safe_line(self.on_output)
            assert show is not None
            show("$ " + " ".join(shlex.quote(a) for a in argv))
        start = time.monotonic()
        result = run_sh(full, input=input, env=run_env, timeout=timeout, daemon=daemon,
                         on_line=None if quiet else self.on_output, spool=not quiet)
        result.argv = argv
        result.duration = time.monotonic() - start
        self.history.append(result)
        self._probe_store(argv, input, env, quiet, result)
        if check and not result.ok:
            raise CommandFailed(argv, result.returncode, result.output)
        return result

