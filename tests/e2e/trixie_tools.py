"""Debian 13 (trixie) validators for the e2e lab: Postfix 3.10 ``postconf``/``postmap`` and
Dovecot 2.4 ``doveconf``, in a throw-away debootstrap chroot (never a server, never a daemon).

The lab's servers are Debian 12 (Dovecot 2.3.19, Postfix 3.7), which cannot judge Dovecot 2.4
syntax. This module builds, once per cache key, a trixie minbase chroot with ``postfix
postfix-lmdb dovecot-core dovecot-imapd dovecot-pop3d openssl`` installed:

* stage 1 (host network, private mount + pid namespace): ``debootstrap`` and
  ``apt-get --download-only`` (the only step that needs the Debian mirror);
* stage 2 (additionally ``unshare --net``: no network at all): ``apt-get install`` from the
  downloaded debs, with a ``policy-rc.d`` that forbids starting any service.

The tree lives in ``/var/cache/mailwizard-e2e/trixie-tools-<key>/rootfs`` (key = hash of the
inputs), is built under an ``fcntl`` lock into a temp dir renamed into place (a killed build
leaves no half cache), and is never modified afterwards: :func:`run_in` mounts an overlay with
a tmpfs upper on top of it in a private mount namespace, copies the caller's files in, and runs
one command chrooted with ``unshare --mount --net --pid --fork`` (no network, own pid space).
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import time
from pathlib import Path
from typing import Dict, Optional

import lab

SUITE = "trixie"
TOOLS_VERSION = "trixie-tools-1"
PKGS = ("postfix", "postfix-lmdb", "dovecot-core", "dovecot-imapd", "dovecot-pop3d",
        "openssl")


def tools_key() -> str:
    blob = json.dumps({"v": TOOLS_VERSION, "suite": SUITE, "mirror": lab.MIRROR,
                       "security": lab.SECURITY_MIRROR, "pkgs": PKGS}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _build_script() -> str:
    pkgs = " ".join(PKGS)
    env = (f"/usr/bin/env -i PATH={lab.SERVER_PATH} HOME=/root LANG=C.UTF-8 "
           "DEBIAN_FRONTEND=noninteractive")
    return f"""
T=$1; R=$T/rootfs
debootstrap --variant=minbase {SUITE} "$R" {lab.MIRROR}
printf '#!/bin/sh\\n# mailwizard e2e: never start a service here\\nexit 101\\n' \
  > "$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
rm -f "$R/etc/apt/sources.list.d/debian.sources"
cat > "$R/etc/apt/sources.list" <<EOS
deb {lab.MIRROR} {SUITE} main
deb {lab.MIRROR} {SUITE}-updates main
deb {lab.SECURITY_MIRROR} {SUITE}-security main
EOS
echo 'postfix postfix/main_mailer_type select No configuration' > "$R/tmp/preseed"
mount -t proc proc "$R/proc"
# stage 1: network (apt lists + debs only)
chroot "$R" {env} bash -euc '
  apt-get update -q
  apt-get install -y -q --no-install-recommends --download-only {pkgs}
'
umount "$R/proc"
# stage 2: no network at all; nothing may start (policy-rc.d)
unshare --net --pid --fork --mount-proc="$R/proc" chroot "$R" {env} bash -euc '
  debconf-set-selections /tmp/preseed
  apt-get install -y -q --no-install-recommends {pkgs}
  apt-get clean
'
rm -rf "$R"/var/lib/apt/lists/* "$R/tmp/preseed"
"""


def ensure_tools(timeout: float = 1200) -> Path:
    """The rootfs of the trixie validator chroot (built on first use, ~1-2 min online)."""
    reason = lab.missing_requirements()
    if reason:
        raise lab.LabUnavailable(reason)
    key = tools_key()
    target = lab.CACHE_ROOT / f"trixie-tools-{key}"
    rootfs = target / "rootfs"
    if (target / ".complete").is_file():
        return rootfs
    lab.CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with lab._FileLock(lab.CACHE_ROOT / f"trixie-tools-{key}.lock"):
        if (target / ".complete").is_file():
            return rootfs
        for stale in lab.CACHE_ROOT.glob(f".trixie-tools-{key}.tmp-*"):
            lab._safe_rmtree(stale)
        if target.exists():
            lab._safe_rmtree(target)
        tmp = lab.CACHE_ROOT / f".trixie-tools-{key}.tmp-{os.getpid()}"
        tmp.mkdir(mode=0o755)
        logfile = lab.CACHE_ROOT / "logs" / f"trixie-tools-{key}.log"
        logfile.parent.mkdir(parents=True, exist_ok=True)
        logfile.write_bytes(b"")
        t0 = time.monotonic()
        try:
            lab._sh(lab._isolated_argv(_build_script(), str(tmp)), timeout=timeout,
                    logfile=logfile, env=lab._host_env())
            (tmp / ".complete").write_text(json.dumps({"key": key, "pkgs": PKGS}) + "\n")
            tmp.rename(target)
        except BaseException:
            lab._safe_rmtree(tmp)
            raise
        lab._record("trixie_tools_build", time.monotonic() - t0)
    return rootfs


def run_in(rootfs: Path, files: Dict[str, bytes], cmd: str, timeout: float = 120,
           modes: Optional[Dict[str, int]] = None) -> subprocess.CompletedProcess:
    """Run ``cmd`` (bash) as root chrooted into an overlay of ``rootfs`` (tmpfs upper, so the
    cache is never touched) after writing ``files`` (absolute path -> bytes) into it.
    Isolation: ``unshare --mount --net --pid --fork`` (no network, private mounts, own pid
    namespace, killed with us).  Returns the CompletedProcess (stdout and stderr merged)."""
    work = lab.RUN_ROOT / f"trixie-{os.getpid()}-{time.monotonic_ns()}"
    work.mkdir(parents=True)
    try:
        stage = work / "files"
        stage.mkdir()
        for path, data in files.items():
            p = stage / path.lstrip("/")
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
            p.chmod((modes or {}).get(path, 0o644))
        (work / "cmd.sh").write_text(cmd)
        script = f"""set -eu
W=$1; L=$2
mount -t tmpfs -o size=256m,mode=755 mwtrixie "$W/ovl"
mkdir "$W/ovl/u" "$W/ovl/w" "$W/root"
mount -t overlay overlay -o "lowerdir=$L,upperdir=$W/ovl/u,workdir=$W/ovl/w" "$W/root"
mount -t proc proc "$W/root/proc"
ip link set lo up          # our own network namespace: loopback only
cp -a "$W/files/." "$W/root/"
cp "$W/cmd.sh" "$W/root/tmp/mw-cmd.sh"
exec chroot "$W/root" /usr/bin/env -i PATH={lab.SERVER_PATH} HOME=/root LANG=C.UTF-8 \
  bash /tmp/mw-cmd.sh
"""
        argv = ["setpriv", "--pdeathsig", "KILL", "unshare", "--mount", "--net", "--pid",
                "--fork", "--kill-child", "--propagation", "private",
                "bash", "-c", script, "trixie-run", str(work), str(rootfs)]
        (work / "ovl").mkdir()
        with open(work / "out", "wb") as out:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, env=lab._host_env(),
                                 start_new_session=True)
            try:
                rc = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                lab._killpg(p.pid)
                p.wait(timeout=30)
                raise
        text = (work / "out").read_text(errors="replace")
        return subprocess.CompletedProcess(cmd, rc, text, "")
    finally:
        lab._safe_rmtree(work)


def quote(s: str) -> str:
    return shlex.quote(s)
