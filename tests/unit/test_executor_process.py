"""Commands run in a session of their own; timeouts and hard stops end their process group.

Every child here is a short ``sleep`` or ``sh`` started by the test on the host (no daemon);
each test waits for its own children and kills any it started, by pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Optional

from wizard.executor import Executor

REPO = Path(__file__).resolve().parents[2]


def _wait_file(path: Path, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.05)
    raise AssertionError(f"{path} did not appear within {timeout} s")


def _state(pid: int) -> Optional[str]:
    """The process state letter of ``pid`` (None when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _state(pid) in (None, "Z", "X"):
            return True
        time.sleep(0.05)
    return False


def _kill(pid: int) -> None:
    if pid <= 1:  # never a group, never init
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_child_runs_in_its_own_session(tmp_path: Path) -> None:
    ex = Executor(tmp_path, host_commands=True)
    res = ex.run([sys.executable, "-c", "import os; print(os.getsid(0), os.getpgid(0), "
                  "os.getpid())"])
    sid, pgid, pid = (int(x) for x in res.stdout.split())
    assert sid == pid == pgid
    assert sid != os.getsid(0)


def test_timeout_ends_the_whole_process_group(tmp_path: Path) -> None:
    ex = Executor(tmp_path, host_commands=True)
    bg = tmp_path / "bg.pid"
    res = ex.run(["sh", "-c", f"sleep 300 </dev/null >/dev/null 2>&1 & echo $! > {bg}; wait"],
                 timeout=1)
    pid = int(_wait_file(bg))
    try:
        assert res.returncode == 124 and "timed out after 1 s" in res.stderr
        assert _gone(pid), "the timed-out command's background child survived"
    finally:
        _kill(pid)


HUP_SCRIPT = textwrap.dedent("""
    import sys
    from wizard.executor import Executor
    d = sys.argv[1]
    Executor(d, host_commands=True).run(
        ["sh", "-c", f"echo $$ > {d}/child.pid; sleep 1; echo finished > {d}/marker"])
""")


def test_hangup_of_the_wizards_group_does_not_reach_the_child(tmp_path: Path) -> None:
    """An SSH drop sends SIGHUP to the wizard's process group; a package transaction running
    as its child must go on (here: a child that finishes its work a second later)."""
    proc = subprocess.Popen([sys.executable, "-c", HUP_SCRIPT, str(tmp_path)], cwd=REPO,
                            start_new_session=True)
    child = int(_wait_file(tmp_path / "child.pid"))
    try:
        os.killpg(proc.pid, signal.SIGHUP)  # what the terminal does on a hang-up
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGHUP  # the wizard itself had no handler here
        assert _wait_file(tmp_path / "marker") == "finished"
    finally:
        _kill(child)
        if proc.poll() is None:
            proc.kill()


INT_SCRIPT = textwrap.dedent("""
    import sys
    from wizard.executor import Executor
    d = sys.argv[1]
    Executor(d, host_commands=True).run(
        ["sh", "-c", f"echo $$ > {d}/child.pid; exec sleep 30"], timeout=600)
""")


def test_ctrl_c_during_a_command_exits_without_waiting_for_the_timeout(tmp_path: Path) -> None:
    """KeyboardInterrupt while a helper command runs: the process ends promptly (the bound is
    a hang detector, far above the real time) and the command's group is ended with it."""
    proc = subprocess.Popen([sys.executable, "-c", INT_SCRIPT, str(tmp_path)], cwd=REPO,
                            stderr=subprocess.PIPE, text=True)
    child = int(_wait_file(tmp_path / "child.pid"))
    try:
        proc.send_signal(signal.SIGINT)
        try:
            _out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            raise AssertionError("the interpreter hung after Ctrl-C") from None
        assert "KeyboardInterrupt" in err
        assert _gone(child), "the interrupted command was left running"
    finally:
        _kill(child)
        if proc.poll() is None:
            proc.kill()


def test_output_errors_never_fail_a_command(tmp_path: Path) -> None:
    def broken(line: str) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    ex = Executor(tmp_path, host_commands=True, on_output=broken)
    res = ex.run(["sh", "-c", "echo one; echo two >&2"])
    assert res.ok and res.stdout == "one\n" and res.stderr == "two\n"


def test_signal_death_is_reported_like_a_shell(tmp_path: Path) -> None:
    res = Executor(tmp_path, host_commands=True).run(["sh", "-c", "kill -TERM $$"])
    assert res.returncode == 128 + signal.SIGTERM


def test_echoed_command_line_is_shell_quoted(tmp_path: Path) -> None:
    lines = []
    ex = Executor(tmp_path, host_commands=True, on_output=lines.append)
    ex.run(["echo", "a b", "$(id)"])
    assert lines[0] == "$ echo 'a b' '$(id)'"


SPAWN_SCRIPT = textwrap.dedent("""
    import os, signal, subprocess, sys, time
    from pathlib import Path
    from wizard.executor import Executor, process

    d = Path(sys.argv[1])
    real_popen = subprocess.Popen

    def popen(*a, **kw):
        proc = real_popen(*a, **kw)
        while not (d / "child.pid").exists():
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C just as the child is handed over
        time.sleep(0.1)
        return proc

    process.subprocess.Popen = popen
    Executor(d, host_commands=True).run(
        ["sh", "-c", f"echo $$ > {d}/child.pid; exec sleep 30"], timeout=600)
""")


def test_ctrl_c_while_the_child_is_being_spawned_still_ends_it(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", SPAWN_SCRIPT, str(tmp_path)], cwd=REPO,
                            stderr=subprocess.PIPE, text=True)
    try:
        _out, err = proc.communicate(timeout=30)
        assert "KeyboardInterrupt" in err
        child = int(_wait_file(tmp_path / "child.pid"))
        assert _gone(child), "a child spawned during Ctrl-C was left running"
    finally:
        text = (tmp_path / "child.pid").read_text().strip() if (
            tmp_path / "child.pid").exists() else ""
        if text.isdigit() and int(text) > 1:
            _kill(int(text))
        if proc.poll() is None:
            proc.kill()


def test_a_child_outlives_a_killed_wizard_and_keeps_writing(tmp_path: Path) -> None:
    """kill -9 of the wizard while a command (dpkg, say) runs and prints: the command goes
    on to its end. With its output on a pipe it would die of SIGPIPE at its next line."""
    marker, started = tmp_path / "finished", tmp_path / "started"
    script = textwrap.dedent(f"""
        import sys
        from wizard.executor import Executor
        lines = []
        Executor({str(tmp_path)!r}, host_commands=True, on_output=lines.append).run(
            ["sh", "-c", "echo $$ > {started}; sleep 1; "
                         "for i in 1 2 3 4 5; do echo line $i; echo err $i >&2; done; "
                         "touch {marker}"], timeout=60)
    """)
    wizard = subprocess.Popen([sys.executable, "-c", script], cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    child = int(_wait_file(started))
    try:
        os.kill(wizard.pid, signal.SIGKILL)
        wizard.wait(timeout=15)
        deadline = time.monotonic() + 15
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the orphaned command died before its end"
    finally:
        if _state(child) not in (None, "Z"):
            os.kill(child, signal.SIGKILL)


def test_live_output_lines_arrive_while_the_command_runs(tmp_path: Path) -> None:
    seen = []
    ex = Executor(tmp_path, host_commands=True, on_output=seen.append)
    res = ex.run(["sh", "-c", "echo one; echo two >&2; printf 'no newline'"], timeout=60)
    assert res.ok and res.stdout == "one\nno newline" and res.stderr == "two\n"
    assert {"one", "two", "no newline"} <= set(seen)


def test_probes_keep_pipes_and_changes_write_to_a_spool(tmp_path: Path) -> None:
    """A read-only probe (quiet) sees a pipe as its stdout, as tools expect (Dovecot 2.4.1's
    doveconf -h with several keys fails on a regular file); a command that changes things
    writes to a spool file that outlives the wizard."""
    ex = Executor(tmp_path, host_commands=True, on_output=lambda _line: None)
    probe = ["sh", "-c", "if [ -p /dev/stdout ]; then echo pipe; else echo file; fi"]
    assert ex.run(probe, quiet=True).stdout == "pipe\n"
    assert ex.run(probe).stdout == "file\n"


def test_input_reaches_the_child_and_a_child_that_ignores_it_is_not_blocked(
        tmp_path: Path) -> None:
    ex = Executor(tmp_path, host_commands=True)
    big = "x" * (1 << 20) + "\n"
    assert ex.run(["sh", "-c", "wc -c"], input=big, quiet=True).stdout.strip() == str(len(big))
    assert ex.run(["sh", "-c", "wc -c"], input=big).stdout.strip() == str(len(big))
    res = ex.run(["sh", "-c", "echo done"], input=big, timeout=60)
    assert res.ok and res.stdout == "done\n"


def test_a_probe_that_outlives_its_timeout_is_ended_with_its_group(tmp_path: Path) -> None:
    ex = Executor(tmp_path, host_commands=True)
    pidfile = tmp_path / "child.pid"
    res = ex.run(["sh", "-c", f"sleep 30 & echo $! > {pidfile}; wait"], quiet=True,
                 timeout=0.5)
    child = int(_wait_file(pidfile))
    try:
        assert res.returncode == 124 and "timed out" in res.stderr
        assert _gone(child), "the probe's background child was left running"
    finally:
        _kill(child)


def test_missing_and_unexecutable_programs_are_reported_like_a_shell(tmp_path: Path) -> None:
    ex = Executor(tmp_path, host_commands=True)
    assert ex.run(["no-such-program-here"]).returncode == 127
    script = tmp_path / "not-exec"
    script.write_text("echo hi\n")
    script.chmod(0o644)
    assert ex.run([str(script)]).returncode == 126
