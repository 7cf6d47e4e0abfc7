"""The mailwizard end-to-end lab: throw-away, isolated "fresh servers" on this host.

Plain Python (no pytest import) so it can also be used from a REPL or a script::

    import lab
    img = lab.ensure_image()              # cached debootstrap image + offline apt repo
    with lab.Server(img) as srv:          # own netns / mount / pid / uts / ipc namespaces
        srv.attach_debs()                 # /srv/debs (ro) + sources.list -> offline repo
        srv.run("apt-get update -q && apt-get install -y -q postfix")
        print(srv.path("/etc/postfix/master.cf").read_text())

Layout on the host (all outside the work tree):

* ``/var/cache/mailwizard-e2e/<key>/`` -- image cache (``MWLAB_CACHE`` overrides the parent):
  ``base.tar.zst``, ``debs/`` (offline apt repo), ``golden/`` (unpacked base, overlay lower dir),
  ``golden-systemd/`` (built lazily);  ``<key>`` hashes LAB_VERSION, the suite and package lists.
* ``/var/cache/mailwizard-e2e/wheels/<srchash>/`` -- wheelhouse of the current checkout.
* ``/run/mailwizard-e2e/`` -- per-server runtime dirs (empty mount points + logs) and slot locks.

Every mount a server makes lives in its private mount namespace; killing the server's PID 1
takes down all its processes and mounts.  See tests/e2e/README.md.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

log = logging.getLogger("mailwizard.e2e")

# Bump when the way images are built changes: it is part of the cache key.
LAB_VERSION = "mwlab-2024.1"
SUITE = "bookworm"                 # the default suite (Debian 12)
# per suite: the server's CPython (wheel tags) and glibc minor (manylinux_2_N)
SUITES: Dict[str, Tuple[str, int]] = {
    "bookworm": ("3.11", 36),     # Debian 12
    "trixie": ("3.13", 41),       # Debian 13
}
MIRROR = os.environ.get("MWLAB_MIRROR", "http://deb.debian.org/debian")
SECURITY_MIRROR = os.environ.get(
    "MWLAB_SECURITY_MIRROR", re.sub(r"/debian/?$", "/debian-security", MIRROR)
)
# preinstalled in the base image (debootstrap --include resolves their Depends)
BASE_PKGS = ("procps", "iproute2", "python3", "python3-venv")
# image variants: "default" (above) and "minimal": debootstrap minbase plus only what
# mailwizard's README asks of a target (python3 with venv) -- no procps, iproute2,
# openssh-server, systemd or cron.  Its own cache key; the default keys are unchanged.
VARIANTS = ("default", "minimal")
MINIMAL_BASE_PKGS = ("python3", "python3-venv")
# preinstalled too, but through apt with --no-install-recommends (its Recommends pull systemd)
BASE_NORECOMMENDS_PKGS = ("openssh-server",)
# what the tool under test installs: only in the offline repo, NOT in the image
MAIL_PKGS = (
    "postfix", "dovecot-core", "dovecot-imapd", "dovecot-pop3d", "sasl2-bin",
    "libsasl2-modules", "openssl", "ca-certificates", "postgrey",
    # issue 10: inbound SPF checks (policyd-spf) and the daily log summary
    "postfix-policyd-spf-python", "pflogsumm",
    # issue 11: certificates by ACME (certbot) and DKIM signing (OpenDKIM)
    "certbot", "opendkim", "opendkim-tools",
)
SYSTEMD_PKGS = ("systemd", "systemd-sysv", "dbus")
# in the offline repo for the validators of tests (never installed by the tool): lmdb maps
# (EL10's default_database_type) for postmap/postconf in test_real_config.py
VALIDATOR_PKGS = ("postfix-lmdb",)
# masked in the systemd variant (they would fight over a console we do not have)
SYSTEMD_MASK = ("console-getty.service", "getty@tty1.service",
                "systemd-networkd-wait-online.service",
                # these act on the host kernel, not on the server
                "systemd-binfmt.service", "proc-sys-fs-binfmt_misc.automount",
                "proc-sys-fs-binfmt_misc.mount", "systemd-modules-load.service",
                "systemd-sysctl.service", "sys-kernel-debug.mount", "sys-kernel-tracing.mount",
                "sys-kernel-config.mount", "sys-fs-fuse-connections.mount",
                "dev-hugepages.mount", "systemd-timesyncd.service")

CACHE_ROOT = Path(os.environ.get("MWLAB_CACHE", "/var/cache/mailwizard-e2e"))
RUN_ROOT = Path(os.environ.get("MWLAB_RUN", "/run/mailwizard-e2e"))
MARKER = "MAILWIZARD_E2E"          # env var (value "<owner pid>:<slot>") on every server process
HOSTNAME = "mail.example.test"
NET_PREFIX = "10.201"              # server N gets 10.201.N.0/24: host .1 and .3, server .2
MAX_SLOT = 254
IFNAME_IN_NS = "eth0"
REQUIRED_TOOLS = ("ip", "unshare", "debootstrap", "nsenter", "setpriv")
BUILD_TOOLS = ("tar", "zstd", "dpkg-scanpackages", "chroot", "mount", "bash")
# capabilities no server process gets (they act on the whole host kernel)
_DROP_CAPS = "-sys_module,-sys_time,-sys_rawio"
SERVER_LOGS = ("/var/log/postfix.log", "/var/log/mail.log", "/var/log/dovecot.log",
               "/var/log/letsencrypt/letsencrypt.log")
_SYSLOG_SINK = """
import socket, sys
sock = socket.socket(fileno=int(sys.argv[1]))
with open(sys.argv[2], "ab", buffering=0) as log:
    while True:
        data = sock.recv(65536)
        log.write(data.rstrip(b"\\0\\n") + b"\\n")
"""
"""The lab's syslog sink (run by the host's Python): each datagram, one line."""
SERVER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# the checkout under test: tests/e2e/lab.py -> parents[2]
REPO_DIR = Path(__file__).resolve().parents[2]

_NAME_RE = re.compile(r"^mw(\d+)-(\d+)$")            # netns and host veth: mw<owner>-<slot>
_CGROUP_RE = re.compile(r"^mwlab-(\d+)-(\d+)$")       # systemd variant cgroup
_SRVDIR_RE = re.compile(r"^srv-(\d+)-(\d+)$")         # runtime dir under RUN_ROOT

#: wall-clock timings of lab operations, name -> list of seconds (for reporting)
TIMINGS: Dict[str, List[float]] = {}


class LabError(RuntimeError):
    """Something in the lab machinery failed."""


class LabUnavailable(LabError):
    """The lab cannot run on this host (not root, tools missing...): callers should skip."""


class ServerCommandError(subprocess.CalledProcessError):
    """A command run on a lab server exited non-zero; str() includes its output."""

    def __str__(self) -> str:
        def tail(s: Optional[str]) -> str:
            s = (s or "").rstrip()
            return s[-3000:] if len(s) > 3000 else s

        return (f"command on lab server exited {self.returncode}: {self.cmd!r}\n"
                f"--- stdout ---\n{tail(self.stdout)}\n--- stderr ---\n{tail(self.stderr)}")


def _record(name: str, seconds: float) -> None:
    TIMINGS.setdefault(name, []).append(seconds)
    log.info("TIME %s: %.2fs", name, seconds)


# ----------------------------------------------------------------------------- helpers ---

def missing_requirements() -> Optional[str]:
    """Why the lab cannot run here, or None if it can."""
    if sys.platform != "linux":
        return "e2e lab needs Linux namespaces"
    if os.geteuid() != 0:
        return "e2e lab needs root (network namespaces, mounts)"
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if missing:
        return (f"e2e lab needs {', '.join(missing)} on the host "
                "(run tests/e2e/host-deps.sh)")
    return None


def _sh(argv: Sequence[Union[str, Path]], *, timeout: float = 60, check: bool = True,
        logfile: Optional[Path] = None, env: Optional[Dict[str, str]] = None,
        cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    """Run a host command with bounded time; output goes to logfile (appended) or is captured
    through temp files (never pipes: a daemon keeping them open must not hang us)."""
    args = [str(a) for a in argv]
    if logfile is not None:
        with open(logfile, "ab") as lf:
            lf.write(f"\n$ {' '.join(args)}\n".encode())
            lf.flush()
            p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=lf,
                                 stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                 start_new_session=True)
            rc = _wait_or_kill(p, timeout, args)
        out = err = ""
        if check and rc != 0:
            raise LabError(f"{' '.join(args)} exited {rc}; last log lines of {logfile}:\n"
                           + _tail_text(logfile, 60))
    else:
        with tempfile.TemporaryFile() as o, tempfile.TemporaryFile() as e:
            p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                                 env=env, cwd=cwd, start_new_session=True)
            rc = _wait_or_kill(p, timeout, args)
            o.seek(0)
            e.seek(0)
            out = o.read().decode(errors="replace")
            err = e.read().decode(errors="replace")
        if check and rc != 0:
            raise LabError(f"{' '.join(args)} exited {rc}:\n{out[-2000:]}{err[-2000:]}")
    return subprocess.CompletedProcess(args, rc, out, err)


def _wait_or_kill(p: subprocess.Popen, timeout: float, args: Sequence[str]) -> int:
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _killpg(p.pid)
        p.wait(timeout=30)
        raise LabError(f"timed out after {timeout}s: {' '.join(args)}") from None


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_command_group(p: subprocess.Popen) -> None:
    """Kill a timed-out nsenter command: first everything in its process group except nsenter
    itself, so nsenter reaps its child inside the server (a child orphaned by a killed nsenter
    becomes a zombie of the HOST's init, which reaps lazily and delays halt() by ~2 s)."""
    members = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != p.pid:
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[2]) == p.pid:      # field 5: pgrp
                members.append(int(entry.name))
    for pid in members:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        _killpg(p.pid)
        p.wait(timeout=30)


def _tail_text(path: Path, lines: int = 200, max_chars: int = 20000) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    text = data[-max_chars * 2:].decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])[-max_chars:]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _FileLock:
    """Exclusive fcntl lock on a file, with a bounded wait."""

    def __init__(self, path: Path, timeout: float = 3600):
        self.path, self.timeout = Path(path), timeout
        self.fd: Optional[int] = None

    def __enter__(self) -> _FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(self.fd)
                    self.fd = None
                    raise LabError(f"could not lock {self.path} within {self.timeout}s") from None
                time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)      # closing releases the flock
            self.fd = None


def _mountpoints() -> List[str]:
    """Mount points in this (the host's) mount namespace."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            out.append(mp)
    return out


def _mounts_under(*dirs: Path) -> List[str]:
    prefixes = [str(Path(d)).rstrip("/") + "/" for d in dirs]
    return [mp for mp in _mountpoints()
            if any(mp.startswith(p) or mp + "/" == p for p in prefixes)]


def _safe_rmtree(path: Path) -> None:
    """rm -rf, but never through a mount point (pitfall 9: that would eat the golden tree)."""
    if not path.exists():
        return
    mounted = _mounts_under(path)
    if mounted:
        raise LabError(f"refusing to delete {path}: mounts below it: {mounted}")
    shutil.rmtree(path)


def _isolated_argv(script: str, *args: str) -> List[str]:
    """bash script in a private mount + pid namespace (host network) that dies with us."""
    return ["setpriv", "--pdeathsig", "KILL",
            "unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private",
            "bash", "-euo", "pipefail", "-c", script, "lab-build", *args]


def _host_env() -> Dict[str, str]:
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8", "HOME": "/root"}


def _cgroup2_root() -> Optional[Path]:
    """Where to create the systemd variant's cgroup: the unified hierarchy."""
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            mounts[pre.split()[4]] = post.split()[0]
    for cand in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if mounts.get(cand) == "cgroup2":
            return Path(cand)
    return None


def systemd_unavailable() -> Optional[str]:
    """Why the systemd variant cannot run here, or None."""
    return None if _cgroup2_root() else "no cgroup2 hierarchy on the host"


# ----------------------------------------------------------------------------- image -----

def _check_suite(suite: str) -> str:
    if suite not in SUITES:
        raise LabError(f"unknown suite {suite!r} (known: {', '.join(sorted(SUITES))})")
    return suite


def _check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise LabError(f"unknown image variant {variant!r} (known: {', '.join(VARIANTS)})")
    return variant


def _base_pkgs(variant: str) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """(debootstrap --include packages, apt --no-install-recommends packages) of a variant."""
    if _check_variant(variant) == "minimal":
        return MINIMAL_BASE_PKGS, ()
    return BASE_PKGS, BASE_NORECOMMENDS_PKGS


def image_key(suite: str = SUITE, variant: str = "default") -> str:
    """Cache key of the image of ``suite`` (the bookworm key is the same as before suites
    were a parameter: the suite was always part of the blob; likewise the default variant's
    key is the same as before variants existed)."""
    data: Dict[str, Any] = {
        "version": LAB_VERSION, "suite": _check_suite(suite), "mirror": MIRROR,
        "security": SECURITY_MIRROR,
        "base": BASE_PKGS, "base_norec": BASE_NORECOMMENDS_PKGS, "mail": MAIL_PKGS,
        "systemd": SYSTEMD_PKGS, "mask": SYSTEMD_MASK, "validators": VALIDATOR_PKGS,
    }
    if _check_variant(variant) != "default":
        data["variant"] = variant
        data["base"], data["base_norec"] = _base_pkgs(variant)
    blob = json.dumps(data, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _build_base_script(suite: str = SUITE, variant: str = "default") -> str:
    mail = " ".join(MAIL_PKGS)
    sd = " ".join(SYSTEMD_PKGS)
    extra = " ".join(VALIDATOR_PKGS)
    base, norec_pkgs = _base_pkgs(variant)
    norec = " ".join(norec_pkgs)
    if variant == "minimal":     # only what the tool installs (no systemd layer, no validators)
        install = f"""  apt-get update -q
  apt-get install -y -q --download-only {mail}"""
    else:
        install = f"""  apt-get update -q
  apt-get install -y -q --no-install-recommends {norec}
  apt-get clean
  # resolution against the base image, exactly like the tool will do (with Recommends);
  # three passes so every combination (plain, systemd, systemd + mail) is covered
  apt-get install -y -q --download-only {mail}
  apt-get install -y -q --download-only {sd}
  apt-get install -y -q --download-only {mail} {sd}
  apt-get install -y -q --download-only {mail} {extra}"""
    return f"""
T=$1; R=$T/rootfs
debootstrap --variant=minbase --include={",".join(base)} {suite} "$R" {MIRROR}
printf '#!/bin/sh\\n# mailwizard e2e lab: maintainer scripts never start daemons\\nexit 101\\n' \
  > "$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
printf '127.0.0.1\\tlocalhost\\n::1\\tlocalhost ip6-localhost ip6-loopback\\n' > "$R/etc/hosts"
echo {HOSTNAME} > "$R/etc/hostname"
rm -f "$R/etc/apt/sources.list.d/debian.sources"    # deb822 (newer debootstrap)
cat > "$R/etc/apt/sources.list" <<EOS
deb {MIRROR} {suite} main
deb {MIRROR} {suite}-updates main
deb {SECURITY_MIRROR} {suite}-security main
EOS
mountpoint -q "$R/proc" || mount -t proc proc "$R/proc"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$R/dev/pts"
chroot "$R" /usr/bin/env -i PATH={SERVER_PATH} HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive bash -euc '
{install}
'
mkdir -m 755 "$T/debs"
mv "$R"/var/cache/apt/archives/*.deb "$T/debs/"
(cd "$T/debs" && dpkg-scanpackages --multiversion . /dev/null > Packages)
umount "$R/dev/pts"
umount "$R/proc"
rm -rf "$R"/var/lib/apt/lists/*
mkdir -p "$R/var/lib/apt/lists/partial"
rm -f "$R"/var/cache/apt/*.bin
echo 'nameserver 127.0.0.1' > "$R/etc/resolv.conf"
tar -C "$R" --numeric-owner --zstd -cf "$T/base.tar.zst" .
mv "$R" "$T/golden"
"""


def _build_systemd_script() -> str:
    return f"""
G=$1; S=$2; D=$3
cp -a "$G" "$S"
mkdir -p "$S/srv/debs"
mount --bind -o ro "$D" "$S/srv/debs"
mount -t proc proc "$S/proc"
mv "$S/etc/apt/sources.list" "$S/etc/apt/sources.list.mwlab-online"
echo 'deb [trusted=yes] file:/srv/debs ./' > "$S/etc/apt/sources.list"
chroot "$S" /usr/bin/env -i PATH={SERVER_PATH} HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive bash -euc '
  apt-get update -q
  apt-get install -y -q {" ".join(SYSTEMD_PKGS)}
  apt-get clean
'
mv "$S/etc/apt/sources.list.mwlab-online" "$S/etc/apt/sources.list"
umount "$S/proc"
umount "$S/srv/debs"
rmdir "$S/srv/debs"
rm -rf "$S"/var/lib/apt/lists/*
mkdir -p "$S/var/lib/apt/lists/partial"
rm -f "$S"/var/cache/apt/*.bin "$S/usr/sbin/policy-rc.d"
for u in {" ".join(SYSTEMD_MASK)}; do ln -sf /dev/null "$S/etc/systemd/system/$u"; done
"""


class Image:
    """A built image cache directory (see module doc)."""

    def __init__(self, directory: Path, suite: Optional[str] = None,
                 variant: Optional[str] = None):
        """``suite``/``variant``: default from the cache's BUILD-INFO.json, else
        :data:`SUITE` / ``"default"``."""
        self.dir = Path(directory)
        try:
            info = json.loads((self.dir / "BUILD-INFO.json").read_text())
        except (OSError, ValueError):
            info = {}
        if not isinstance(info, dict):
            info = {}
        if suite is None:
            suite = info.get("suite") or SUITE
        if variant is None:
            variant = info.get("variant") or "default"
        self.suite = _check_suite(str(suite))
        self.variant = _check_variant(str(variant))
        self.key = self.dir.name
        self.base_tar = self.dir / "base.tar.zst"
        self.debs = self.dir / "debs"
        self.golden = self.dir / "golden"
        self.lock_path = self.dir.parent / f"{self.key}.lock"
        self._wheels: Optional[Path] = None

    def __repr__(self) -> str:
        extra = "" if self.suite == SUITE else f", suite={self.suite!r}"
        if self.variant != "default":
            extra += f", variant={self.variant!r}"
        return f"Image({str(self.dir)!r}{extra})"

    @property
    def golden_systemd(self) -> Path:
        """The systemd variant's lower dir; built (~10 s, offline) on first use."""
        target = self.dir / "golden-systemd"
        if target.is_dir():
            return target
        if not shutil.which("chroot"):
            raise LabUnavailable("chroot missing")
        with _FileLock(self.lock_path):
            if target.is_dir():
                return target
            for stale in self.dir.glob(".golden-systemd.tmp-*"):
                _safe_rmtree(stale)
            tmp = self.dir / f".golden-systemd.tmp-{os.getpid()}"
            logfile = CACHE_ROOT / "logs" / f"{self.key}-systemd.log"
            logfile.parent.mkdir(parents=True, exist_ok=True)
            logfile.write_bytes(b"")
            t0 = time.monotonic()
            try:
                _sh(_isolated_argv(_build_systemd_script(), str(self.golden), str(tmp),
                                   str(self.debs)),
                    timeout=900, logfile=logfile, env=_host_env())
                tmp.rename(target)
            except BaseException:
                _safe_rmtree(tmp)
                raise
            _record("golden_systemd_build", time.monotonic() - t0)
        return target

    def wheels(self) -> Path:
        """Wheelhouse of the current checkout + dependencies, for the server's Python
        (3.11 on bookworm, 3.13 on trixie) and glibc."""
        if self._wheels is None:
            python, glibc = SUITES[self.suite]
            self._wheels = ensure_wheels(python=python, glibc=glibc)
        return self._wheels


def ensure_image(suite: str = SUITE, variant: str = "default") -> Image:
    """Build (cold, ~1-2 min, needs the Debian mirror) or reuse the cached image of
    ``suite`` (``bookworm`` = Debian 12, the default; ``trixie`` = Debian 13).
    ``variant="minimal"``: minbase + python3/python3-venv only (see :data:`VARIANTS`)."""
    reason = missing_requirements()
    if reason:
        raise LabUnavailable(reason)
    key = image_key(suite, variant)
    img = Image(CACHE_ROOT / key, suite, variant)
    if (img.golden / "etc").is_dir() and (img.debs / "Packages").is_file():
        return img
    missing = [t for t in BUILD_TOOLS if shutil.which(t) is None]
    if missing:
        raise LabUnavailable(f"building the e2e image needs {', '.join(missing)} "
                             "(run tests/e2e/host-deps.sh)")
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with _FileLock(img.lock_path):
        if (img.golden / "etc").is_dir() and (img.debs / "Packages").is_file():
            return img
        # we hold the lock: every temp dir of this key is from a dead build
        for stale in CACHE_ROOT.glob(f".{key}.tmp-*"):
            _safe_rmtree(stale)
        if img.dir.exists():          # incomplete (should not happen thanks to rename)
            _safe_rmtree(img.dir)
        tmp = CACHE_ROOT / f".{key}.tmp-{os.getpid()}"
        tmp.mkdir(mode=0o755)
        logfile = CACHE_ROOT / "logs" / f"{key}-base.log"
        logfile.parent.mkdir(parents=True, exist_ok=True)
        logfile.write_bytes(b"")
        log.warning("building e2e image %s (log: %s)", img.dir, logfile)
        t0 = time.monotonic()
        try:
            _sh(_isolated_argv(_build_base_script(suite, variant), str(tmp)), timeout=1800,
                logfile=logfile, env=_host_env())
            base, norec = _base_pkgs(variant)
            (tmp / "BUILD-INFO.json").write_text(json.dumps({
                "key": key, "version": LAB_VERSION, "suite": suite, "mirror": MIRROR,
                "variant": variant, "base": base + norec,
                "repo": MAIL_PKGS + SYSTEMD_PKGS + VALIDATOR_PKGS,
                "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }, indent=1))
            tmp.rename(img.dir)
        except BaseException:
            _safe_rmtree(tmp)
            raise
        name = "image_build" if suite == SUITE else f"image_build_{suite}"
        _record(name if variant == "default" else f"{name}_{variant}", time.monotonic() - t0)
    return img


# ----------------------------------------------------------------------------- wheels ----

_SKIP_DIRS = {".git", "tests", "build", "dist", ".venv", "__pycache__", ".mypy_cache",
              ".ruff_cache", ".pytest_cache", "node_modules"}


def _source_files(repo: Path) -> List[str]:
    """Relative paths of the checkout's files that go into the wheel build."""
    files: List[str] = []
    if (repo / ".git").exists() and shutil.which("git"):
        r = _sh(["git", "-C", repo, "ls-files", "-z", "-c", "-o", "--exclude-standard"],
                timeout=60, check=False)
        if r.returncode == 0:
            files = [f for f in r.stdout.split("\0") if f]
    if not files:
        for dirpath, dirnames, filenames in os.walk(repo):
            dirnames[:] = [d for d in dirnames
                           if d not in _SKIP_DIRS and not d.endswith(".egg-info")
                           and not d.startswith(".venv")]
            for fn in filenames:
                if not fn.endswith((".pyc", ".pyo")):
                    files.append(os.path.relpath(os.path.join(dirpath, fn), repo))
    return sorted(f for f in files
                  if f.split("/")[0] not in _SKIP_DIRS and (repo / f).is_file())


def source_hash(repo: Path = REPO_DIR) -> str:
    h = hashlib.sha256()
    for rel in _source_files(repo):
        h.update(rel.encode() + b"\0")
        h.update((repo / rel).read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:12]


_DEFAULT_PY, _DEFAULT_GLIBC = SUITES[SUITE]


def _target_tag_args(python: str = _DEFAULT_PY, glibc: int = _DEFAULT_GLIBC) -> List[str]:
    """pip download options selecting wheels for the server's CPython ``python`` and glibc
    2.``glibc`` on this arch (default: Debian 12's CPython 3.11 and glibc 2.36)."""
    machine = os.uname().machine
    cp = "cp" + python.replace(".", "")
    args = ["--only-binary=:all:", "--implementation", "cp", "--python-version", python,
            "--abi", cp, "--abi", "abi3", "--abi", "none"]
    for minor in range(glibc, 16, -1):
        args += ["--platform", f"manylinux_2_{minor}_{machine}"]
    args += ["--platform", f"manylinux2014_{machine}", "--platform", f"linux_{machine}"]
    return args


def _wheels_suffix(python: str, glibc: int) -> str:
    """Cache dir suffix of a wheelhouse target ("" for the default, bookworm's)."""
    if (python, glibc) == (_DEFAULT_PY, _DEFAULT_GLIBC):
        return ""
    return f"-cp{python.replace('.', '')}-glibc2.{glibc}"


def _project_wheel(wheels: Path) -> Path:
    """The one wheel of the project itself in a wheelhouse directory."""
    built = sorted(wheels.glob("mailwizard-*.whl"))
    if len(built) != 1:
        raise LabError(f"expected one mailwizard wheel in {wheels}, got {built}")
    return built[0]


def ensure_wheels(repo: Path = REPO_DIR, python: str = _DEFAULT_PY,
                  glibc: int = _DEFAULT_GLIBC) -> Path:
    """Wheelhouse for the checkout at ``repo``, cached by a hash of its source files, with
    the dependencies for a server running CPython ``python`` on glibc 2.``glibc``
    (``wheels/<hash>`` for bookworm's 3.11/2.36, ``wheels/<hash>-cp313-glibc2.41`` ...)."""
    suffix = _wheels_suffix(python, glibc)
    key = source_hash(repo) + suffix
    root = CACHE_ROOT / "wheels"
    target = root / key
    if (target / ".complete").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with _FileLock(root / f"{key}.lock"):
        if (target / ".complete").is_file():
            return target
        for stale in root.glob(f".{key}.tmp-*"):
            _safe_rmtree(stale)
        tmp = root / f".{key}.tmp-{os.getpid()}"
        tmp.mkdir(mode=0o755)
        logfile = tmp / "build.log"
        t0 = time.monotonic()
        try:
            wh = tmp / "wheels"
            wh.mkdir(mode=0o755)
            env = dict(os.environ)
            env.pop("PIP_REQUIRE_VIRTUALENV", None)
            pip = [sys.executable, "-m", "pip", "--no-input", "--disable-pip-version-check"]
            if suffix:       # the project's wheel is pure Python: reuse the default target's
                project = _project_wheel(ensure_wheels(repo) / "wheels")
                shutil.copy2(project, wh)
            else:
                src = tmp / "src"
                for rel in _source_files(repo):    # build from a copy: no build/ in the tree
                    dst = src / rel
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(repo / rel, dst)
                _sh(pip + ["wheel", "--no-deps", "-w", wh, src], timeout=600, logfile=logfile,
                    env=env)
                shutil.rmtree(src)
                project = _project_wheel(wh)
            # deps for the SERVER's python (e.g. cp311, glibc 2.36), whatever the host's is
            _sh(pip + ["download", "-d", wh, *_target_tag_args(python, glibc), project],
                timeout=600, logfile=logfile, env=env)
            (tmp / ".complete").write_text(f"{repo}\n")
            if target.exists():
                _safe_rmtree(target)
            tmp.rename(target)
        except BaseException:
            _safe_rmtree(tmp)
            raise
        _record("wheels_build" + (f"_cp{python.replace('.', '')}" if suffix else ""),
                time.monotonic() - t0)
        # keep the 5 newest wheelhouses of this target
        done = sorted((d for d in root.iterdir() if (d / ".complete").is_file()
                       and d.name[12:] == suffix),
                      key=lambda d: d.stat().st_mtime, reverse=True)
        for old in done[5:]:
            shutil.rmtree(old, ignore_errors=True)
            (root / f"{old.name}.lock").unlink(missing_ok=True)
    return target


# ----------------------------------------------------------------------------- slots -----

class _Slot:
    """Subnet number N held with an fcntl lock for the server's life (unique across
    processes: pytest-xdist workers, parallel runs)."""

    def __init__(self) -> None:
        d = RUN_ROOT / "slots"
        d.mkdir(parents=True, exist_ok=True)
        taken = _foreign_subnets()
        for n in range(1, MAX_SLOT + 1):
            if n in taken:
                continue
            fd = os.open(d / f"{n}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.n, self.fd = n, fd
            return
        raise LabError("no free lab subnet slot (254 servers running?)")

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _host_links() -> List[Tuple[str, List[str]]]:
    """(interface name, [ipv4 addresses]) for the host netns."""
    r = _sh(["ip", "-o", "-4", "addr", "show"], timeout=20, check=False)
    addrs: Dict[str, List[str]] = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            addrs.setdefault(parts[1].split("@")[0], []).append(parts[3].split("/")[0])
    r = _sh(["ip", "-o", "link", "show"], timeout=20, check=False)
    out = []
    for line in r.stdout.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            name = parts[1].strip().split("@")[0]
            out.append((name, addrs.get(name, [])))
    return out


def _foreign_subnets() -> set:
    """10.201.N subnets used by host interfaces that are NOT lab veths (never touch those)."""
    taken = set()
    for name, addrs in _host_links():
        if _NAME_RE.match(name):
            continue
        for a in addrs:
            m = re.match(rf"^{re.escape(NET_PREFIX)}\.(\d+)\.\d+$", a)
            if m:
                taken.add(int(m.group(1)))
    return taken


# ----------------------------------------------------------------------------- server ----

_LIVE: set[Server] = set()


class Server:
    """A throw-away "fresh server": overlay root (golden lower + tmpfs upper) and its own
    net, mount, pid, uts and ipc namespaces (plus cgroup ns for ``systemd=True``).

    Attributes after :meth:`boot`: ``n`` (slot), ``netns``, ``veth``, ``ip`` (server address
    10.201.N.2), ``host_ip`` (10.201.N.1), ``host_ip2`` (10.201.N.3, second client address),
    ``pid`` (host pid of the server's PID 1), ``hostname``.
    """

    def __init__(self, image: Image, systemd: bool = False, boot_timeout: float = 120,
                 owner: Optional[int] = None, layers: Sequence[Path] = ()):
        """``owner``: pid the server's names and marker are attributed to (default: this
        process); only tests of the lab itself need another (live) one.  ``layers``: extra
        read-only overlay lower dirs above the golden tree, topmost first (e.g. a
        :meth:`snapshot` of another server: the new server starts as a copy of it)."""
        self.image = image
        self.systemd = systemd
        self.layers = tuple(Path(p) for p in layers)
        self.boot_timeout = boot_timeout
        self.hostname = HOSTNAME
        self.owner = os.getpid() if owner is None else owner
        self.pid: Optional[int] = None
        self.proc: Optional[subprocess.Popen] = None
        self.system_state: Optional[str] = None
        self._slot: Optional[_Slot] = None
        self._logf = None
        self._syslog: Optional[subprocess.Popen] = None
        self._halted = False
        self._booted = False
        self.n = 0
        self.netns = self.veth = self.ip = self.host_ip = self.host_ip2 = ""
        self.dir = Path()
        self.cgroup: Optional[Path] = None
        # more (title, text) sources for failure reports, e.g. a lab service of this server
        self.extra_diagnostics: List[Callable[[], List[Tuple[str, str]]]] = []

    def __repr__(self) -> str:
        kind = "systemd " if self.systemd else ""
        return f"<lab.Server {kind}{self.netns or '(not booted)'} ip={self.ip} pid={self.pid}>"

    @property
    def name(self) -> str:
        return self.netns

    # -- context manager
    def __enter__(self) -> Server:
        if not self._booted:
            self.boot()
        return self

    def __exit__(self, *exc: object) -> None:
        self.halt()

    @property
    def alive(self) -> bool:
        return (self._booted and not self._halted and self.pid is not None
                and self.proc is not None and self.proc.poll() is None)

    # -- boot
    def boot(self) -> Server:
        if self._booted:
            raise LabError("server already booted")
        if self.systemd:
            _ = self.image.golden_systemd        # build the layer first: not boot time
        t0 = time.monotonic()
        self._booted = True
        _LIVE.add(self)
        try:
            self._boot()
        except BaseException:
            self.halt()
            raise
        _record("systemd_boot" if self.systemd else "server_boot", time.monotonic() - t0)
        return self

    def _boot(self) -> None:
        lower = ":".join(str(p) for p in (
            *self.layers, self.image.golden_systemd if self.systemd else self.image.golden))
        if self.systemd:
            cg_root = _cgroup2_root()
            if cg_root is None:
                raise LabUnavailable("systemd variant needs a cgroup2 hierarchy")
        self._slot = _Slot()
        n = self.n = self._slot.n
        self.netns = self.veth = f"mw{self.owner}-{n}"
        net = f"{NET_PREFIX}.{n}"
        self.ip, self.host_ip, self.host_ip2 = f"{net}.2", f"{net}.1", f"{net}.3"
        self.dir = RUN_ROOT / f"srv-{self.owner}-{n}"
        self._remove_stale_net()
        _safe_rmtree(self.dir)
        root, ovl = self.dir / "root", self.dir / "ovl"
        root.mkdir(parents=True)
        ovl.mkdir()
        # network: netns + veth, no default route inside (reaches only 10.201.N.0/24)
        for argv in (
            ["ip", "netns", "add", self.netns],
            ["ip", "-n", self.netns, "link", "set", "lo", "up"],
            ["ip", "link", "add", self.veth, "type", "veth", "peer", "name", IFNAME_IN_NS,
             "netns", self.netns],
            ["ip", "addr", "add", f"{self.host_ip}/24", "dev", self.veth],
            ["ip", "addr", "add", f"{self.host_ip2}/24", "dev", self.veth],
            ["ip", "link", "set", self.veth, "up"],
            ["ip", "-n", self.netns, "addr", "add", f"{self.ip}/24", "dev", IFNAME_IN_NS],
            ["ip", "-n", self.netns, "link", "set", IFNAME_IN_NS, "up"],
        ):
            _sh(argv, timeout=20)
        marker = f"{MARKER}={self.owner}:{n}"
        hosts = (f"127.0.0.1\\tlocalhost\\n::1\\tlocalhost ip6-localhost ip6-loopback\\n"
                 f"{self.ip}\\t{HOSTNAME} {HOSTNAME.split('.')[0]}\\n")
        (self.dir / "console.log").write_bytes(b"")
        if self.systemd:
            assert cg_root is not None
            self.cgroup = cg_root / f"mwlab-{self.owner}-{n}"
            self.cgroup.mkdir(exist_ok=True)
            extra = 'mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup"\n'
            init = f"/usr/bin/env -i {marker} container=mwlab /lib/systemd/systemd --show-status=no"
        else:
            extra = 'mount -t tmpfs -o mode=755,size=512m run "$R/run"   # fresh /run\n'
            init = (f"/usr/bin/env -i {marker} PATH={SERVER_PATH} "
                    "/bin/bash -c 'trap : CHLD TERM; while :; do sleep 3600 & wait $!; done'")
        script = f"""set -eu
D={self.dir}; R=$D/root; O=$D/ovl
mount -t tmpfs -o size=8g,mode=755 mwlab-upper "$O"
mkdir "$O/u" "$O/w"
mount -t overlay overlay -o "lowerdir={lower},upperdir=$O/u,workdir=$O/w" "$R"
mount -t proc proc "$R/proc"
# like a container manager: kernel knobs read-only (the netns' own net.* stay writable)
mount --bind "$R/proc/sys" "$R/proc/sys"; mount -o remount,bind,ro "$R/proc/sys"
mount --bind "$R/proc/sys/net" "$R/proc/sys/net"; mount -o remount,bind,rw "$R/proc/sys/net"
if [ -e "$R/proc/sysrq-trigger" ]; then
  mount --bind "$R/proc/sysrq-trigger" "$R/proc/sysrq-trigger"
  mount -o remount,bind,ro "$R/proc/sysrq-trigger"
fi
mount -t sysfs -o ro sysfs "$R/sys"
# own minimal /dev (a mount point, so systemd does not mount the host's devtmpfs there);
# /dev/console is a log file, never the host console
mount -t tmpfs -o mode=755,size=1m,nosuid mwlab-dev "$R/dev"
for d in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
  set -- $d; mknod -m 666 "$R/dev/$1" c "$2" "$3"
done
ln -s /proc/self/fd "$R/dev/fd"; ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"
mkdir "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777,size=256m shm "$R/dev/shm"
touch "$R/dev/console"; mount --bind "$D/console.log" "$R/dev/console"
{extra}
hostname {HOSTNAME}
echo {HOSTNAME} > "$R/etc/hostname"
printf '{hosts}' > "$R/etc/hosts"
echo 'nameserver 127.0.0.1' > "$R/etc/resolv.conf"
# no kernel modules, clock or raw I/O from inside (bounding set is inherited by everything)
exec setpriv --bounding-set {_DROP_CAPS} chroot "$R" {init}
"""
        (self.dir / "boot.sh").write_text(script)
        unshare = ["unshare", "--mount", "--pid", "--uts", "--ipc", "--fork",
                   "--propagation", "private", "--kill-child"]
        argv = ["ip", "netns", "exec", self.netns, *unshare, "bash", str(self.dir / "boot.sh")]
        if self.systemd:
            argv.insert(argv.index("--kill-child"), "--cgroup")
            # enter our own cgroup first so systemd only creates cgroups below it; before
            # `ip netns exec`, which remounts /sys (the cgroup mounts are gone after it)
            argv = ["bash", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(self.cgroup),
                    *argv]
        argv = ["setpriv", "--pdeathsig", "KILL", *argv]
        env = _host_env()
        env[MARKER] = f"{self.owner}:{n}"
        self._logf = open(self.dir / "init.log", "wb")
        # setpriv --pdeathsig: if we die (even SIGKILL) unshare gets SIGKILL, and --kill-child
        # then kills the namespace's PID 1 -> every server process and mount is gone
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + 20
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        while True:
            if self.proc.poll() is not None:
                raise LabError(f"server {self.netns} died while booting (rc "
                               f"{self.proc.returncode}):\n{_tail_text(self.dir / 'init.log')}")
            try:
                pid = int(children.read_text().split()[0])
                # booted once PID 1 has chrooted (nsenter --root relies on /proc/PID/root)
                if os.readlink(f"/proc/{pid}/root") != "/":
                    self.pid = pid
                    break
            except (OSError, IndexError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise LabError(f"server {self.netns} did not boot:\n"
                               + _tail_text(self.dir / "init.log"))
            time.sleep(0.01)
        if self.systemd:
            self._wait_systemd()
        else:
            self._start_syslog_sink()

    def _start_syslog_sink(self) -> None:
        """A host process that receives what the server's daemons send to ``/dev/log`` and
        appends it to ``syslog.log`` in the server's runtime dir (for failure reports).

        Without it a server with no syslog daemon logs nowhere: Postfix and Dovecot send to
        ``/dev/log`` and nothing listens.  The socket is bound by this process in the server's
        own /dev (a tmpfs) and handed to the sink, so it exists before any daemon starts; the
        sink runs on the host, so the server's process list and files are unchanged (the
        server's mail log, read by ``mailwizard check`` and ``log``, stays absent).  It carries
        the lab marker (``leftovers`` finds a leaked one) and dies with this process."""
        import socket

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            path = self.path("/dev/log")
            sock.bind(str(path))
            os.chmod(path, 0o666)
            # a big receive queue: a daemon's syslog() blocks when the queue is full
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            env = _host_env()
            env[MARKER] = f"{self.owner}:{self.n}"
            self._syslog = subprocess.Popen(
                ["setpriv", "--pdeathsig", "KILL", sys.executable, "-c", _SYSLOG_SINK,
                 str(sock.fileno()), str(self.dir / "syslog.log")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=env, pass_fds=(sock.fileno(),), start_new_session=True)
        finally:
            sock.close()

    def _wait_systemd(self) -> None:
        deadline = time.monotonic() + self.boot_timeout
        sock = self.path("/run/systemd/private")
        while not sock.is_socket():      # before that: "Failed to connect to bus"
            if not self.alive:
                raise LabError("systemd died:\n" + _tail_text(self.dir / "console.log"))
            if time.monotonic() > deadline:
                raise LabError("systemd did not come up:\n"
                               + _tail_text(self.dir / "console.log"))
            time.sleep(0.05)
        left = max(5.0, deadline - time.monotonic())
        r = self.run(["timeout", str(int(left)), "systemctl", "is-system-running", "--wait"],
                     check=False, timeout=left + 10)
        self.system_state = r.stdout.strip()
        if self.system_state not in ("running", "degraded"):
            failed = self.run("systemctl --failed --no-pager; journalctl -b --no-pager -n 80",
                              check=False, timeout=30)
            raise LabError(f"systemd state {self.system_state!r} ({r.stderr.strip()}):\n"
                           + failed.stdout[-6000:])

    def _remove_stale_net(self) -> None:
        """Same-name netns/veth of a crashed run, and lab veths squatting on our subnet
        (we hold the slot lock, so whoever made them is gone)."""
        _sh(["ip", "link", "del", self.veth], timeout=20, check=False)
        _sh(["ip", "netns", "del", self.netns], timeout=20, check=False)
        prefix = f"{NET_PREFIX}.{self.n}."
        for name, addrs in _host_links():
            if _NAME_RE.match(name) and any(a.startswith(prefix) for a in addrs):
                log.warning("deleting stale lab veth %s holding %s0/24", name, prefix)
                _sh(["ip", "link", "del", name], timeout=20, check=False)
                _sh(["ip", "netns", "del", name], timeout=20, check=False)

    # -- using it
    def path(self, p: Union[str, Path]) -> Path:
        """Host-side path of file ``p`` on the server (``/proc/PID/root/p``)."""
        if self.pid is None:
            raise LabError("server not booted")
        return Path(f"/proc/{self.pid}/root") / str(p).lstrip("/")

    def _nsenter(self, root: bool = True) -> List[str]:
        if not self.alive:
            raise LabError(f"server {self.netns or '?'} is not running")
        argv = ["setpriv", "--bounding-set", _DROP_CAPS,
                "nsenter", "-t", str(self.pid), "-m", "-u", "-i", "-n", "-p"]
        if self.systemd:
            argv.append("-C")
        if root:
            argv += ["-r", "-w"]
        return argv + ["--"]

    def run(self, cmd: Union[str, Sequence[str]], check: bool = True, timeout: float = 300,
            input: Union[str, bytes, None] = None,
            env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
        """Run ``cmd`` as root on the server (a str goes through ``bash -c``) with a clean
        environment.  stdout/stderr are captured through temp files, never pipes, so a
        daemon started by ``cmd`` cannot hang us; still start daemons with
        ``</dev/null >/dev/null 2>&1``.  On timeout the whole command group is killed and
        ``subprocess.TimeoutExpired`` is raised.  Returns a text CompletedProcess."""
        envv = ["/usr/bin/env", "-i", f"PATH={SERVER_PATH}", "HOME=/root", "LANG=C.UTF-8",
                "TERM=dumb", f"{MARKER}={self.owner}:{self.n}"]
        envv += [f"{k}={v}" for k, v in (env or {}).items()]
        body = ["/bin/bash", "-c", cmd] if isinstance(cmd, str) else [str(c) for c in cmd]
        argv = self._nsenter() + envv + body
        data = input.encode() if isinstance(input, str) else input
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.Popen(argv, stdin=subprocess.PIPE if data is not None
                                 else subprocess.DEVNULL, stdout=out, stderr=err,
                                 start_new_session=True)
            try:
                p.communicate(input=data, timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_command_group(p)
                out.seek(0)
                err.seek(0)
                raise subprocess.TimeoutExpired(cmd, timeout, out.read(), err.read()) from None
            out.seek(0)
            err.seek(0)
            so = out.read().decode(errors="replace")
            se = err.read().decode(errors="replace")
        res = subprocess.CompletedProcess(cmd, p.returncode, so, se)
        if check and p.returncode != 0:
            raise ServerCommandError(p.returncode, cmd, so, se)
        return res

    def popen(self, cmd: Union[str, Sequence[str]], env: Optional[Dict[str, str]] = None,
              **kwargs: Any) -> subprocess.Popen:
        """Start ``cmd`` on the server like :meth:`run` (clean environment, root) but return
        the host-side ``Popen`` of its ``nsenter``; ``kwargs`` go to ``Popen`` (stdio, a
        controlling terminal ...).  The caller waits for it (and kills it on failure)."""
        envv = ["/usr/bin/env", "-i", f"PATH={SERVER_PATH}", "HOME=/root", "LANG=C.UTF-8",
                "TERM=dumb", f"{MARKER}={self.owner}:{self.n}"]
        envv += [f"{k}={v}" for k, v in (env or {}).items()]
        body = ["/bin/bash", "-c", cmd] if isinstance(cmd, str) else [str(c) for c in cmd]
        return subprocess.Popen(self._nsenter() + envv + body, **kwargs)

    def processes(self) -> List[Tuple[int, str]]:
        """(host pid, command line) of every process in the server's pid namespace."""
        if self.pid is None:
            return []
        try:
            ns = os.readlink(f"/proc/{self.pid}/ns/pid")
        except OSError:
            return []
        out = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if os.readlink(f"/proc/{entry.name}/ns/pid") != ns:
                    continue
                cmd = Path(f"/proc/{entry.name}/cmdline").read_bytes()
            except OSError:
                continue
            out.append((int(entry.name), cmd.replace(b"\0", b" ").decode(errors="replace")
                        .strip()))
        return out

    def snapshot(self, dest: Path) -> Path:
        """Copy the server's writable layer (everything it changed since boot, overlay
        whiteouts and xattrs included) into the new directory ``dest`` on the host; boot
        ``Server(image, layers=(dest, *srv.layers))`` to get a copy of this server as it is
        now (mounts and processes are not copied).  Quiesce what writes first."""
        if not self.alive:
            raise LabError("server not running")
        dest = Path(dest)
        if dest.exists():
            raise LabError(f"{dest} exists")
        dest.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        _sh(["nsenter", "-t", str(self.pid), "-m", "--", "cp", "-a", "--",
             f"{self.dir}/ovl/u", str(dest)], timeout=600)
        _record("snapshot", time.monotonic() - t0)
        return dest

    def _bind_ro(self, host_dir: Path, inside: str) -> None:
        """Read-only bind mount of a host dir at ``inside``, done in the server's own mount
        namespace (invisible on the host, gone with the server)."""
        if not self.alive:
            raise LabError("server not running")
        target = f"{self.dir / 'root'}/{inside.lstrip('/')}"
        script = ('mountpoint -q "$2" && exit 0; mkdir -p "$2" && '
                  'mount --bind -o ro "$1" "$2"')
        _sh(["nsenter", "-t", str(self.pid), "-m", "--", "/bin/sh", "-c", script, "sh",
             str(host_dir), target], timeout=30)

    def attach_debs(self) -> None:
        """Offline apt: the image's debs/ read-only at /srv/debs, and
        /etc/apt/sources.list = ``deb [trusted=yes] file:/srv/debs ./`` (the online list is
        kept as sources.list.mwlab-online, which apt ignores).  Idempotent."""
        self._bind_ro(self.image.debs, "/srv/debs")
        sl = self.path("/etc/apt/sources.list")
        offline = "deb [trusted=yes] file:/srv/debs ./\n"
        if sl.exists() and sl.read_text() != offline:
            sl.rename(self.path("/etc/apt/sources.list.mwlab-online"))
        sl.write_text(offline)

    def install_wheels(self, package: str = "mailwizard",
                       timeout: float = 600) -> subprocess.CompletedProcess:
        """Wheelhouse at /srv/wheels (ro); ``python3 -m venv /opt/mw``; offline
        ``pip install`` of ``package``; ``/usr/local/bin/mailwizard`` -> the venv script."""
        wheels = self.image.wheels()
        t0 = time.monotonic()
        self._bind_ro(wheels / "wheels", "/srv/wheels")
        res = self.run(
            "set -e; python3 -m venv /opt/mw; "
            "/opt/mw/bin/pip install -q --disable-pip-version-check --no-input --no-index "
            f"--find-links /srv/wheels {package}; "
            "ln -sf /opt/mw/bin/mailwizard /usr/local/bin/mailwizard",
            timeout=timeout)
        _record("install_wheels", time.monotonic() - t0)
        return res

    def diagnostics(self) -> List[Tuple[str, str]]:
        """(title, text) pairs for failure reports: mail logs, postconf -n, doveconf -n."""
        out: List[Tuple[str, str]] = []
        if not self.alive:
            return out
        for logname in SERVER_LOGS:
            p = self.path(logname)
            if p.is_file():
                out.append((logname, _tail_text(p)))
        sink = self.dir / "syslog.log"
        if sink.is_file():
            out.append(("/dev/log (received by the lab)", _tail_text(sink)))
        cmds = ["postconf -n", "doveconf -n"]
        if self.systemd:
            cmds += ["systemctl --failed --no-pager", "journalctl -b --no-pager -n 150"]
        for cmd in cmds:
            exe = cmd.split()[0]
            try:
                r = self.run(f"command -v {exe} >/dev/null || exit 99; {cmd} 2>&1", check=False,
                             timeout=30)
            except (subprocess.TimeoutExpired, LabError) as exc:
                out.append((cmd, f"<failed: {exc}>"))
                continue
            if r.returncode != 99:
                out.append((cmd, r.stdout[-20000:]))
        for source in list(self.extra_diagnostics):
            try:
                out += source()
            except Exception as exc:  # noqa: BLE001 - a report must never break the run
                out.append((repr(source), f"<failed: {exc!r}>"))
        return out

    # -- halt
    def halt(self) -> None:
        """SIGKILL the server's PID 1 (the kernel kills the rest of the pid namespace and the
        mount namespace with all its mounts goes away), reap, delete veth + netns + cgroup +
        runtime dir, release the slot.  Idempotent."""
        if self._halted:
            return
        self._halted = True
        t0 = time.monotonic()
        try:
            if self.proc is not None:
                # unshare is alive -> it has not reaped PID 1 -> self.pid is still that process
                if self.proc.poll() is None and self.pid is not None:
                    try:
                        os.kill(self.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    _killpg(self.proc.pid)
                    self.proc.wait(timeout=30)
            if self._logf is not None:
                self._logf.close()
                self._logf = None
            if self._syslog is not None:
                self._syslog.kill()
                self._syslog.wait(timeout=30)
                self._syslog = None
            if self.cgroup is not None:
                _rmdir_cgroup(self.cgroup)
            if self.netns:
                _sh(["ip", "link", "del", self.veth], timeout=20, check=False)
                _sh(["ip", "netns", "del", self.netns], timeout=20, check=False)
            if self.dir != Path() and self.dir.exists():
                try:
                    _safe_rmtree(self.dir)
                except LabError as exc:
                    log.error("%s", exc)
        finally:
            if self._slot is not None:
                self._slot.release()
                self._slot = None
            _LIVE.discard(self)
            _record("halt", time.monotonic() - t0)


def _rmdir_cgroup(cg: Path, timeout: float = 10) -> bool:
    """rmdir a cgroup tree depth-first (retrying while its dead processes are reaped)."""
    deadline = time.monotonic() + timeout
    while cg.exists():
        dirs = sorted((Path(dp) for dp, _, _ in os.walk(cg)), key=lambda p: -len(p.parts))
        for d in dirs:
            try:
                d.rmdir()
            except OSError:
                pass
        if not cg.exists():
            break
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# servers registered for failure reports: (server, file of the module that registered it)
_TRACKED: List[Tuple[Server, Optional[str]]] = []


def track_module_server(srv: Server, module: Optional[str] = None) -> Server:
    """Register a server made outside the ``fresh_server``/``server_factory`` fixtures (e.g.
    by a module-scoped fixture): while it is alive, failing tests of ``module`` (default: the
    calling module) get its logs and configs in their report (conftest's
    ``pytest_runtest_makereport``)."""
    if module is None:
        module = sys._getframe(1).f_globals.get("__file__")
    _TRACKED.append((srv, str(Path(module).resolve()) if module else None))
    return srv


@contextmanager
def booted(image: Image, systemd: bool = False,
           track: Optional[Callable[[Server], Any]] = None) -> Iterator[Server]:
    """A server of ``image``, registered with ``track`` first, booted with the offline repo
    attached; halted on exit."""
    srv = Server(image, systemd=systemd)
    if track is not None:
        track(srv)
    try:
        srv.boot()
        srv.attach_debs()
        yield srv
    finally:
        srv.halt()


def tracked_servers(module_file: Optional[str] = None) -> List[Server]:
    """Alive tracked servers of ``module_file`` (all modules if None)."""
    _TRACKED[:] = [(s, f) for s, f in _TRACKED if not s._halted]
    want = str(Path(module_file).resolve()) if module_file else None
    return [s for s, f in _TRACKED
            if s.alive and (want is None or f is None or f == want)]


@atexit.register
def _halt_all() -> None:
    for srv in list(_LIVE):
        try:
            srv.halt()
        except Exception as exc:  # noqa: BLE001 - best effort at exit
            log.error("halting %r at exit: %s", srv, exc)


# ----------------------------------------------------------------------------- leftovers -

def _owner_selected(owner: int, scope: str) -> bool:
    if scope == "all":
        return True
    if scope == "dead":
        return not _pid_alive(owner)
    if scope == "mine":
        return owner == os.getpid() or not _pid_alive(owner)
    raise ValueError(f"scope must be 'mine', 'dead' or 'all', not {scope!r}")


def _marker_processes() -> Iterator[Tuple[int, int, str]]:
    """(pid, owner pid, marker value) of every host process carrying our marker variable."""
    needle = f"{MARKER}=".encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        if needle not in env:
            continue
        for item in env.split(b"\0"):
            if item.startswith(needle):
                val = item[len(needle):].decode(errors="replace")
                try:
                    owner = int(val.split(":")[0])
                except ValueError:
                    owner = -1
                yield int(entry.name), owner, val
                break


def _netns_names() -> List[str]:
    r = _sh(["ip", "netns", "list"], timeout=20, check=False)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def leftovers(scope: str = "mine") -> List[str]:
    """What the lab left behind, as readable strings (empty list = clean).

    ``scope="mine"``: things of this process plus of owners that are dead (crashed runs);
    ``scope="dead"``: only those of dead owners;
    ``scope="all"``: also those of other live processes (e.g. other xdist workers).
    Looks at: mounts under the lab dirs (host mount ns), lab netns, lab veths, processes
    with ``MAILWIZARD_E2E`` in their environment, systemd-variant cgroups, runtime dirs."""
    found: List[str] = []
    for mp in _mounts_under(CACHE_ROOT, RUN_ROOT):
        found.append(f"mount {mp}")
    for name in _netns_names():
        m = _NAME_RE.match(name)
        if m and _owner_selected(int(m.group(1)), scope):
            found.append(f"netns {name}")
    for name, addrs in _host_links():
        m = _NAME_RE.match(name)
        if m and _owner_selected(int(m.group(1)), scope):
            found.append(f"veth {name} {' '.join(addrs)}".rstrip())
    me = os.getpid()
    for pid, owner, val in _marker_processes():
        if pid == me:
            continue
        if _owner_selected(owner, scope):
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                comm = "?"
            found.append(f"process {pid} ({comm}) {MARKER}={val}")
    cg_root = _cgroup2_root()
    if cg_root is not None and cg_root.is_dir():
        for d in cg_root.iterdir():
            m = _CGROUP_RE.match(d.name)
            if m and d.is_dir() and _owner_selected(int(m.group(1)), scope):
                found.append(f"cgroup {d}")
    if RUN_ROOT.is_dir():
        for d in RUN_ROOT.iterdir():
            m = _SRVDIR_RE.match(d.name)
            if m and _owner_selected(int(m.group(1)), scope):
                found.append(f"dir {d}")
    return found


def cleanup(scope: str = "mine") -> List[str]:
    """Remove everything :func:`leftovers` reports (same ``scope``); returns what it found.
    Never touches servers of other live processes unless ``scope="all"``."""
    found = leftovers(scope)
    if not found:
        return found
    me = os.getpid()
    procs = [pid for pid, owner, _ in _marker_processes()
             if pid != me and _owner_selected(owner, scope)]
    for pid in procs:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(
            _pid_alive(p) and _state(p) != "Z" for p in procs):
        time.sleep(0.05)
    for name, _ in _host_links():
        m = _NAME_RE.match(name)
        if m and _owner_selected(int(m.group(1)), scope):
            _sh(["ip", "link", "del", name], timeout=20, check=False)
    for name in _netns_names():
        m = _NAME_RE.match(name)
        if m and _owner_selected(int(m.group(1)), scope):
            _sh(["ip", "netns", "del", name], timeout=20, check=False)
    cg_root = _cgroup2_root()
    if cg_root is not None and cg_root.is_dir():
        for d in cg_root.iterdir():
            m = _CGROUP_RE.match(d.name)
            if m and _owner_selected(int(m.group(1)), scope):
                _rmdir_cgroup(d)
    if RUN_ROOT.is_dir():
        for d in RUN_ROOT.iterdir():
            m = _SRVDIR_RE.match(d.name)
            if m and _owner_selected(int(m.group(1)), scope):
                try:
                    _safe_rmtree(d)
                except LabError as exc:
                    log.error("%s", exc)
    return found


def cleanup_stale() -> List[str]:
    """Clean up after crashed runs only (dead owners); safe while other runs are going."""
    found = cleanup("dead")
    if found:
        log.warning("cleaned up stale lab leftovers: %s", found)
    return found


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""
