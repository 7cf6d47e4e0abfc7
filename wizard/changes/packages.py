"""Packages: install and remove them; undo removes only what this run installed, and what the
install left under /etc and in the account files.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import stat as stat_mod
import time
from typing import Dict, List, Optional, Sequence, Set

from ..errors import CommandFailed, ExecutorError
from ..executor import Executor, sha256
from ..facts import all_installed_packages, installed_packages, unit_active
from .accounts import accounts_added, remove_added_accounts, save_account_files
from .base import Change, ChangeContext, Preview, Record, ShellForm, View, quote_argv
from .services import service_manager

RUNBOOK_DIR = "/var/lib/mailwizard/runbook"
"""Where the runbook's by-hand blocks keep what their undo needs (the list of added
packages)."""


# --------------------------------------------------------------------------- packages
def etc_snapshot(ex: Executor, top: str = "/etc") -> Dict[str, str]:
    """Target path -> ``dir``, ``link:<target>`` or ``sha:<sha256>`` for everything under top."""
    out: Dict[str, str] = {}
    base = str(ex.path(top))
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            target = top + p[len(base):]
            out[target] = _entry_state(p) or ""
    return out


def _entry_state(host_path: str) -> Optional[str]:
    try:
        st = os.lstat(host_path)
    except FileNotFoundError:
        return None
    if stat_mod.S_ISLNK(st.st_mode):
        return "link:" + os.readlink(host_path)
    if stat_mod.S_ISDIR(st.st_mode):
        return "dir"
    if stat_mod.S_ISREG(st.st_mode):
        with open(host_path, "rb") as fh:
            return "sha:" + (sha256(fh.read()) or "")
    return "other"


def _owned_by_packages(ex: Executor, manager: str, paths: Sequence[str]) -> Set[str]:
    """The paths some installed package owns (dpkg -S / rpm -qf)."""
    owned: Set[str] = set()
    for i in range(0, len(paths), 200):
        chunk = list(paths[i:i + 200])
        if manager == "apt":
            res = ex.run(["dpkg-query", "-S", *chunk], quiet=True, timeout=120)
            for line in res.stdout.splitlines():
                if ": /" in line and not line.startswith("diversion"):
                    owned.update(p.strip() for p in line.split(": ", 1)[1].split(","))
        else:
            res = ex.run(["rpm", "-qf", "--qf", "%{NAME}\\n", *chunk], quiet=True,
                         timeout=120)
            for path, line in zip(chunk, res.stdout.splitlines()):
                if "not owned" not in line:
                    owned.add(path)
    return owned


PACKAGE_LOCKS = {
    "apt": ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock", "/var/cache/debconf/config.dat"),
    "dnf": ("/var/lib/rpm/.rpm.lock",),
    "yum": ("/var/lib/rpm/.rpm.lock",),
}
"""Files a running package manager holds an fcntl lock on (dpkg, debconf, rpm)."""

PACKAGE_PIDFILES = {
    "dnf": ("/var/cache/dnf/rpmdb_lock.pid", "/var/cache/dnf/download_lock.pid",
            "/var/cache/dnf/metadata_lock.pid", "/run/dnf/rpmtransaction.lock"),
    "yum": ("/var/run/yum.pid", "/run/yum.pid"),
}
"""Pid files a running dnf/yum keeps (a stale one names a dead process)."""


def package_manager_busy(ex: Executor, manager: str) -> Optional[str]:
    """The lock or pid file showing that a package manager runs in the target, or None."""
    for target in PACKAGE_LOCKS.get(manager, ()):
        host = ex.path(target)
        try:
            fd = os.open(str(host), os.O_RDWR)
        except OSError:
            continue
        try:
            for lock in (fcntl.lockf, fcntl.flock):  # dpkg/rpm use fcntl locks, debconf flock
                try:
                    lock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    return target
                lock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    for target in PACKAGE_PIDFILES.get(manager, ()):
        text = ex.read_text(target)
        m = re.fullmatch(r"\s*(\d+)\s*", text or "")
        if m is None:
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass
        return target
    return None


def wait_for_package_manager(ctx: ChangeContext, manager: str, poll: float = 1.0) -> None:
    """Wait (at most ``ctx.lock_wait`` seconds) until no package manager holds its lock in
    the target: an apt-get or dnf orphaned by a killed run finishes its transaction first."""
    busy = package_manager_busy(ctx.executor, manager)
    if busy is None:
        return
    ctx.log(f"a package manager is still running ({busy} is locked); waiting up to "
            f"{int(ctx.lock_wait)} s for it to finish")
    deadline = time.monotonic() + ctx.lock_wait
    while busy is not None:
        if time.monotonic() >= deadline:
            raise ExecutorError(f"a package manager still holds {busy}; let it finish, then "
                                "run mailwizard again")
        time.sleep(poll)
        busy = package_manager_busy(ctx.executor, manager)
    ctx.log("the package manager has finished; going on")


def _record_install_effects(ctx: ChangeContext, rec: Record) -> None:
    """What the install left under /etc (package files and what maintainer scripts generate,
    such as /etc/aliases) and in the account files, against the write-ahead snapshot: an undo
    removes it again."""
    before = json.loads(ctx.backups.load(rec["etc_before"]).decode())
    rec["etc_created"] = {p: v for p, v in etc_snapshot(ctx.executor).items()
                          if p not in before}
    rec["accounts_added"] = accounts_added(ctx, rec["accounts_before"])
    if rec.get("pkgs_before"):
        before_pkgs = set(json.loads(ctx.backups.load(rec["pkgs_before"]).decode()))
        rec["pulled_in"] = sorted(all_installed_packages(ctx.executor) - before_pkgs
                                  - set(rec["to_install"]))


class Packages(Change):
    """Install and remove packages; undo removes only what this run installed."""

    kind = "packages"
    installs_software = True

    def __init__(self, manager: str, install: Sequence[str] = (), remove: Sequence[str] = (),
                 debconf: Sequence[str] = ()) -> None:
        self.manager = manager
        self.install = list(install)
        self.remove = list(remove)
        self.debconf = list(debconf)

    def describe(self) -> str:
        parts = []
        if self.install:
            parts.append("install " + " ".join(self.install))
        if self.remove:
            parts.append("remove " + " ".join(self.remove))
        return "; ".join(parts) or "packages"

    def _install_cmd(self, names: Sequence[str]) -> List[str]:
        if self.manager == "apt":
            return ["apt-get", "install", "-y", "-q", "-o", "Dpkg::Options::=--force-confdef",
                    "-o", "Dpkg::Options::=--force-confold", *names]
        return [self.manager, "install", "-y", *names]

    def _remove_cmd(self, names: Sequence[str]) -> List[str]:
        if self.manager == "apt":
            return ["apt-get", "remove", "-y", "-q", *names]
        return [self.manager, "remove", "-y", *names]

    def commands(self) -> List[str]:
        cmds = []
        if self.debconf:
            cmds.append("debconf-set-selections <<'EOF'\n" + "\n".join(self.debconf) + "\nEOF")
        if self.install:
            cmds.append(quote_argv(self._install_cmd(self.install)))
        if self.remove:
            cmds.append(quote_argv(self._remove_cmd(self.remove)) + "   # only those installed")
        return cmds

    def preview(self, view: View) -> Preview:
        view.packages.update(self.install)
        return Preview(self.kind, self.describe(), commands=self.commands())

    def installed(self, ctx: ChangeContext, names: Sequence[str]) -> Set[str]:
        return installed_packages(ctx.executor, self.manager, names)

    def prepare(self, ctx: ChangeContext) -> Optional[Record]:
        have = self.installed(ctx, list(self.install) + list(self.remove))
        missing = [p for p in self.install if p not in have]
        present = [p for p in self.remove if p in have]
        if not missing and not present:
            return None
        return {"to_install": missing, "to_remove": present, "manager": self.manager}

    def commit(self, ctx: ChangeContext, rec: Record) -> None:
        ex = ctx.executor
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        if rec["to_install"] and "etc_before" not in rec and "etc_created" not in rec:
            # write-ahead: what /etc and the account files were before the install is saved
            # and journaled before apt/dnf starts (it creates files and accounts)
            rec["etc_before"] = ctx.backups.save(
                f"{ctx.key}-etc-before.json",
                json.dumps(etc_snapshot(ex), sort_keys=True).encode())
            rec["accounts_before"] = save_account_files(ctx)
            if self.manager == "apt":  # the undo purges exactly what the install pulled in
                rec["pkgs_before"] = ctx.backups.save(
                    f"{ctx.key}-packages-before.json",
                    json.dumps(sorted(all_installed_packages(ex))).encode())
            ctx.persist()
        to_install = list(rec["to_install"])
        to_remove = list(rec["to_remove"])
        # a killed run may have left apt/dnf running (it finishes on its own), or a timer
        # (unattended-upgrades, dnf-makecache) holds the lock: wait for it first
        wait_for_package_manager(ctx, rec["manager"])
        if rec.get("resumed"):
            # a killed run may have left dpkg half-configured: finish that, then do only
            # what is still missing
            if rec["manager"] == "apt":
                ex.run(["dpkg", "--configure", "-a"], env=env, timeout=1800)
            have = self.installed(ctx, to_install + to_remove)
            to_install = [p for p in to_install if p not in have]
            to_remove = [p for p in to_remove if p in have]
        if to_install:
            if self.manager == "apt":
                if self.debconf:
                    ex.run(["debconf-set-selections"], input="\n".join(self.debconf) + "\n",
                           check=True)
                upd = ex.run(["apt-get", "update", "-q"], env=env, timeout=900)
                if not upd.ok:
                    ctx.log("apt-get update failed; trying the install with the current lists")
            res = ex.run(self._install_cmd(to_install), env=env, timeout=1800)
            if not res.ok:
                raise CommandFailed(self._install_cmd(to_install), res.returncode,
                                    res.output[-3000:])
        if rec["to_install"] and "etc_before" in rec:
            _record_install_effects(ctx, rec)
        if to_remove:
            res = ex.run(self._remove_cmd(to_remove), env=env, timeout=1800)
            if not res.ok:
                raise CommandFailed(self._remove_cmd(to_remove), res.returncode,
                                    res.output[-3000:])

    @classmethod
    def took_effect(cls, ctx: ChangeContext, rec: Record) -> Optional[bool]:
        self = cls(rec["manager"])
        have = self.installed(ctx, list(rec.get("to_install") or []) +
                              list(rec.get("to_remove") or []))
        return (any(p in have for p in rec.get("to_install") or [])
                or any(p not in have for p in rec.get("to_remove") or []))

    @classmethod
    def undo_record(cls, ctx: ChangeContext, rec: Record, force: bool = False) -> List[str]:
        warnings = []
        ex = ctx.executor
        self = cls(rec["manager"])
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        wait_for_package_manager(ctx, rec["manager"])
        if rec.get("to_install") and "etc_created" not in rec and "etc_before" in rec:
            # interrupted before "done": compare with the write-ahead snapshot now
            _record_install_effects(ctx, rec)
        have = self.installed(ctx, list(rec.get("to_install") or []) +
                              list(rec.get("to_remove") or []))
        purge = [p for p in rec.get("to_install") or [] if p in have]
        if purge:
            warnings.extend(cls._stop_package_units(ex, {**rec, "to_install": purge}))
            cmd = (["apt-get", "purge", "-y", "-q", "--auto-remove", *purge]
                   if self.manager == "apt" else [self.manager, "remove", "-y", *purge])
            res = ex.run(cmd, env=env, timeout=1800)
            if not res.ok:
                warnings.append(f"could not remove {' '.join(purge)}: {res.output}")
        if purge and res.ok and rec.get("pulled_in"):
            warnings.extend(cls._purge_pulled_in(ex, rec, env))
        if rec.get("to_install") and (not purge or res.ok):
            warnings.extend(cls._remove_leftovers(ex, rec))
            warnings.extend(remove_added_accounts(ctx, rec))
        reinstall = [p for p in rec.get("to_remove") or [] if p not in have]
        if reinstall:
            res = ex.run(self._install_cmd(reinstall), env=env, timeout=1800)
            if not res.ok:
                warnings.append(f"could not reinstall {' '.join(reinstall)}")
        return warnings

    @staticmethod
    def _purge_pulled_in(ex: Executor, rec: Record, env: Dict[str, str]) -> List[str]:
        """What the install pulled in and ``--auto-remove`` kept (apt keeps a package some
        installed package merely recommends or suggests, as debconf suggests perl): purged
        too, but only when apt would remove nothing else with it (a program the admin
        installed since may need them)."""
        left = sorted(installed_packages(ex, "apt", rec["pulled_in"]))
        if not left:
            return []
        sim = ex.run(["apt-get", "-s", "purge", *left], env=env, quiet=True, timeout=300)
        would = {line.split()[1].split(":")[0] for line in sim.stdout.splitlines()
                 if line.startswith(("Purg ", "Remv "))}
        if not sim.ok or not would <= set(left):
            others = ", ".join(sorted(would - set(left))) or sim.output[-300:]
            return [f"kept {' '.join(left)}, which this run installed as dependencies: "
                    f"removing them would also remove {others}"]
        res = ex.run(["apt-get", "purge", "-y", "-q", *left], env=env, timeout=1800)
        return [] if res.ok else [f"could not remove {' '.join(left)}: {res.output[-300:]}"]

    @staticmethod
    def _stop_package_units(ex: Executor, rec: Record) -> List[str]:
        """Under systemd, stop the active services the packages about to be removed ship.

        Maintainer scripts usually do this, but Debian 13's postfix prerm does not: after the
        purge its master kept running from a unit file that no longer exists."""
        if service_manager(ex) != "systemd":
            return []
        names = list(rec["to_install"])
        res = ex.run(["dpkg-query", "-L", *names] if rec["manager"] == "apt"
                     else ["rpm", "-ql", *names], quiet=True, timeout=120)
        units = sorted({os.path.basename(line.strip()) for line in res.stdout.splitlines()
                        if re.fullmatch(r"(/usr)?/lib/systemd/system/[^/@]+\.service",
                                    line.strip())})
        active = [u for u in units if unit_active(ex, u)]
        if not active:
            return []
        stop = ex.run(["systemctl", "stop", *active], timeout=300)
        return [] if stop.ok else [f"could not stop {' '.join(active)}: {stop.output}"]

    @staticmethod
    def _remove_leftovers(ex: Executor, rec: Record) -> List[str]:
        """After the purge: delete what the install created under /etc and is still there
        unchanged and owned by no installed package. Changed files are kept (and named)."""
        created: Dict[str, str] = rec.get("etc_created") or {}
        present = {p: st for p in created if (st := _entry_state(str(ex.path(p)))) is not None}
        if not present:
            return []
        owned = _owned_by_packages(ex, rec["manager"], sorted(present))
        warnings = []
        for p in sorted(present, key=lambda x: (-x.count("/"), x)):
            if p in owned:
                continue
            if created[p] == "dir":
                if present[p] == "dir" and not ex.listdir(p):
                    ex.remove(p)
            elif present[p] == created[p]:
                ex.remove(p)
            else:
                warnings.append(f"{p} came with the packages and was changed since: kept")
        return warnings


    def shell_form(self, preview: Preview) -> ShellForm:
        """The package commands as apply runs them: with apt, the lists refreshed first,
        nothing already installed upgraded, and only installed packages removed. Like apply,
        the by-hand block first writes down which packages are missing, and the undo block
        removes exactly those (never a package the server had before)."""
        return ShellForm(do=tuple(self._note_missing() + self._shell_do(preview)),
                         undo=tuple(self._shell_undo()),
                         check=(("dpkg-query -W " if self.manager == "apt" else "rpm -q ")
                                + quote_argv(self.install),) if self.install else ())

    def _shell_do(self, preview: Preview) -> List[str]:
        if self.manager != "apt":
            return list(preview.commands)
        cmds: List[str] = []
        for c in preview.commands:
            if c.startswith("apt-get install"):
                cmds.append("apt-get update -q")
                # like apply, which installs only the missing ones: a package that is already
                # installed (ca-certificates, openssl) is not upgraded
                c += " --no-upgrade"
            if c.startswith("apt-get remove") and self.remove:
                # like apply: remove only those that are installed (apt-get remove fails on a
                # name the package sources do not know at all)
                cmds += ["# only those of them that are installed:",
                         "#   " + re.split(r"\s{2,}# ", c, maxsplit=1)[0],
                         "installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\\n' "
                         + quote_argv(self.remove)
                         + " 2>/dev/null | awk '$1 == \"ii\" {print $2}')",
                         "[ -z \"$installed\" ] || DEBIAN_FRONTEND=noninteractive apt-get "
                         "remove -y -q $installed"]
                continue
            if c.startswith("apt-get "):
                c = "DEBIAN_FRONTEND=noninteractive " + c
            cmds.append(c)
        return cmds

    def _list_file(self) -> str:
        """Where the by-hand install notes the packages it is about to add (one file per
        package list, so several package changes do not overwrite each other's)."""
        digest = (sha256(" ".join(sorted(self.install)).encode()) or "")[:12]
        return f"{RUNBOOK_DIR}/installed-packages-{digest}.txt"

    def _note_missing(self) -> List[str]:
        if not self.install:
            return []
        test = ("dpkg-query -W -f='${db:Status-Abbrev}' \"$p\" 2>/dev/null | grep -q '^ii'"
                if self.manager == "apt" else "rpm -q \"$p\" >/dev/null 2>&1")
        listing = shlex.quote(self._list_file())
        return [f"mkdir -p {shlex.quote(RUNBOOK_DIR)}",
                f"for p in {quote_argv(self.install)}; do {test} || echo \"$p\"; done"
                f" > {listing}   # the packages this block adds: the undo removes these only"]

    def _shell_undo(self) -> List[str]:
        out = []
        if self.install:
            listing = shlex.quote(self._list_file())
            remove = ("DEBIAN_FRONTEND=noninteractive apt-get purge -y -q" if
                      self.manager == "apt" else f"{self.manager} remove -y")
            # only the packages the install block found missing (it wrote them down)
            out += [f"added=$(cat {listing})",
                    f"[ -z \"$added\" ] || {remove} $added",
                    f"rm -f {listing}"]
        if self.remove:
            inst = "apt-get install -y" if self.manager == "apt" else (
                f"{self.manager} install -y")
            out.append(f"# {inst} {' '.join(self.remove)}   # those that were installed "
                       "before")
        return out
