"""Tests of the e2e lab itself: isolation, offline apt, networking, teardown, wheels, systemd."""

from __future__ import annotations

import http.client
import os
import random
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Set

import lab
import pytest

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent


def _host_listening_ports() -> Set[int]:
    """TCP ports listening in the HOST network namespace (ss runs in ours)."""
    r = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, timeout=20, check=True)
    ports = set()
    for line in r.stdout.splitlines():
        cols = line.split()
        if len(cols) >= 4:
            ports.add(int(cols[3].rsplit(":", 1)[1]))
    return ports


def _host_pgrep(name: str) -> str:
    """Processes named ``name`` anywhere on the host (pgrep also sees child pid namespaces)."""
    r = subprocess.run(["pgrep", "-a", "-x", name], capture_output=True, text=True, timeout=20)
    return r.stdout.strip()


def test_suite_is_a_parameter_and_bookworm_stays_the_default() -> None:
    """Adding suites left bookworm's cache key and wheel tags as they were."""
    assert lab.image_key() == lab.image_key("bookworm") != lab.image_key("trixie")
    assert lab._target_tag_args() == lab._target_tag_args("3.11", 36)
    assert lab._wheels_suffix("3.11", 36) == ""
    tri = lab._target_tag_args("3.13", 41)
    assert tri[tri.index("--python-version") + 1] == "3.13" and "cp313" in tri
    assert any(a.startswith("manylinux_2_41_") for a in tri)
    assert not any(a.startswith("manylinux_2_42_") for a in tri)
    with pytest.raises(lab.LabError):
        lab.image_key("sid")


def test_image_cache_layout(lab_image: lab.Image) -> None:
    assert not str(lab_image.dir).startswith(str(lab.REPO_DIR)), "cache must be outside the tree"
    assert lab_image.dir.parent == lab.CACHE_ROOT and lab_image.key == lab.image_key()
    assert lab_image.base_tar.stat().st_size > 10_000_000
    g = lab_image.golden
    for f in ("usr/bin/python3", "usr/bin/ps", "usr/sbin/ip", "usr/sbin/sshd",
              "usr/lib/python3.11/venv/__init__.py"):
        assert (g / f).exists(), f
    assert "exit 101" in (g / "usr/sbin/policy-rc.d").read_text()
    assert os.access(g / "usr/sbin/policy-rc.d", os.X_OK)
    assert (g / "etc/resolv.conf").read_text().split() == ["nameserver", "127.0.0.1"]
    assert "localhost" in (g / "etc/hosts").read_text()
    assert [p.name for p in (g / "var/lib/apt/lists").iterdir() if p.name != "partial"] == []
    # the tool under test installs the mail stack: it must NOT be in the image
    for pkg in ("postfix", "dovecot-core", "sasl2-bin", "postgrey", "systemd"):
        assert not (g / f"var/lib/dpkg/info/{pkg}.list").exists(), f"{pkg} preinstalled"
    # ...but it must be in the offline repo, with dependencies
    index = (lab_image.debs / "Packages").read_text()
    names = set(re.findall(r"^Package: (\S+)$", index, re.M))
    missing = set(lab.MAIL_PKGS + lab.SYSTEMD_PKGS) - names
    assert not missing, f"offline repo lacks {missing}"
    assert {"libsasl2-2", "libsasl2-modules-db", "perl", "ssl-cert"} <= names, "deps missing"
    for fn in re.findall(r"^Filename: (\S+)$", index, re.M):
        assert (lab_image.debs / fn).is_file(), fn


def test_fresh_server_identity_and_isolation(fresh_server: lab.Server) -> None:
    s = fresh_server
    assert re.fullmatch(r"mw\d+-\d+", s.netns) and len(s.veth) <= 15
    assert s.ip == f"{lab.NET_PREFIX}.{s.n}.2" and s.host_ip.endswith(".1")
    assert s.run("cat /proc/sys/kernel/hostname; uname -n").stdout.split() == [
        "mail.example.test", "mail.example.test"]
    assert socket.gethostname() != "mail.example.test", "UTS namespace leaked to the host"
    hosts = s.run("cat /etc/hosts").stdout
    assert re.search(rf"^{re.escape(s.ip)}\s+mail\.example\.test\s+mail$", hosts, re.M), hosts
    # own addresses, no default route (offline), loopback up
    addr = s.run("ip -4 -o addr show").stdout
    assert f"{s.ip}/24" in addr and "127.0.0.1/8" in addr
    assert s.host_ip not in addr
    assert "default" not in s.run("ip route").stdout
    host_addr = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", s.veth],
                               capture_output=True, text=True, timeout=20, check=True).stdout
    assert f"{s.host_ip}/24" in host_addr and f"{s.host_ip2}/24" in host_addr
    assert s.ip not in host_addr
    # own pid namespace: only the server's own few processes are visible
    comms = s.run(["ps", "-e", "-o", "pid=,comm="]).stdout.split("\n")
    procs = [line.split(None, 1) for line in comms if line.strip()]
    assert procs[0] == ["1", "bash"], procs
    assert {c for _, c in procs} <= {"bash", "sleep", "ps"}, procs
    # own root: the golden tree is not written through, nothing mail-related installed
    s.run("echo scratch > /root/scratch.txt")
    assert s.path("/root/scratch.txt").read_text() == "scratch\n"
    assert not (s.image.golden / "root/scratch.txt").exists()
    # host kernel knobs and devices are out of reach; /dev/console is a log file, /dev/log
    # the lab's syslog sink (a socket)
    assert s.run("test ! -w /proc/sys/fs/protected_regular && test -w /proc/sys/net/ipv4/"
                 "ip_forward && echo ok").stdout.strip() == "ok"
    assert sorted(s.run("ls /dev").stdout.split()) == sorted(
        "console fd full log null ptmx pts random shm stderr stdin stdout tty urandom zero"
        .split())
    assert s.run("test -S /dev/log && echo socket").stdout.strip() == "socket"
    s.run("echo hello-console > /dev/console")
    assert "hello-console" in (s.dir / "console.log").read_text()
    bnd = re.search(r"^Capability bounding set: (.*)$", s.run("setpriv -d").stdout, re.M)
    caps = set(bnd.group(1).split(",")) if bnd else set()
    assert "net_admin" in caps and not caps & {"sys_module", "sys_time", "sys_rawio"}, caps
    r = s.run("dpkg-query -W postfix", check=False)
    assert r.returncode != 0
    assert not s.path("/etc/postfix").exists()
    assert s.run("ss -ltnH").stdout.strip() == ""        # nothing listens on a fresh server


def test_run_does_not_hang_on_background_daemon(fresh_server: lab.Server) -> None:
    t0 = time.monotonic()
    r = fresh_server.run("sleep 300 & echo started")      # the daemon keeps our stdout fd
    assert r.stdout.strip() == "started"
    assert time.monotonic() - t0 < 10
    with pytest.raises(subprocess.TimeoutExpired):
        fresh_server.run("sleep 30", timeout=1)
    r = fresh_server.run(["cat"], input="via stdin\n")
    assert r.stdout == "via stdin\n"
    with pytest.raises(subprocess.CalledProcessError) as ei:
        fresh_server.run("echo out; echo err >&2; exit 3")
    assert ei.value.returncode == 3 and "err" in str(ei.value)


def test_offline_apt_install(fresh_server: lab.Server) -> None:
    s = fresh_server
    ports_before = _host_listening_ports()
    assert s.run("cat /etc/apt/sources.list").stdout.strip() == (
        "deb [trusted=yes] file:/srv/debs ./")
    assert s.run("touch /srv/debs/x", check=False).returncode != 0, "/srv/debs must be ro"
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    s.run("apt-get update -q", env=env, timeout=120)
    # the full set the tool installs resolves from the offline repo
    s.run(["apt-get", "install", "-s", "-y", *lab.MAIL_PKGS], env=env, timeout=120)
    # ...and one real install: postgrey's postinst would start a daemon if policy-rc.d let it
    r = s.run("apt-get install -y -q postgrey", env=env, timeout=300)
    assert "policy-rc.d denied execution of start" in r.stdout + r.stderr
    assert s.run("test -x /usr/sbin/postgrey && dpkg-query -W -f='${Status}' postgrey"
                 ).stdout == "install ok installed"
    assert not (s.image.golden / "usr/sbin/postgrey").exists()
    assert _host_pgrep("postgrey") == "", "postgrey was started"
    assert s.run("ss -ltnH").stdout.strip() == ""
    assert _host_listening_ports() <= ports_before, "something started listening on the host"


def test_daemon_reachable_only_via_server_address(fresh_server: lab.Server) -> None:
    s = fresh_server
    host_ports = _host_listening_ports()
    port = random.choice([p for p in range(20000, 30000) if p not in host_ports])
    token = uuid.uuid4().hex
    s.run(f"mkdir -p /srv/www && echo {token} > /srv/www/t.txt")
    s.run(f"cd /srv/www && python3 -m http.server {port} --bind {s.ip} "
          "</dev/null >/dev/null 2>&1 &", timeout=10)
    deadline = time.monotonic() + 15
    while True:
        try:
            conn = http.client.HTTPConnection(s.ip, port, timeout=5)   # no proxy involved
            conn.request("GET", "/t.txt")
            resp = conn.getresponse()
            body = resp.read().decode()
            conn.close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert resp.status == 200 and body.strip() == token
    assert f"{s.ip}:{port}" in s.run("ss -ltnH").stdout
    assert port not in _host_listening_ports(), "server daemon listens in the host netns"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=3).close()


def test_two_servers_are_isolated(server_factory) -> None:
    a, b = server_factory(), server_factory()
    assert a.n != b.n and a.netns != b.netns and a.ip != b.ip
    a.run("echo only-a > /etc/marker")
    assert not b.path("/etc/marker").exists()
    assert b.run("ip -4 -o addr show").stdout.count(a.ip) == 0


def test_halt_leaves_nothing(server_factory) -> None:
    assert lab.leftovers() == []
    s = server_factory()
    pid, netns, veth = s.pid, s.netns, s.veth
    left = lab.leftovers()
    assert f"netns {netns}" in left and any(x.startswith(f"veth {veth} ") for x in left)
    assert any(x.startswith(f"process {pid} ") for x in left), left
    assert s._syslog is not None       # the syslog sink: a host process with the marker
    sink = s._syslog.pid
    assert any(x.startswith(f"process {sink} ") for x in left), left
    s.halt()
    s.halt()                                  # idempotent
    assert not Path(f"/proc/{pid}").exists() and not Path(f"/proc/{sink}").exists()
    assert s.proc is not None and s.proc.returncode is not None
    assert lab.leftovers() == []
    assert netns not in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                       text=True, timeout=20).stdout
    assert not s.dir.exists()


_CHILD = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
import lab
# attributed to the (live) test process: other sessions running in parallel never treat
# what the killed child leaves as garbage of a dead owner
srv = lab.Server(lab.ensure_image(), owner=int(sys.argv[2])).boot()
print(srv.pid, srv.netns, flush=True)
time.sleep(120)
"""


def test_killed_owner_takes_server_down(lab_image: lab.Image) -> None:
    """SIGKILL the process that made a server: the server dies with it (pdeathsig), and
    leftovers()/cleanup() find and remove the netns and veth it could not delete."""
    assert lab.leftovers() == []
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, "-c", _CHILD, str(HERE), str(os.getpid())],
                                 stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                 text=True)
        try:
            sel = selectors.DefaultSelector()
            sel.register(child.stdout, selectors.EVENT_READ)
            assert sel.select(timeout=60), "child did not boot a server"
            line = child.stdout.readline()
            err.seek(0)
            assert line, err.read().decode()
            pid_s, netns = line.split()
            srv_pid = int(pid_s)
            assert Path(f"/proc/{srv_pid}").exists()
        finally:
            child.kill()
            child.wait(timeout=30)
            child.stdout.close()
    deadline = time.monotonic() + 15
    while Path(f"/proc/{srv_pid}").exists() and lab._state(srv_pid) != "Z":
        assert time.monotonic() < deadline, "server survived its owner"
        time.sleep(0.05)
    left = lab.leftovers()
    assert f"netns {netns}" in left and any(x.startswith(f"veth {netns} ") for x in left), left
    assert not any(x.startswith("process ") for x in left), left
    assert lab.cleanup() == left
    assert lab.leftovers() == []
    # what a crashed run leaves is selected by the owner being dead
    dead = 4194304 + 1                        # above any pid_max: never a live process
    assert lab._owner_selected(dead, "dead") and lab._owner_selected(dead, "mine")
    assert not lab._owner_selected(os.getpid(), "dead")
    assert lab._owner_selected(os.getpid(), "mine") and not lab._owner_selected(1, "mine")


def test_wheelhouse_installs_mailwizard(fresh_server: lab.Server) -> None:
    s = fresh_server
    s.install_wheels()
    r = s.run("/opt/mw/bin/python -c 'import wizard; print(wizard.__file__)'")
    assert r.stdout.strip() == "/opt/mw/lib/python3.11/site-packages/wizard/__init__.py"
    assert s.run("readlink /usr/local/bin/mailwizard").stdout.strip() == "/opt/mw/bin/mailwizard"
    version = re.search(r'^version\s*=\s*"([^"]+)"',
                        (lab.REPO_DIR / "pyproject.toml").read_text(), re.M).group(1)
    show = s.run("/opt/mw/bin/pip show mailwizard").stdout
    assert f"Version: {version}" in show
    # what got installed is the wheel of this checkout from /srv/wheels
    whl = next((s.image.wheels() / "wheels").glob("mailwizard-*.whl"))
    with zipfile.ZipFile(whl) as z:
        in_wheel = {n for n in z.namelist() if n.startswith("wizard/")}
    for name in in_wheel:
        assert s.path(f"/opt/mw/lib/python3.11/site-packages/{name}").is_file(), name
    assert s.run("test -w /srv/wheels && echo rw || echo ro").stdout.strip() == "ro"


def _host_sysctls() -> dict:
    return {p.name: p.read_text() for p in Path("/proc/sys/fs").glob("protected_*")}


def test_systemd_variant(server_factory) -> None:
    host_sysctls = _host_sysctls()
    s = server_factory(systemd=True)
    assert s.system_state in ("running", "degraded")
    assert s.run("cat /proc/1/comm").stdout.strip() == "systemd"
    assert s.run("systemctl --version").stdout.startswith("systemd 2")
    assert s.run("systemctl is-system-running", check=False).stdout.strip() in (
        "running", "degraded")
    assert s.run("cat /proc/sys/kernel/hostname").stdout.strip() == "mail.example.test"
    assert not s.path("/usr/sbin/policy-rc.d").exists()
    # offline apt works here too, and a unit can be started by systemd
    s.run("apt-get update -q", env={"DEBIAN_FRONTEND": "noninteractive"}, timeout=120)
    s.run("systemd-run --unit mwlab-probe --quiet sleep 300")
    assert s.run("systemctl is-active mwlab-probe").stdout.strip() == "active"
    # systemd must not have mounted the host's devtmpfs or touched host kernel settings
    assert s.run("findmnt -n -o FSTYPE /dev").stdout.strip() == "tmpfs"
    assert s.run("test -e /dev/kmsg || test -e /dev/vda || echo clean").stdout.strip() == "clean"
    assert _host_sysctls() == host_sysctls
    cg = s.cgroup
    assert cg is not None and cg.is_dir()
    s.halt()
    assert not cg.exists(), "systemd cgroups left behind"
    assert lab.leftovers() == []


_INNER_TESTS = r'''
import os, subprocess, time
import pytest
import lab

TOKEN = "@@TOKEN@@"


@pytest.fixture(scope="module")
def module_server(lab_image):
    srv = lab.track_module_server(lab.Server(lab_image))
    srv.boot()
    yield srv
    srv.halt()


def test_fails_with_logs(fresh_server):
    fresh_server.run(f"echo dovecot-{TOKEN} > /var/log/dovecot.log")
    # what a daemon sends to /dev/log (the server has no syslog daemon): the lab's sink
    fresh_server.run(f"python3 -c 'import syslog; syslog.syslog(\"syslog-{TOKEN}\")'")
    sink = fresh_server.dir / "syslog.log"
    deadline = time.monotonic() + 10
    while f"syslog-{TOKEN}" not in (sink.read_text() if sink.exists() else ""):
        assert time.monotonic() < deadline, "the lab's syslog sink wrote nothing"
        time.sleep(0.05)
    assert False, "deliberate"


def test_module_server_fails(module_server):
    module_server.run(f"echo mail-{TOKEN} > /var/log/mail.log")
    assert False, "deliberate"


def test_leaks_a_netns(lab_image):
    subprocess.run(["ip", "netns", "add", f"mw{os.getpid()}-250"], check=True, timeout=20)
'''


def test_report_hook_and_session_leftover_check(lab_image: lab.Image, tmp_path: Path) -> None:
    """Run an inner pytest session with this conftest: failing tests get the servers' logs in
    their report; a leaked lab netns fails the session and is removed."""
    for name in ("conftest.py", "lab.py"):
        (tmp_path / name).write_text((HERE / name).read_text())
    token = uuid.uuid4().hex
    (tmp_path / "test_inner.py").write_text(_INNER_TESTS.replace("@@TOKEN@@", token))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-o", "addopts=", "--rootdir", str(tmp_path), str(tmp_path)],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "2 failed, 1 passed" in out, out
    assert f"dovecot-{token}" in out and "/var/log/dovecot.log" in out, out
    assert f"mail-{token}" in out and "/var/log/mail.log" in out, out
    assert f"syslog-{token}" in out and "/dev/log (received by the lab)" in out, out
    assert "e2e leftovers" in out and re.search(r"netns mw\d+-250", out), out
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                           timeout=20).stdout
    assert not re.search(r"^mw\d+-250\b", netns, re.M), netns
    assert lab.leftovers() == []
