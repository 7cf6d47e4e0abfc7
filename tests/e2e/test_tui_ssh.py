"""The Textual wizard over a real SSH session, driven through a real terminal (tmux).

Scenario: an admin logs in to a fresh Debian 12 server with an ed25519 key and runs
``mailwizard --answers answers.yaml`` (no verb: the TUI) in an 80x24 terminal. A session
of an earlier ``mailwizard apply --step preflight`` exists. The test reads the screen
through ``tmux capture-pane`` and types like a user: the welcome screen, the answers form,
the step list, one step's Changes tab with the main.cf diff, then Ctrl+C. The remote
process must exit cleanly (exit 0 through ssh, session lock released) and leave the
session file intact.

Only clients run on the host (ssh in a private tmux server); sshd runs inside the server.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import lab
import mwlab
import pytest
import yaml

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not (shutil.which("tmux") and shutil.which("ssh")
                            and shutil.which("ssh-keygen")),
                       reason="needs tmux, ssh and ssh-keygen on the host"),
]

SESSION = "/var/lib/mailwizard/session.yaml"
LOCK = "/var/lib/mailwizard/lock"


class Tmux:
    """A private tmux server (own socket name): never touches the user's tmux."""

    def __init__(self) -> None:
        self.socket = f"mw-e2e-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True,
                              capture_output=True, text=True, timeout=20).stdout

    def capture(self) -> str:
        return self.run("capture-pane", "-p", "-t", "mw")

    def wait_for(self, *texts: str, timeout: float = 30.0) -> str:
        """Poll the screen until every one of ``texts`` is on it."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if all(t in screen for t in texts):
                return screen
            time.sleep(0.1)
        missing = [t for t in texts if t not in screen]
        raise AssertionError(f"{missing!r} not on screen within {timeout}s; screen:\n{screen}")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "mw", *keys)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=20)


@dataclass
class SshServer:
    srv: lab.Server
    key: Path
    session_before: dict


@pytest.fixture(scope="module")
def ssh_srv(lab_image: lab.Image, tmp_path_factory: pytest.TempPathFactory):
    srv = lab.track_module_server(lab.Server(lab_image))
    try:
        srv.boot()
        srv.attach_debs()
        # the image has openssh-server (with host keys); install it only if it did not
        if srv.run("test -x /usr/sbin/sshd", check=False).returncode != 0:
            srv.run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                     "openssh-server"], env={"DEBIAN_FRONTEND": "noninteractive"},
                    timeout=600)
        keydir = tmp_path_factory.mktemp("sshkey")
        key = keydir / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mw-e2e",
                        "-f", str(key)], check=True, capture_output=True, timeout=30)
        srv.run("set -e; install -d -m 700 /root/.ssh; cat > /root/.ssh/authorized_keys; "
                "chmod 600 /root/.ssh/authorized_keys; mkdir -p /run/sshd",
                input=(keydir / "id_ed25519.pub").read_text())
        srv.run("/usr/sbin/sshd -o PermitRootLogin=prohibit-password "
                "-o PasswordAuthentication=no </dev/null >/dev/null 2>&1")
        srv.install_wheels()
        srv.path("/root/answers.yaml").write_text(mwlab.answers_for(srv.ip))
        # an earlier headless run left a session (a no-op step, recorded as verified)
        srv.run("mailwizard apply --answers /root/answers.yaml --step preflight --yes",
                timeout=300)
        before = yaml.safe_load(srv.path(SESSION).read_text())
        yield SshServer(srv, key, before)
    finally:
        srv.halt()


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    t = Tmux()
    try:
        yield t
    finally:
        t.kill()


def ssh_argv(s: SshServer, remote: str) -> list:
    return ["ssh", "-F", "/dev/null", "-i", str(s.key), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", f"root@{s.srv.ip}", remote]


def flat(screen: str) -> str:
    """The screen as one line: no scroll bar glyphs, runs of blanks (line wraps) as one."""
    return " ".join(screen.translate({ord(c): " " for c in "▁▂▃▄▅▆▇█▔▏▕"}).split())


def lock_held(srv: lab.Server) -> bool:
    return srv.run(["flock", "-n", LOCK, "true"], check=False, timeout=30).returncode != 0


def wizard_processes(srv: lab.Server) -> str:
    r = srv.run("pgrep -af '[m]ailwizard --answers' || true", timeout=30)
    return r.stdout.strip()


def test_key_login_works_and_password_login_does_not(ssh_srv: SshServer):
    r = subprocess.run(ssh_argv(ssh_srv, "cat /etc/hostname"), capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and r.stdout.strip() == mwlab.HOSTNAME, r.stderr
    r = subprocess.run(["ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
                        "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                        "-o", "PubkeyAuthentication=no", "-o", "ConnectTimeout=10",
                        f"root@{ssh_srv.srv.ip}", "true"], capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 255 and "Permission denied" in r.stderr, r.stderr


def test_tui_over_ssh_welcome_answers_steps_diff_and_ctrl_c(ssh_srv: SshServer, tmux: Tmux):
    srv = ssh_srv.srv
    remote = "TERM=xterm-256color mailwizard --answers /root/answers.yaml"
    cmd = " ".join(shlex.quote(a) for a in ssh_argv(ssh_srv, remote))
    t0 = time.monotonic()
    tmux.run("new-session", "-d", "-s", "mw", "-x", "80", "-y", "24",
             f"{cmd.replace(' root@', ' -tt root@')}; echo EXITED=$?; sleep 120")

    # welcome: the platform detected on the server, the steps, and the earlier session
    screen = tmux.wait_for("Resume (s)", "? Help", timeout=60)
    started = time.monotonic() - t0
    assert "Target:   Debian 12 (debian12) - detected on this machine" in screen, screen
    assert "1. You answer a few questions" in screen, screen
    assert "2. Each step explains what it does" in screen, screen
    assert "A previous session was found" in screen, screen
    assert lock_held(srv), "the running wizard holds the session lock"

    # answers form, filled from the file
    tmux.keys("s")
    screen = tmux.wait_for("^n Next", "Host name")
    line = next(x for x in screen.splitlines() if "Host name" in x)
    assert "mail.example.test" in line, screen

    # the step list (planned on the server)
    tmux.keys("C-n")
    screen = tmux.wait_for("steps for Debian 12", "Postfix", "Open step", "applied, checked",
                           timeout=60)
    assert "Open step" in screen, screen
    assert "applied, checked" in screen, screen          # preflight, from the session

    # the list stands on the first step still to do (step 2: preflight is verified);
    # open step 3 (Postfix basics) and its Changes tab
    tmux.wait_for(" - step 2")
    tmux.keys("Down")
    tmux.wait_for(" - step 3")    # the progress bar follows the highlight
    tmux.keys("Enter")
    screen = tmux.wait_for("Step 3 of", "2 Changes")
    tmux.keys("2")
    # a diff line of main.cf (against Debian's stock file: no package is installed yet)
    # (over ssh a screen arrives in chunks: wait for the footer too before asserting)
    screen = tmux.wait_for("+++ /etc/postfix/main.cf", "+smtpd_banner = $myhostname ESMTP",
                           "esc Steps")
    assert "'myhostname = mail.example.test'" in flat(screen), screen   # the by-hand command

    # back to the list with Esc, then quit with Ctrl+C
    tmux.keys("Escape")
    tmux.wait_for("Open step")
    tmux.keys("C-c")
    screen = tmux.wait_for("EXITED=", timeout=30)
    assert "EXITED=0" in screen, screen
    deadline = time.monotonic() + 20
    while (wizard_processes(srv) or lock_held(srv)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert wizard_processes(srv) == "", wizard_processes(srv)
    assert not lock_held(srv)

    after = yaml.safe_load(srv.path(SESSION).read_text())
    assert isinstance(after, dict) and after.get("format") == ssh_srv.session_before["format"]
    assert after["steps"]["preflight"] == ssh_srv.session_before["steps"]["preflight"]
    assert after.get("journal", []) == ssh_srv.session_before.get("journal", [])
    # viewing changed nothing on the server
    assert not srv.path("/etc/postfix").exists()
    print(f"welcome screen over ssh after {started:.1f} s")
