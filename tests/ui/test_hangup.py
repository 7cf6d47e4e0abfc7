"""The TUI on a real pseudo-terminal that hangs up (an SSH drop) while a change is applied.

The wizard runs in a subprocess whose controlling terminal is a pty; the test closes the pty's
master side while a slow scripted command runs, as sshd does when the connection drops. The
kernel then sends SIGHUP and every later write to the terminal fails with EIO. The wizard must
finish the change in progress, stop before the next one, save the session and exit 130.
"""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
import termios
import textwrap
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path

    from screens.app import EXIT_INTERRUPTED, make_app
    from screens.hangup import install_signal_handlers
    from screens.context import Machine
    from wizard.changes import Command, FileWrite
    from wizard.executor import FakeCommand, ScriptedExecutor
    from wizard.recipe import Recipe
    from wizard.session import Session

    root, state = Path(sys.argv[1]), Path(sys.argv[2])

    class Slow(Recipe):
        id = "test-slow"
        title = "Something slow"

        def plan(self, ctx):
            return [Command(["slow-command"], description="something slow"),
                    FileWrite("/etc/mailwizard-test/after", "x\\n")]

    def slow(argv, ex):
        (root / "started").write_text("1")
        for i in range(30):  # three seconds of live log: the screen keeps changing
            if ex.on_output:
                ex.on_output(f"progress {i}")
            time.sleep(0.1)
        return FakeCommand()

    async def settle(pilot):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.pause()

    async def drive(pilot):  # welcome -> answers -> step list -> the step -> apply
        for key in ("s", "ctrl+n", "enter", "a"):
            await settle(pilot)
            await pilot.press(key)

    session = Session.open(state)
    app = make_app(answers="demo", platform="debian12",
                   executor=ScriptedExecutor(root, script={"slow-command": slow}),
                   session=session, dry_run=False, recipes=[Slow()], yes=True,
                   machine=Machine(hostname="mail.ci.example", platform_name="Test Linux 1"))
    install_signal_handlers(app)
    app.run(auto_pilot=drive)
    rc = EXIT_INTERRUPTED if app.interrupted else int(app.return_code or 0)
    session.close()
    (root / "rc").write_text(str(rc))
    sys.exit(rc)
""")


def _take_terminal() -> None:  # in the child: the pty becomes its controlling terminal
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_hangup_while_applying_stops_at_the_boundary(target_root: Path, tmp_path: Path) -> None:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, b"\x18\x00\x50\x00\x00\x00\x00\x00")  # 24x80
    env = {**os.environ, "TERM": "xterm-256color", "LANG": "C.UTF-8"}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(target_root),
                             str(tmp_path / "state")], cwd=REPO, env=env, stdin=slave,
                            stdout=slave, stderr=slave, start_new_session=True,
                            preexec_fn=_take_terminal)
    os.close(slave)
    stop = threading.Event()

    def drain() -> None:  # a terminal reads what the app writes
        while not stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    os.read(master, 65536)
                except OSError:
                    return

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not (target_root / "started").exists():
            assert proc.poll() is None, "the wizard ended before the slow change started"
            assert time.monotonic() < deadline, "the slow change never started"
            time.sleep(0.05)
        stop.set()
        reader.join()
        os.close(master)  # the SSH connection drops
        master = -1
        try:
            rc = proc.wait(timeout=60)  # a hang detector, far above the real time
        except subprocess.TimeoutExpired:
            raise AssertionError("the wizard hung after the terminal hung up") from None
    finally:
        stop.set()
        if master >= 0:
            os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 130
    assert (target_root / "rc").read_text() == "130"
    assert not (target_root / "etc/mailwizard-test/after").exists()  # stopped at the boundary
    data = yaml.safe_load((tmp_path / "state/session.yaml").read_text())
    assert "test-slow" in data["steps"]
