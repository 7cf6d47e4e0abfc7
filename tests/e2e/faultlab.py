"""Fault injection for ``test_faults.py``: kill ``mailwizard apply`` at its change boundaries
(the product's ``MAILWIZARD_FAULT_AT`` hook, see wizard/session.py ``_fault_point``), inside
long changes (found from outside: apt-get/dpkg in the server's pid namespace), or by closing
its terminal (a real hangup); then check (a) resume and (b) rollback on a copy.

Costs are kept down by *chaining*: the process killed at boundary k is resumed with a kill at
the next boundary, so one server crosses every boundary for about the price of one apply; the
rollback check of each point runs on a copy of the server (its overlay's writable layer
copied with ``Server.snapshot``) in a worker thread while the chain goes on.
"""

from __future__ import annotations

import atexit
import fcntl
import imaplib
import os
import queue
import re
import select
import shutil
import signal
import socket
import subprocess
import termios
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import lab
import mwlab
import yaml

STATE_DIR = "/var/lib/mailwizard"
APPLY = ["mailwizard", "apply", "--answers", "/root/answers.yaml", "--yes"]
EXIT_INTERRUPTED = 130
SNAP_ROOT = Path(os.environ.get("MWLAB_SNAPSHOTS", "/dev/shm"))


# --------------------------------------------------------------------------- totals
@dataclass
class Point:
    """One injected fault and what came of it."""

    label: str                     # e.g. "KILL@save 17 (run 12)"
    kind: str                      # KILL / TERM / INT / HUP-pty / KILL-apt ...
    state: str = ""                # where it stopped (last journal entry / step)
    rc: Optional[int] = None       # exit status of the interrupted process
    problems: List[str] = field(default_factory=list)   # of the interrupted run itself
    resumed: Optional[bool] = None     # full resume + verify + probes checked: passed?
    resume_detail: str = ""
    byte_exact: Optional[bool] = None  # rollback on a copy: /etc byte for byte?
    rollback_detail: str = ""
    events: int = 1                # boundaries of an uninterrupted run it went past (>1: skips)
    pos: int = 0                   # write number of an uninterrupted run it stands for


class Totals:
    """Every point of the session, for the summary (conftest prints it at the end)."""

    def __init__(self) -> None:
        self.points: List[Point] = []
        self.lock = threading.Lock()
        self.boundaries: Optional[int] = None

    def add(self, p: Point) -> Point:
        with self.lock:
            self.points.append(p)
        return p

    def lines(self) -> List[str]:
        pts = list(self.points)
        res = [p for p in pts if p.resumed is not None]
        rb = [p for p in pts if p.byte_exact is not None]
        out = [f"boundaries of an uninterrupted apply (session writes): {self.boundaries}",
               f"injected {len(pts)} / resumed {sum(bool(p.resumed) for p in res)} of "
               f"{len(res)} checked / byte-exact {sum(bool(p.byte_exact) for p in rb)} of "
               f"{len(rb)} rollbacks / interrupted-run problems "
               f"{sum(bool(p.problems) for p in pts)}"]
        kinds = sorted({p.kind for p in pts})
        for k in kinds:
            kp = [p for p in pts if p.kind == k]
            out.append(f"  {k:10s} injected {len(kp):3d}  resumed "
                       f"{sum(bool(p.resumed) for p in kp if p.resumed is not None)}/"
                       f"{sum(p.resumed is not None for p in kp)}  byte-exact "
                       f"{sum(bool(p.byte_exact) for p in kp if p.byte_exact is not None)}/"
                       f"{sum(p.byte_exact is not None for p in kp)}")
        for p in pts:
            bad = []
            if p.problems:
                bad.append("run: " + "; ".join(p.problems))
            if p.resumed is False:
                bad.append("resume: " + p.resume_detail)
            if p.byte_exact is False:
                bad.append("rollback: " + p.rollback_detail)
            if bad:
                out.append(f"  FAIL {p.label} [{p.state}]: " + " | ".join(bad)[:600])
        return out


TOTALS = Totals()


def write_report(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(TOTALS.lines()) + "\n")


# --------------------------------------------------------------------------- session
def session_state(srv: lab.Server) -> Optional[Tuple[Any, ...]]:
    """The session without timestamps: (journal (key, step, change, state), step statuses);
    None without a session file; ("unreadable", text) when it does not parse."""
    p = srv.path(f"{STATE_DIR}/session.yaml")
    if not p.exists():
        return None
    try:
        data = yaml.safe_load(p.read_text())
        journal = tuple((e.get("key"), e.get("step"), e.get("change"), e.get("state"))
                        for e in data.get("journal", []))
        steps = tuple(sorted((k, v.get("status")) for k, v in data.get("steps", {}).items()))
        return (journal, steps)
    except Exception as exc:  # noqa: BLE001 - a damaged file is a state too
        return ("unreadable", repr(exc))


def describe_state(st: Optional[Tuple[Any, ...]]) -> str:
    if st is None:
        return "no session"
    if st[0] == "unreadable":
        return f"unreadable session: {st[1]}"
    journal, steps = st
    last = journal[-1] if journal else None
    done = [s for s, v in steps if v in ("applied", "verified", "skipped")]
    where = f"{last[1]}#{last[2]} {last[3]}" if last else "no change yet"
    return f"{len(journal)} entries, last {where}, {len(done)} steps finished"


def progress_key(st: Optional[Tuple[Any, ...]]) -> Any:
    """What a run has achieved, whatever the path: the set of (step, change, state) of the
    journal and the step statuses.  A resumed run that redoes a change it already did (a new
    journal entry for the same change) comes back to a key seen before."""
    if st is None or st[0] == "unreadable":
        return st
    journal, steps = st
    return (frozenset((e[1], e[2], e[3]) for e in journal), steps)


def new_events(prev: Optional[Tuple[Any, ...]], cur: Optional[Tuple[Any, ...]]) -> List[Any]:
    """What a kill's run achieved over ``prev``: each is one durable write of an
    uninterrupted run (a change reaching a state, a step reaching a status, the binding)."""
    if cur is None or cur[0] == "unreadable":
        return []
    if prev is None or prev[0] == "unreadable":
        prev = ((), ())
    old_j = {(e[1], e[2], e[3]) for e in prev[0]}
    ev: List[Any] = sorted({(e[1], e[2], e[3]) for e in cur[0]} - old_j, key=str)
    old_s = dict(prev[1])
    ev += [("step", k, v) for k, v in cur[1] if old_s.get(k) != v]
    if not ev and prev == ((), ()):
        ev = [("bind",)]
    return ev


def verify_phase(st: Optional[Tuple[Any, ...]]) -> bool:
    """True once a step was verified (apply is past its last change)."""
    return bool(st and st[0] != "unreadable" and any(v == "verified" for _, v in st[1]))


# --------------------------------------------------------------------------- counting
def count_boundaries(srv: lab.Server, timeout: float = 1200
                     ) -> Tuple[int, subprocess.CompletedProcess, List[Dict[str, Any]]]:
    """Run an uninterrupted ``apply --yes`` on a server without a session and count its
    durable session writes: the renames onto session.yaml by the mailwizard process,
    traced from the host (``strace -p``, attached before its first write; inotify through
    the overlay missed events, ``strace -f`` from the start slowed dpkg down too much).
    Also returns the session as each write left it (what was written to the temp file)."""
    state = srv.path(STATE_DIR)
    assert not state.exists(), "count_boundaries needs a server without a session"
    trace = Path(srv.dir) / "count.strace"
    out = Path(srv.dir) / "count.out"
    tracer = None
    with open(out, "wb") as fo:
        p = srv.popen(APPLY, stdin=subprocess.DEVNULL, stdout=fo, stderr=subprocess.STDOUT,
                      start_new_session=True)
        try:
            assert wait_until(lambda: bool(wizard_pids(srv)) or p.poll() is not None, 60,
                              0.002), "mailwizard did not start"
            pid = wizard_pids(srv)[0]
            tracer = subprocess.Popen(
                ["strace", "-qq", "-xx", "-s", "100000000",
                 "-e", "trace=openat,write,rename,renameat,renameat2", "-o", str(trace),
                 "-p", str(pid)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)
            assert wait_until(lambda: _traced(pid), 30, 0.002), "strace did not attach"
            assert not (state / "session.yaml").exists(), "strace attached too late"
            rc = p.wait(timeout=timeout)
            tracer.wait(timeout=60)
        finally:
            for proc in (p, tracer):
                if proc is not None and proc.poll() is None:
                    lab._kill_command_group(proc)
    states = _written_sessions(trace.read_text(errors="replace"))
    return len(states), subprocess.CompletedProcess(APPLY, rc, out.read_text(
        errors="replace"), ""), states


def _written_sessions(trace: str) -> List[Dict[str, Any]]:
    """The session data of every successful rename onto session.yaml in an ``strace -xx``
    log of openat/write/rename: what was last written to the temp file before it."""
    fd, buf, states = None, b"", []
    for line in trace.splitlines():
        m = re.match(r'openat\(.*"((?:\\x[0-9a-f]{2})+)".*\) = (\d+)\Z', line)
        if m:
            name = bytes.fromhex(m.group(1).replace("\\x", "")).decode(errors="replace")
            if name.endswith("/.session.yaml.tmp"):
                fd, buf = int(m.group(2)), b""
            continue
        m = re.match(r'write\((\d+), "((?:\\x[0-9a-f]{2})*)"', line)
        if m and fd is not None and int(m.group(1)) == fd:
            buf += bytes.fromhex(m.group(2).replace("\\x", ""))
            continue
        if re.match(r"rename\w*\(", line) and line.endswith(" = 0"):
            names = [bytes.fromhex(x.replace("\\x", "")).decode(errors="replace")
                     for x in re.findall(r'"((?:\\x[0-9a-f]{2})+)"', line)]
            if names and names[-1].endswith("/session.yaml"):
                states.append(yaml.safe_load(buf.decode()) if buf else {})
                fd = None
    return states


def state_of(data: Dict[str, Any]) -> Optional[Tuple[Any, ...]]:
    """:func:`session_state` of session data."""
    if not isinstance(data, dict):
        return None
    journal = tuple((e.get("key"), e.get("step"), e.get("change"), e.get("state"))
                    for e in data.get("journal", []))
    steps = tuple(sorted((k, v.get("status")) for k, v in data.get("steps", {}).items()))
    return (journal, steps)


def _traced(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    m = re.search(r"^TracerPid:\s+(\d+)", status, re.M)
    return bool(m and int(m.group(1)))


# --------------------------------------------------------------------------- running
def run_apply(srv: lab.Server, env: Optional[Dict[str, str]] = None, timeout: float = 1200
              ) -> subprocess.CompletedProcess:
    return srv.run(APPLY, check=False, timeout=timeout, env=env)


def killed_by(rc: Optional[int], sig: int) -> bool:
    return rc in (-sig, 128 + sig)


def has_traceback(text: str) -> bool:
    return "Traceback (most recent call last)" in text


def wizard_pids(srv: lab.Server) -> List[int]:
    """Host pids of running ``mailwizard`` processes in the server (the Python ones)."""
    return [pid for pid, cmd in srv.processes()
            if re.search(r"python[0-9.]* \S*mailwizard( |\Z)", cmd) or
            cmd.startswith("/opt/mw/bin/python")]


def apt_pids(srv: lab.Server, names: Tuple[str, ...] = ("apt-get", "dpkg", "apt")
             ) -> List[int]:
    out = []
    for pid, _cmd in srv.processes():
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        # dpkg-query is mailwizard's own probe (is a package installed?), not a transaction
        if comm in names or (comm.startswith("dpkg") and comm != "dpkg-query"):
            out.append(pid)
    return out


def wait_until(cond: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


class PtyRun:
    """``mailwizard apply --yes`` on a pseudo-terminal whose master we hold, as under sshd:
    the process is the session leader's foreground group; closing the master is the
    hangup an SSH drop gives (SIGHUP from the kernel, then EIO on the terminal)."""

    def __init__(self, srv: lab.Server, env: Optional[Dict[str, str]] = None) -> None:
        self.master, slave = os.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(slave, termios.TCSANOW, attrs)

        def ctty() -> None:        # runs in the child after setsid (start_new_session)
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = srv.popen(APPLY, env=dict(env or {}, TERM="xterm"), stdin=slave,
                              stdout=slave, stderr=slave, start_new_session=True,
                              preexec_fn=ctty)
        os.close(slave)
        self.out = b""
        self.closed = False

    def read_until(self, cond: Callable[[str], bool], timeout: float,
                   also: Optional[Callable[[], bool]] = None) -> bool:
        """Read output until ``cond(text)`` or ``also()`` holds; False on timeout/EOF."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond(self.text) or (also is not None and also()):
                return True
            r, _, _ = select.select([self.master], [], [], 0.02)
            if r:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    return False
                if not chunk:
                    return False
                self.out += chunk
        return False

    @property
    def text(self) -> str:
        return self.out.decode(errors="replace").replace("\r\n", "\n")

    def hangup(self) -> None:
        if not self.closed:
            os.close(self.master)
            self.closed = True

    def wait(self, timeout: float) -> Optional[int]:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            lab._kill_command_group(self.proc)
        self.hangup()


# --------------------------------------------------------------------------- checks
def full_resume_check(srv: lab.Server, point: Point, timeout: float = 1200,
                      first: Optional[subprocess.CompletedProcess] = None) -> None:
    """(a): a resumed ``apply --yes`` exits 0, ``verify`` passes, the clients get through.
    ``first``: the resumed run already made (e.g. the last run of a chain)."""
    problems = []
    r = first if first is not None else run_apply(srv, timeout=timeout)
    text = r.stdout + r.stderr
    if r.returncode != 0:
        problems.append(f"resumed apply exited {r.returncode}: {_failed_checks(text)}")
    if has_traceback(text):
        problems.append("traceback in resumed apply")
    if not problems:
        v = srv.run("mailwizard verify --answers /root/answers.yaml 2>&1", check=False,
                    timeout=600)
        if v.returncode != 0:
            problems.append(f"verify exited {v.returncode}: {_failed_checks(v.stdout)}")
    if not problems:
        box = mailbox(srv)
        for name, probe in (("submission", lambda: mwlab.check_swaks_submission_delivers(
                box, "alice")), ("relay", lambda: mwlab.check_not_an_open_relay(box)),
                            ("imaps", lambda: mwlab.check_imaps_reads(box, "bob"))):
            try:
                probe()
            except Exception as exc:  # noqa: BLE001 - record, keep going
                problems.append(f"probe {name}: {str(exc)[-500:]}")
    if not problems:
        a = srv.run("dpkg --audit 2>&1", check=False, timeout=120)
        if a.stdout.strip():
            problems.append(f"dpkg --audit: {a.stdout[-500:]}")
    point.resumed = not problems
    point.resume_detail = "; ".join(problems)


def _failed_checks(text: str) -> str:
    """The FAIL lines (with their explanation) of an apply/verify output, else its tail."""
    lines = text.splitlines()
    keep = [ln.strip() for i, ln in enumerate(lines) if ln.lstrip().startswith("FAIL")
            or (ln.lstrip().startswith("->") and i and lines[i - 1].lstrip().startswith("FAIL"))
            or "FAILED" in ln or "error:" in ln.lower()]
    return " / ".join(keep)[:1500] if keep else _tail(text)


class _NamedMailbox(mwlab.Mailbox):
    """IMAPS verified against the server's name, not the address we connect to: a copy of
    a server has another address than the one its certificate was made for."""

    def imaps(self) -> imaplib.IMAP4_SSL:
        ip = self.ip

        class _ByName(imaplib.IMAP4_SSL):
            def _create_socket(self, timeout):  # type: ignore[no-untyped-def]
                sock = socket.create_connection((ip, self.port), timeout)
                return self.ssl_context.wrap_socket(sock, server_hostname=mwlab.HOSTNAME)

        return _ByName(mwlab.HOSTNAME, 993, ssl_context=self.ctx(), timeout=15)


def mailbox(srv: lab.Server) -> mwlab.Mailbox:
    cert = srv.path(f"/etc/ssl/certs/{mwlab.HOSTNAME}.crt")
    return _NamedMailbox(srv.ip, str(cert), srv.host_ip, srv.host_ip2,
                         {u: srv.path(f"/home/{u}/Maildir") for u in mwlab.USERS})


def _tail(text: str, n: int = 1500) -> str:
    return text[-n:].replace("\n", " / ")


def etc_expected(before: mwlab.Manifest, copy: lab.Server) -> mwlab.Manifest:
    """The pre-apply /etc manifest as it must read on a copy: the copy booted with its own
    address, so the lab's /etc/hosts is the copy's (mailwizard never writes it)."""
    exp = dict(before)
    now = mwlab.manifest(copy.path("/"))
    for k in ("/etc/hosts", "/etc/hostname"):
        if k in now:
            exp[k] = now[k]
    return exp


def rollback_here(srv: lab.Server, before: mwlab.Manifest, point: Point) -> None:
    """``rollback --yes`` on ``srv``: exit 0, no traceback, /etc byte for byte as
    ``before`` (see :func:`etc_expected`), no ``/etc/ssl/private/.mw-*`` temp file left."""
    expected = etc_expected(before, srv)
    r = srv.run("mailwizard rollback --yes 2>&1", check=False, timeout=900)
    diff = mwlab.manifest_diff(expected, mwlab.manifest(srv.path("/")))
    problems = []
    if r.returncode != 0:
        problems.append(f"rollback exited {r.returncode}: {_failed_checks(r.stdout)[:800]}")
    if has_traceback(r.stdout):
        problems.append("traceback in rollback")
    if diff:
        problems.append(f"{len(diff)} /etc differences: " + "; ".join(diff[:8]))
    private = srv.path("/etc/ssl/private")
    left = sorted(p.name for p in private.glob(".mw-*")) if private.is_dir() else []
    if left:
        problems.append(f"temp files left in /etc/ssl/private: {left}")
    point.byte_exact = not problems
    point.rollback_detail = "; ".join(problems)


def rollback_check(image: lab.Image, snap: Path, before: mwlab.Manifest, point: Point,
                   layers: Tuple[Path, ...] = ()) -> None:
    """(b): on a fresh copy of the server as it was at the fault, ``rollback --yes`` exits
    0 and /etc is byte for byte (modes, owners, links) what it was before the first apply."""
    copy = lab.Server(image, layers=(snap, *layers))
    try:
        copy.boot()
        copy.attach_debs()
        rollback_here(copy, before, point)
    except Exception as exc:  # noqa: BLE001 - a broken check is a failed check
        point.byte_exact = False
        point.rollback_detail = f"check crashed: {exc!r}"[-1500:]
    finally:
        copy.halt()


def resume_on_copy(image: lab.Image, snap: Path, point: Point,
                   layers: Tuple[Path, ...] = ()) -> None:
    """(a) on a fresh copy of the server as it was at the fault (a copy has no daemons
    running, like a server that rebooted after the crash)."""
    copy = lab.Server(image, layers=(snap, *layers))
    try:
        copy.boot()
        copy.attach_debs()
        full_resume_check(copy, point)
    except Exception as exc:  # noqa: BLE001 - a broken check is a failed check
        point.resumed = False
        point.resume_detail = f"check crashed: {exc!r}"[-1500:]
    finally:
        copy.halt()


class RollbackWorker:
    """Runs :func:`rollback_check` on snapshots in a background thread (bounded queue, so
    the snapshots waiting in /dev/shm stay few)."""

    def __init__(self, image: lab.Image, before: mwlab.Manifest, maxsize: int = 8,
                 threads: int = 2) -> None:
        self.image, self.before = image, before
        self.q: queue.Queue = queue.Queue(maxsize=maxsize)
        self.dir = SNAP_ROOT / f"mwlab-snap-{os.getpid()}-{id(self)}"
        self.dir.mkdir(parents=True)
        atexit.register(shutil.rmtree, self.dir, True)     # also when interrupted
        self.n = 0
        self.threads = [threading.Thread(target=self._loop, daemon=True)
                        for _ in range(threads)]
        for t in self.threads:
            t.start()

    def submit(self, srv: lab.Server, point: Point, resume: bool = False) -> None:
        """Snapshot ``srv`` now; later check rollback on a copy (and with ``resume``, a full
        resume on a second copy of the same snapshot)."""
        self.n += 1
        snap = srv.snapshot(self.dir / f"{self.n:03d}")
        self.q.put((snap, point, srv.layers, resume))

    def _loop(self) -> None:
        while True:
            item = self.q.get()
            if item is None:
                return
            snap, point, layers, resume = item
            try:
                rollback_check(self.image, snap, self.before, point, layers)
                if resume:
                    resume_on_copy(self.image, snap, point, layers)
            finally:
                shutil.rmtree(snap, ignore_errors=True)

    def close(self) -> None:
        for _ in self.threads:
            self.q.put(None)
        for t in self.threads:
            t.join(timeout=3600)
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------- chains
@dataclass
class ChainResult:
    points: List[Point]
    final: Optional[subprocess.CompletedProcess]
    processes: int
    seconds: float
    stuck: List[Point]
    server: lab.Server            # where the last run ran


def interrupted_ok(kind: str, rc: Optional[int], text: str) -> List[str]:
    """What is wrong with how an interrupted run ended."""
    problems = []
    if kind == "KILL":
        if not killed_by(rc, signal.SIGKILL):
            problems.append(f"expected death by SIGKILL, rc {rc}")
        return problems
    if rc is None:
        problems.append("did not stop within the time limit after the signal")
    elif rc != EXIT_INTERRUPTED:
        problems.append(f"exit status {rc}, not {EXIT_INTERRUPTED} (stop at the next change "
                        "boundary with the session saved)")
    if has_traceback(text):
        problems.append("traceback: " + _tail(text[text.find("Traceback"):], 600))
    return problems


def fresh_sequence(data: Dict[str, Any]) -> List[Any]:
    """The events of an uninterrupted apply, one per session write, in order, from its
    finished session (``yaml.safe_load`` of session.yaml): the binding; per step in the
    order applied, each change started then done, then the step's status."""
    seq: List[Any] = [("bind",)]
    for step, info in data.get("steps", {}).items():
        for e in data.get("journal", []):
            if e.get("step") == step:
                seq += [(step, e.get("change"), "started"), (step, e.get("change"), "done")]
        status = info.get("status")
        seq.append(("step", step, "skipped" if status == "skipped" else "applied"))
    return seq


def fresh_position(seq: List[Any], st: Optional[Tuple[Any, ...]]) -> int:
    """How many writes of an uninterrupted run (``seq``) the session ``st`` is past: the
    1-based number of the last event of ``seq`` it holds (0 without a session)."""
    if st is None or st[0] == "unreadable":
        return 0
    present = {("bind",)} | {(e[1], e[2], e[3]) for e in st[0]}
    present |= {("step", k, "applied" if v == "verified" else v) for k, v in st[1]}
    hits = [i + 1 for i, ev in enumerate(seq) if ev in present]
    return max(hits) if hits else 0


def _steps_finished(st: Optional[Tuple[Any, ...]]) -> int:
    if st is None or st[0] == "unreadable":
        return 0
    return sum(1 for _, v in st[1] if v in ("applied", "verified", "skipped"))


def hook_chain(srv: lab.Server, signals: List[str], worker: Optional[RollbackWorker],
               stride: int = 1, resume_every: int = 0, max_points: int = 10_000,
               max_runs: int = 600, run_timeout: float = 600,
               stop_in_verify: bool = True, log: Callable[[str], None] = print,
               restart: Optional[Callable[[], lab.Server]] = None,
               sequence: Optional[List[Any]] = None, max_restarts: int = 8,
               write_pos: Optional[List[int]] = None) -> ChainResult:
    """Interrupt ``apply --yes`` again and again through the fault hook until a run finishes.

    Run i gets ``MAILWIZARD_FAULT_AT=j``, ``MAILWIZARD_FAULT_SIGNAL=signals[i % len]``. A
    resumed run first re-writes what it finds (the binding, the steps already applied) and
    may redo changes it had done, so when a kill leaves the session in a state seen before
    (:func:`progress_key`), it hit such a re-write: j grows by one and the point does not
    count. When it changed, it is a new boundary: it is recorded, the server is snapshotted
    for the rollback check, and the next run is killed at the next boundary (or ``stride``
    boundaries later).

    A run that ends with a failure before the checks (it could not resume) is recorded as a
    failed resume of the point before it ("stuck"); with ``restart`` (a fresh prepared
    server), ``sequence`` (:func:`fresh_sequence`) and ``write_pos`` (the position in it of
    every write of an uninterrupted run), the chain then goes on from the next boundary: a
    fresh run killed at the write that reaches it."""
    t0 = time.monotonic()
    j, runs, points, stuck = 1, 0, [], []
    prev = session_state(srv)
    seen = {progress_key(prev)}
    final = None
    fresh_at: Optional[int] = None
    while True:
        runs += 1
        if runs > max_runs:
            raise AssertionError(f"chain did not finish within {max_runs} runs")
        sig = signals[len(points) % len(signals)]
        inject = len(points) < max_points and not (stop_in_verify and verify_phase(prev))
        at = fresh_at if fresh_at is not None else j
        env = {"MAILWIZARD_FAULT_AT": str(at), "MAILWIZARD_FAULT_SIGNAL": sig} if inject else {}
        try:
            r = run_apply(srv, env=env, timeout=run_timeout)
            text, rc = r.stdout + r.stderr, r.returncode
        except subprocess.TimeoutExpired as exc:       # e.g. hung after the signal
            text, rc = (exc.stdout or b"").decode(errors="replace"), None
            r = subprocess.CompletedProcess(APPLY, -1, text, "")
        cur = session_state(srv)
        stopped = rc is None or (killed_by(rc, signal.SIGKILL) if sig == "KILL" else (
            rc == EXIT_INTERRUPTED or rc < 0 or rc > 128))
        if not inject or not stopped:
            final = r                   # ran to its end: the j-th write never came
            if (rc in (0, 3) or verify_phase(cur) or restart is None or sequence is None
                    or len(stuck) >= max_restarts):
                break
            # it could not resume: record, then go on from the next boundary on a new server
            sp = TOTALS.add(Point(f"{sig}: run {runs} could not resume "
                                  f"(after {points[-1].label if points else 'start'})",
                                  f"{sig}-stuck", describe_state(cur), rc))
            sp.resumed, sp.resume_detail = False, f"exit {rc}: {_failed_checks(text)}"
            stuck.append(sp)
            log(f"  STUCK {sp.label}: {sp.resume_detail}"[:400])
            fresh_at = write_for(write_pos, fresh_position(sequence, cur) + 1)
            if fresh_at is None:
                break
            srv.halt()
            srv = restart()
            prev = session_state(srv)
            seen = {progress_key(prev)}
            continue
        key = progress_key(cur)
        if key in seen:
            j += 1                      # hit a re-write or a redo: no new boundary
            continue
        seen.add(key)
        events = new_events(prev, cur)
        label = f"{sig}@write {at} of " + ("a fresh run" if fresh_at else f"run {runs}")
        p = TOTALS.add(Point(label, sig, describe_state(cur), rc))
        p.problems = interrupted_ok(sig, rc, text)
        p.events = 1 if fresh_at else len(events)
        p.pos = fresh_position(sequence, cur) if sequence else 0
        points.append(p)
        log(f"  {p.label}: rc {rc}, {p.state}, {len(events)} new: {events}"[:400])
        if worker is not None:
            worker.submit(srv, p, resume=bool(resume_every) and len(points) % resume_every == 0)
        prev = cur
        if fresh_at is not None:      # next: a resumed run; its prefix re-writes the steps
            j, fresh_at = _steps_finished(cur) + 2, None
            continue
        # this run's first new write was write j - len(events) + 1: expect the same prefix
        # in the next run (a resumed run may redo more or less; the kills self-correct)
        j = max(1, j - max(1, len(events)) + 1) + stride - 1
    return ChainResult(points, final, runs, time.monotonic() - t0, stuck, srv)


def write_for(write_pos: Optional[List[int]], pos: int) -> Optional[int]:
    """The first write number of an uninterrupted run that reaches position ``pos``."""
    for k, p in enumerate(write_pos or [], 1):
        if p >= pos:
            return k
    return None


def fill_gaps(points: List[Point], sequence: List[Any], write_pos: List[int],
              new_server: Callable[[], lab.Server], worker: Optional[RollbackWorker],
              log: Callable[[str], None] = print) -> List[Point]:
    """Kill a fresh run at every boundary of an uninterrupted apply (event of ``sequence``)
    that no point of a chain stands for (the chain went past it: a resumed run redid
    changes), so that every boundary gets its kill and rollback check."""
    covered = {p.pos for p in points}
    added = []
    for m in range(1, len(sequence) + 1):
        k = write_for(write_pos, m)
        if m in covered or k is None:
            continue
        srv = new_server()
        try:
            r = run_apply(srv, env={"MAILWIZARD_FAULT_AT": str(k)}, timeout=900)
            cur = session_state(srv)
            p = TOTALS.add(Point(f"KILL@write {k} of a fresh run (the chain went past it)",
                                 "KILL", describe_state(cur), r.returncode))
            p.problems = interrupted_ok("KILL", r.returncode, r.stdout + r.stderr)
            p.pos = fresh_position(sequence, cur)
            log(f"  {p.label}: rc {r.returncode}, {p.state}, stands for write {p.pos}")
            added.append(p)
            if worker is not None and killed_by(r.returncode, signal.SIGKILL):
                worker.submit(srv, p)
        finally:
            srv.halt()
    return added
