"""Crash safety of ``mailwizard apply`` on a real lab server (Debian 12), by fault injection.

* SIGKILL at every change boundary of a full run: the product's hook
  (``MAILWIZARD_FAULT_AT=N``: the N-th durable session write is followed by a signal to
  itself) in a chain -- the run killed at boundary k is resumed with a kill at the next one,
  so one server crosses every boundary for about the cost of one apply.  The boundaries are
  counted on an uninterrupted run (inotify on the state dir), never hard-coded.
* SIGTERM and SIGINT through the hook at a sample of boundaries; SIGHUP as an SSH drop
  gives it: the terminal's master side is closed (the kernel's hangup, not the hook), once
  while dpkg runs and then at a sample of points.
* Inside the package transaction, found from outside: the wizard alone is SIGKILLed while
  apt-get (before dpkg) or dpkg runs; the orphaned apt is left to finish.  (Key generation
  is in-process and takes milliseconds: it is covered by the hook's boundaries around the
  key write, not from outside.)

After each point: (b) on a fresh copy of the server as it was right after the fault
(its overlay layer copied), ``rollback --yes`` exits 0 and /etc is byte for byte as before
the first apply; (a) at the end of each chain and at sampled points, a resumed
``apply --yes`` exits 0, ``verify`` passes and the mail clients get through.

Also: two concurrent applies (the second is refused, exit 4), a stale lock after kill -9,
and damaged session files.  The totals are printed at the end of the session (conftest) and
written to ``$MWLAB_CACHE/logs/fault-totals.txt``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional

import faultlab
import lab
import mwlab
import pytest
import yaml
from faultlab import TOTALS, Point

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent


def _prepare(srv: lab.Server) -> mwlab.Manifest:
    srv.install_wheels()
    srv.path("/root/answers.yaml").write_text(mwlab.answers_for(srv.ip))
    return mwlab.manifest(srv.path("/"))


@contextmanager
def _server(image: lab.Image) -> Iterator[lab.Server]:
    with lab.booted(image, track=lambda s: lab.track_module_server(s, __file__)) as srv:
        yield srv


def _log(msg: str) -> None:
    print(msg, flush=True)


def _report() -> None:
    faultlab.write_report(lab.CACHE_ROOT / "logs" / "fault-totals.txt")


def _failures(points: List[Point], what: str) -> List[str]:
    out = []
    for p in points:
        if what == "byte_exact" and p.byte_exact is not True:
            out.append(f"{p.label} [{p.state}]: {p.rollback_detail or 'not checked'}")
        elif what == "resumed" and p.resumed is False:
            out.append(f"{p.label} [{p.state}]: {p.resume_detail}")
        elif what == "run" and p.problems:
            out.append(f"{p.label} [{p.state}]: {'; '.join(p.problems)}")
    return out


# --------------------------------------------------------------------------- the count
@dataclass
class Counted:
    srv: lab.Server
    before: mwlab.Manifest
    boundaries: int
    verify_writes: int
    out: str
    rc: int
    done_snap: Path
    sequence: List[Any]           # events of the run, one per change state / step status
    write_pos: List[int]          # per session write: the event position it reached


@pytest.fixture(scope="module")
def counted(lab_image: lab.Image) -> Iterator[Counted]:
    """An uninterrupted apply on a fresh server, its session writes counted; a snapshot of
    the finished server is kept for the damaged-session tests."""
    with _server(lab_image) as srv:
        before = _prepare(srv)
        t0 = time.monotonic()
        n, r, written = faultlab.count_boundaries(srv)
        lab._record("faults_counted_apply", time.monotonic() - t0)
        TOTALS.boundaries = n
        st = faultlab.session_state(srv)
        verified = sum(1 for _, v in st[1] if v == "verified") if st and st[0] != \
            "unreadable" else 0
        snap = srv.snapshot(faultlab.SNAP_ROOT / f"mwlab-done-{os.getpid()}")
        atexit.register(shutil.rmtree, snap, True)
        try:
            data = yaml.safe_load(srv.path(f"{faultlab.STATE_DIR}/session.yaml").read_text())
            seq = faultlab.fresh_sequence(data)
            write_pos = [faultlab.fresh_position(seq, faultlab.state_of(d)) for d in written]
            yield Counted(srv, before, n, verified, r.stdout, r.returncode, snap, seq,
                          write_pos)
        finally:
            shutil.rmtree(snap, ignore_errors=True)
            _report()


def test_uninterrupted_apply_and_its_boundaries(counted: Counted):
    assert counted.rc == 0, counted.out[-4000:]
    assert counted.boundaries > counted.verify_writes > 0, (counted.boundaries,
                                                             counted.verify_writes)
    assert len(counted.write_pos) == counted.boundaries
    assert counted.write_pos == sorted(counted.write_pos), counted.write_pos
    _log(f"uninterrupted apply: {counted.boundaries} session writes "
         f"({counted.verify_writes} of them by verify); {len(counted.sequence)} change and "
         f"step events; event reached by each write: {counted.write_pos}")


# --------------------------------------------------------------------------- SIGKILL chain
@dataclass
class Chain:
    result: faultlab.ChainResult
    end: Point


def _run_chain(image: lab.Image, signals: List[str], stride: int, label: str,
               resume_every: int = 0, counted: Optional[Counted] = None) -> Chain:
    """A hook chain on a fresh server; rollback checks (and full resumes every
    ``resume_every`` points) on copies in a worker thread; a full resume check at the end.
    With ``sequence``, a chain that cannot resume goes on from the next boundary on a new
    server (the failure is recorded)."""
    t0 = time.monotonic()
    with ExitStack() as stack:
        srv = stack.enter_context(_server(image))
        before = _prepare(srv)

        def restart() -> lab.Server:
            new = stack.enter_context(_server(image))
            _prepare(new)
            return new

        worker = faultlab.RollbackWorker(image, before)
        try:
            res = faultlab.hook_chain(
                srv, signals, worker, stride=stride, resume_every=resume_every, log=_log,
                restart=restart if counted else None,
                sequence=counted.sequence if counted else None,
                write_pos=counted.write_pos if counted else None)
            if counted:
                res.points += faultlab.fill_gaps(res.points, counted.sequence,
                                                 counted.write_pos, restart, worker, _log)
            end = TOTALS.add(Point(f"{label} chain end (last run after "
                                   f"{len(res.points)} faults)", label + "-end",
                                   faultlab.describe_state(
                                       faultlab.session_state(res.server)),
                                   res.final.returncode if res.final else None))
            faultlab.full_resume_check(res.server, end, first=res.final)
            # and the journal of that crash-riddled run still undoes everything
            faultlab.rollback_here(res.server, before, end)
        finally:
            worker.close()
    lab._record(f"faults_{label}_chain", time.monotonic() - t0)
    _log(f"{label} chain: {len(res.points)} faults, {len(res.stuck)} could not resume, "
         f"{res.processes} runs, {res.seconds:.0f} s for the runs, "
         f"{time.monotonic() - t0:.0f} s in all")
    _report()
    return Chain(res, end)


@pytest.fixture(scope="module")
def kill_chain(lab_image: lab.Image, counted: Counted) -> Chain:
    return _run_chain(lab_image, ["KILL"], 1, "KILL", resume_every=12, counted=counted)


def test_sigkill_chain_crosses_every_boundary(kill_chain: Chain, counted: Counted):
    """Every write of an uninterrupted apply before its checks got a kill (resumed runs add
    their own, so there may be more)."""
    apply_writes = counted.boundaries - counted.verify_writes
    pts = kill_chain.result.points
    covered = {p.pos for p in pts}
    # positions are numbered by the change/step events read back from the finished session
    # (one write each today); if the product ever writes more often, this still demands a
    # kill standing for every change and step event
    missing = sorted(set(counted.write_pos) - {0} - covered)
    assert not missing, f"writes of an uninterrupted apply no kill stood for: {missing}"
    gaps = [p for p in pts if "went past" in p.label]
    _log(f"{len(pts)} SIGKILL points cover all {len(counted.sequence)} events "
         f"({apply_writes} writes) of an uninterrupted "
         f"apply before its checks; {len(gaps)} of them on fresh runs where the chain went "
         "past a boundary")


def test_sigkill_chain_ends_in_a_working_server(kill_chain: Chain):
    """Every resumed run went on (none refused to resume) and the last one left a working
    server."""
    stuck = [f"{p.label} [{p.state}]: {p.resume_detail}" for p in kill_chain.result.stuck]
    assert not stuck, f"{len(stuck)} resumes failed:\n" + "\n".join(stuck)
    assert kill_chain.end.resumed, kill_chain.end.resume_detail


def test_sigkill_rollback_on_a_copy_is_byte_exact_at_every_point(kill_chain: Chain):
    """... and after the chain (resumed to the end), rollback is byte-exact too."""
    bad = _failures(kill_chain.result.points + [kill_chain.end], "byte_exact")
    assert not bad, f"{len(bad)} of {len(kill_chain.result.points)} points:\n" + \
        "\n".join(bad)


def test_sigkill_sampled_points_resume_on_a_copy(kill_chain: Chain):
    sampled = [p for p in kill_chain.result.points if p.resumed is not None]
    assert sampled, "no point was sampled for a full resume"
    bad = _failures(sampled, "resumed")
    assert not bad, f"{len(bad)} of {len(sampled)} sampled points:\n" + "\n".join(bad)


# --------------------------------------------------------------------------- TERM / INT
@pytest.fixture(scope="module")
def term_int_chain(lab_image: lab.Image, counted: Counted) -> Chain:
    """SIGTERM and SIGINT (alternating) through the hook at about 8 boundaries spread over
    the run; each must stop the run at a change boundary with exit 130."""
    stride = max(2, (counted.boundaries - counted.verify_writes) // 8)
    return _run_chain(lab_image, ["TERM", "INT"], stride, "TERM-INT", resume_every=4)


def test_term_and_int_stop_cleanly_with_exit_130(term_int_chain: Chain):
    pts = term_int_chain.result.points
    assert len(pts) >= 4, len(pts)
    bad = _failures(pts, "run")
    assert not bad, f"{len(bad)} of {len(pts)} points:\n" + "\n".join(bad)


def test_term_and_int_chain_ends_in_a_working_server(term_int_chain: Chain):
    assert term_int_chain.end.resumed, term_int_chain.end.resume_detail
    sampled = [p for p in term_int_chain.result.points if p.resumed is not None]
    bad = _failures(sampled, "resumed")
    assert not bad, "\n".join(bad)


def test_term_and_int_rollback_on_a_copy_is_byte_exact(term_int_chain: Chain):
    bad = _failures(term_int_chain.result.points + [term_int_chain.end], "byte_exact")
    assert not bad, f"{len(bad)} of {len(term_int_chain.result.points)} points:\n" + \
        "\n".join(bad)


# --------------------------------------------------------------------------- SIGHUP (pty)
@dataclass
class HupChain:
    points: List[Point]
    end: Point


@pytest.fixture(scope="module")
def hup_chain(lab_image: lab.Image) -> Iterator[HupChain]:
    """apply on a terminal whose master is closed (an SSH drop): first while dpkg runs, then
    right after every 6th change line; the runs are chained until one finishes."""
    t0 = time.monotonic()
    points: List[Point] = []
    with _server(lab_image) as srv:
        before = _prepare(srv)
        worker = faultlab.RollbackWorker(lab_image, before)
        final = None
        try:
            prev = faultlab.session_state(srv)
            for run in range(1, 40):
                pr = faultlab.PtyRun(srv)
                try:
                    if run == 1:
                        what = "while dpkg runs"
                        hit = pr.read_until(lambda t: False, 900, also=lambda: bool(
                            faultlab.apt_pids(srv, ("dpkg",))))
                    else:
                        what = "after the 6th change line"
                        hit = pr.read_until(lambda t: len(_CHANGE_RE.findall(t)) >= 6, 900)
                    if not hit or pr.proc.poll() is not None:
                        rc = pr.wait(900)
                        final = (rc, pr.text)
                        break
                    pr.hangup()
                    gone = faultlab.wait_until(lambda: not faultlab.wizard_pids(srv), 120,
                                               0.1)
                finally:
                    pr.kill()
                p = TOTALS.add(Point(f"HUP (terminal closed {what}) run {run}", "HUP-pty"))
                if not gone:
                    p.problems.append("mailwizard still ran 120 s after the hangup")
                    for pid in faultlab.wizard_pids(srv):
                        os.kill(pid, signal.SIGKILL)
                # an orphaned apt/dpkg finishes (or was killed by the hangup: see audit)
                faultlab.wait_until(lambda: not faultlab.apt_pids(srv), 600, 0.2)
                audit = srv.run("dpkg --audit 2>&1", check=False, timeout=120).stdout.strip()
                if audit:
                    p.problems.append(f"dpkg left half-configured packages: {audit[:300]}")
                cur = faultlab.session_state(srv)
                p.state = faultlab.describe_state(cur)
                points.append(p)
                _log(f"  {p.label}: {p.state}; {p.problems}")
                worker.submit(srv, p, resume=(run % 3 == 1))
                prev = cur
            del prev
            end = TOTALS.add(Point(f"HUP chain end (after {len(points)} hangups)",
                                   "HUP-pty-end"))
            if final is None:
                end.resumed, end.resume_detail = False, "no run finished"
            else:
                faultlab.full_resume_check(srv, end, first=_completed(final))
            faultlab.rollback_here(srv, before, end)
        finally:
            worker.close()
    lab._record("faults_HUP_chain", time.monotonic() - t0)
    _report()
    yield HupChain(points, end)


_CHANGE_RE = faultlab.re.compile(r"\((?:changed|resumed)\)\n")


def _completed(final):  # type: ignore[no-untyped-def]
    import subprocess

    rc, text = final
    return subprocess.CompletedProcess(faultlab.APPLY, rc, text, "")


def test_hangup_stops_at_a_boundary_and_dpkg_survives(hup_chain: HupChain):
    pts = hup_chain.points
    assert len(pts) >= 3, len(pts)
    bad = _failures(pts, "run")
    assert not bad, f"{len(bad)} of {len(pts)} points:\n" + "\n".join(bad)


def test_hangup_chain_ends_in_a_working_server(hup_chain: HupChain):
    assert hup_chain.end.resumed, hup_chain.end.resume_detail
    bad = _failures([p for p in hup_chain.points if p.resumed is not None], "resumed")
    assert not bad, "\n".join(bad)


def test_hangup_rollback_on_a_copy_is_byte_exact(hup_chain: HupChain):
    bad = _failures(hup_chain.points + [hup_chain.end], "byte_exact")
    assert not bad, f"{len(bad)} of {len(hup_chain.points)} points:\n" + "\n".join(bad)


# --------------------------------------------------------------------------- inside apt
def _kill_wizard_when(srv: lab.Server, condition: Callable[[], bool], never: str) -> None:
    """Start ``apply`` on ``srv``, wait (polling every 5 ms) until ``condition`` holds, then
    SIGKILL the wizard alone: what it started (apt, dpkg) is left to run on."""
    proc = srv.popen(faultlab.APPLY, stdin=faultlab.subprocess.DEVNULL,
                     stdout=faultlab.subprocess.DEVNULL,
                     stderr=faultlab.subprocess.DEVNULL, start_new_session=True)
    try:
        assert faultlab.wait_until(condition, 600, 0.005), never
        for pid in faultlab.wizard_pids(srv):
            os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            lab._kill_command_group(proc)


@pytest.mark.parametrize("target", ["apt-get", "dpkg", "dpkg-ctrl-c"])
def test_fault_inside_the_package_transaction(lab_image: lab.Image, target: str):
    """While apt-get (before dpkg) or dpkg runs (found in the server's pid namespace), the
    wizard alone is SIGKILLed -- or, ``dpkg-ctrl-c``, Ctrl-C is typed on its terminal (SIGINT
    to the foreground group): it must stop within 2 minutes without a traceback.  The
    (orphaned) apt finishes.  Then (b) rollback on a copy is byte-exact and (a) a resumed
    apply exits 0, verify passes and the clients get through."""
    with _server(lab_image) as srv:
        before = _prepare(srv)
        kind = "INT-pty-dpkg" if target == "dpkg-ctrl-c" else "KILL-apt"
        p = TOTALS.add(Point(f"{kind}: fault while {target.split('-')[0]} runs", kind))
        dpkg = ("dpkg",) if target.startswith("dpkg") else ("apt-get",)
        if target == "dpkg-ctrl-c":
            pr = faultlab.PtyRun(srv)
            try:
                assert pr.read_until(lambda t: False, 600, also=lambda: bool(
                    faultlab.apt_pids(srv, dpkg))), "dpkg never ran"
                os.write(pr.master, b"\x03")
                gone = faultlab.wait_until(lambda: not faultlab.wizard_pids(srv), 120, 0.1)
                pr.read_until(lambda t: False, 1)
                if not gone:
                    p.problems.append("mailwizard still ran 120 s after Ctrl-C")
                if faultlab.has_traceback(pr.text):
                    p.problems.append("traceback: " + pr.text[-800:])
            finally:
                pr.kill()
        else:
            _kill_wizard_when(srv, lambda: bool(faultlab.apt_pids(srv, dpkg)),
                              f"{target} never ran")
        for pid in faultlab.wizard_pids(srv):
            os.kill(pid, signal.SIGKILL)
        assert faultlab.wait_until(lambda: not faultlab.apt_pids(srv), 600, 0.2), \
            "the orphaned apt did not finish"
        p.state = faultlab.describe_state(faultlab.session_state(srv))
        worker = faultlab.RollbackWorker(lab_image, before)
        try:
            worker.submit(srv, p)
            faultlab.full_resume_check(srv, p)
        finally:
            worker.close()
        after = Point(f"{kind}: rollback after the resumed run ({target})", kind + "-end")
        faultlab.rollback_here(srv, before, after)
        TOTALS.add(after)
        _report()
        assert not p.problems and p.byte_exact and p.resumed and after.byte_exact, (
            f"[{p.state}] run: {p.problems} | rollback on a copy: {p.rollback_detail} | "
            f"resume: {p.resume_detail} | rollback after the resume: "
            f"{after.rollback_detail}")


def test_kill_in_dpkg_then_an_immediate_rerun_waits_for_the_orphan(lab_image: lab.Image):
    """kill -9 of the wizard while dpkg runs, then at once ``apply`` again while the orphaned
    apt-get is still at work: the resumed run waits for the package manager's locks (no
    "config.dat is locked" from debconf, no second apt fighting the first), then finishes,
    verify passes and the clients get through; rollback after it is byte-exact."""
    with _server(lab_image) as srv:
        before = _prepare(srv)
        p = TOTALS.add(Point("KILL-apt: kill in dpkg, immediate re-run", "KILL-apt"))

        def unpacking() -> bool:  # the install's dpkg, not apt-get update's quick probes
            return any("dpkg" in cmd and "--status-fd" in cmd for _, cmd in srv.processes())

        _kill_wizard_when(srv, unpacking, "dpkg never unpacked")
        orphan_running = bool(faultlab.apt_pids(srv))
        resumed = faultlab.run_apply(srv, timeout=1200)
        text = resumed.stdout + resumed.stderr
        if "config.dat is locked" in text or "Could not get lock" in text:
            p.problems.append("the re-run ran into the orphan's lock: " + text[-800:])
        waited = "a package manager is still running" in text
        faultlab.full_resume_check(srv, p, first=resumed)
        after = Point("KILL-apt: rollback after the immediate re-run", "KILL-apt-end")
        faultlab.rollback_here(srv, before, after)
        TOTALS.add(after)
        _report()
        assert orphan_running, "apt had finished before the re-run: nothing was tested"
        assert waited, "the re-run did not wait for the orphaned apt: " + text[-1500:]
        assert not p.problems and p.resumed and after.byte_exact, (
            f"run: {p.problems} | resume: {p.resume_detail} | rollback after the resume: "
            f"{after.rollback_detail}")


# --------------------------------------------------------------------------- the lock
def _start_apply(srv: lab.Server, out: Path):  # type: ignore[no-untyped-def]
    fo = open(out, "wb")
    proc = srv.popen(faultlab.APPLY, stdin=faultlab.subprocess.DEVNULL, stdout=fo,
                     stderr=faultlab.subprocess.STDOUT, start_new_session=True)
    fo.close()
    # the lock is taken before the plan is printed
    assert faultlab.wait_until(lambda: out.stat().st_size > 0 or proc.poll() is not None,
                               120, 0.01)
    return proc


def test_a_second_concurrent_apply_is_refused_with_exit_4(counted: Counted):
    srv = counted.srv
    first = _start_apply(srv, Path(srv.dir) / "first.out")
    try:
        second = faultlab.run_apply(srv, timeout=300)
        still = first.poll() is None
        rc1 = first.wait(timeout=600)
    finally:
        if first.poll() is None:
            lab._kill_command_group(first)
    assert still, "the first apply ended before the second asked: the test proved nothing"
    text = second.stdout + second.stderr
    assert second.returncode == 4, text[-2000:]
    assert "another mailwizard" in text and not faultlab.has_traceback(text), text[-2000:]
    assert rc1 == 0, (Path(srv.dir) / "first.out").read_text()[-3000:]


def test_a_stale_lock_after_kill_9_does_not_block(counted: Counted):
    srv = counted.srv
    first = _start_apply(srv, Path(srv.dir) / "killed.out")
    try:
        pids = faultlab.wizard_pids(srv)
        assert pids and first.poll() is None
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            lab._kill_command_group(first)
    assert srv.path(f"{faultlab.STATE_DIR}/lock").exists()   # the stale lock file is there
    r = faultlab.run_apply(srv, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]


# --------------------------------------------------------------------------- damaged file
def _damage(kind: str, data: bytes) -> bytes:
    lines = data.splitlines(keepends=True)
    if kind == "empty":
        return b""
    if kind == "cut-mid-line":
        return data[: len(data) // 2]
    if kind == "cut-at-a-line":              # parseable YAML with the journal's tail gone
        return b"".join(lines[: int(len(lines) * 0.6)])
    if kind == "garbage":
        return bytes(range(256)) * 4
    if kind == "wrong-shape":
        return b"- just\n- a list\n"
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["empty", "cut-mid-line", "cut-at-a-line", "garbage",
                                  "wrong-shape"])
def test_a_damaged_session_file_gives_a_clear_error_and_rollback_works(
        lab_image: lab.Image, counted: Counted, kind: str):
    """On a copy of the finished server, session.yaml is damaged: ``status`` and ``apply``
    give a clear message (no traceback; a refusal names the session file), and
    ``rollback --yes`` still restores /etc byte for byte."""
    copy = lab.Server(lab_image, layers=(counted.done_snap,))
    lab.track_module_server(copy, __file__)
    p = TOTALS.add(Point(f"damaged session file: {kind}", "damaged"))
    try:
        copy.boot()
        copy.attach_debs()
        sess = copy.path(f"{faultlab.STATE_DIR}/session.yaml")
        sess.write_bytes(_damage(kind, sess.read_bytes()))
        problems = []
        for verb in ("status", "apply --answers /root/answers.yaml --yes"):
            r = copy.run(f"mailwizard {verb}", check=False, timeout=600)
            text = r.stdout + r.stderr
            if faultlab.has_traceback(text):
                problems.append(f"{verb}: traceback: {text[-800:]}")
            elif r.returncode not in (0, 3) and "session" not in text.lower():
                problems.append(f"{verb}: exit {r.returncode} without naming the session "
                                f"file: {text[-400:]}")
        p.problems = problems
        expected = faultlab.etc_expected(counted.before, copy)
        r = copy.run("mailwizard rollback --yes 2>&1", check=False, timeout=900)
        diff = mwlab.manifest_diff(expected, mwlab.manifest(copy.path("/")))
        bad = []
        if r.returncode != 0 or faultlab.has_traceback(r.stdout):
            bad.append(f"rollback exited {r.returncode}: {r.stdout[-800:]}")
        if diff:
            bad.append(f"{len(diff)} /etc differences: " + "; ".join(diff[:8]))
        p.byte_exact, p.rollback_detail = not bad, "; ".join(bad)
    finally:
        copy.halt()
        _report()
    assert not p.problems and p.byte_exact, "\n".join(p.problems + [p.rollback_detail])
