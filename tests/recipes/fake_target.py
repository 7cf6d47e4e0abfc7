"""Emulated targets of the recipe tests: a temporary root whose system commands (package
manager, accounts, postmap, services...) are answered with their effect on the files.

``FakeSystem`` serves steps 1-6, ``FakeTarget`` steps 7-13 (and the crash tests).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Dict, List, Set

from recipe_plans import STOCK

from recipes._postfix import map_ext
from wizard import confedit
from wizard.executor import Executor, FakeCommand, ScriptedExecutor
from wizard.platforms import STOCK_DIR, Platform, get_platform


class FakeSystem:
    """Emulates the commands the recipes run, with their effect on the temp root."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.installed: Set[str] = set()
        self.mta_alternative = False
        self.passwords: List[str] = []
        self.ran: List[List[str]] = []

    # helpers ------------------------------------------------------------
    @staticmethod
    def _append(ex: Executor, path: str, line: str) -> None:
        p = ex.path(path)
        p.write_text(p.read_text() + line)

    @staticmethod
    def _drop(ex: Executor, path: str, prefix: str) -> None:
        p = ex.path(path)
        p.write_text("".join(ln for ln in p.read_text().splitlines(keepends=True)
                             if not ln.startswith(prefix)))

    @staticmethod
    def build(ex: Executor, source: str, output: str) -> None:
        """A stand-in for an indexed table: records which source content it was built from."""
        data = ex.path(source).read_bytes()
        ex.path(output).write_text("built from " + hashlib.sha256(data).hexdigest() + "\n")

    # commands -----------------------------------------------------------
    def query(self, argv: List[str], ex: Executor) -> FakeCommand:
        names = [a for a in argv[3:] if not a.startswith("$") and "%" not in a]
        have = [n for n in names if n in self.installed]
        if argv[0] == "dpkg-query":
            return FakeCommand(0 if have else 1, "".join(f"{n} ii \n" for n in have))
        return FakeCommand(0, "".join(f"{n}\n" for n in have))

    def install(self, argv: List[str], ex: Executor) -> FakeCommand:
        self.installed.update(a for a in argv[2:] if not a.startswith("-") and "::" not in a)
        return FakeCommand(0)

    def uninstall(self, argv: List[str], ex: Executor) -> FakeCommand:
        self.installed.difference_update(argv[2:])
        return FakeCommand(0)

    def useradd(self, argv: List[str], ex: Executor) -> FakeCommand:
        name = argv[-1]
        uid = 1000 + len(ex.users())
        self._append(ex, "/etc/passwd", f"{name}:x:{uid}:{uid}::/home/{name}:/bin/bash\n")
        self._append(ex, "/etc/group", f"{name}:x:{uid}:\n")
        home = ex.path(f"/home/{name}")
        shutil.copytree(ex.path("/etc/skel"), home)
        for d, dirs, files in os.walk(home):
            for n in [d, *(os.path.join(d, x) for x in dirs + files)]:
                os.chown(n, uid, uid)
        home.chmod(0o700)
        return FakeCommand(0)

    def userdel(self, argv: List[str], ex: Executor) -> FakeCommand:
        name = argv[-1]
        self._drop(ex, "/etc/passwd", f"{name}:")
        self._drop(ex, "/etc/group", f"{name}:")
        shutil.rmtree(ex.path(f"/home/{name}"))
        return FakeCommand(0)

    def newaliases(self, argv: List[str], ex: Executor) -> FakeCommand:
        db = confedit.read_main_cf(ex.read_text("/etc/postfix/main.cf"))[
            "alias_database"].split(":")[0]
        self.build(ex, "/etc/aliases", "/etc/aliases" + map_ext(db))
        return FakeCommand(0)

    def postmap(self, argv: List[str], ex: Executor) -> FakeCommand:
        db, path = argv[-1].split(":", 1)
        self.build(ex, path, path + map_ext(db))
        return FakeCommand(0)

    def rm(self, argv: List[str], ex: Executor) -> FakeCommand:
        for a in argv[1:]:
            if not a.startswith("-"):
                ex.remove(a)
        return FakeCommand(0)

    def test(self, argv: List[str], ex: Executor) -> FakeCommand:
        if argv[1] == "-e":
            return FakeCommand(0 if ex.exists(argv[2]) else 1)
        return FakeCommand(0 if self.mta_alternative else 1)  # test LINK -ef TARGET

    def alternatives(self, argv: List[str], ex: Executor) -> FakeCommand:
        self.mta_alternative = True
        return FakeCommand(0)

    def chpasswd(self, argv: List[str], ex: Executor) -> FakeCommand:  # pragma: no cover
        return FakeCommand(0)

    def executor(self, root: Path) -> ScriptedExecutor:
        fs = self

        def rec(fn):
            def inner(argv, ex):
                fs.ran.append(list(argv))
                return fn(argv, ex)
            return inner

        script = {
            "dpkg-query": rec(self.query), "rpm -q": rec(self.query),
            "apt-get install": rec(self.install), "dnf install": rec(self.install),
            "yum install": rec(self.install), "apt-get purge": rec(self.uninstall),
            "dnf remove": rec(self.uninstall), "yum remove": rec(self.uninstall),
            "useradd": rec(self.useradd), "userdel": rec(self.userdel),
            "newaliases": rec(self.newaliases), "postmap": rec(self.postmap),
            "rm": rec(self.rm), "test": rec(self.test), "alternatives": rec(self.alternatives),
        }
        return ScriptedExecutor(root, script)


def make_target(tmp_path: Path, pid: str, selinux: bool = False) -> Path:
    root = tmp_path / "root"
    shutil.copytree(STOCK_DIR / get_platform(pid).stock, root)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n"
                                     "postfix:x:89:89::/var/spool/postfix:/sbin/nologin\n")
    (root / "etc/group").write_text("root:x:0:\npostfix:x:89:\nmail:x:12:postfix\n")
    for d in ("etc/skel", "home", "var"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "etc/skel/.bashrc").write_text("# bashrc\n")
    if selinux:
        (root / "sys/fs/selinux").mkdir(parents=True)
        (root / "sys/fs/selinux/enforce").write_text("1\n")
    return root


class FakeTarget:
    """Scripted answers with the side effects the steps look for on the second run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fw_perm: Set[str] = set()
        self.fw_run: Set[str] = set()
        self.overrides: Set[str] = set()
        self.calls: List[List[str]] = []
        self.fail: Dict[str, int] = {}

    def script(self) -> Dict[str, object]:
        def rc(ok: bool) -> FakeCommand:
            return FakeCommand(0 if ok else 1)

        def postmap(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            db, _, src = argv[1].partition(":")
            suffix = ".lmdb" if db == "lmdb" else ".db"
            (self.root / (src.lstrip("/") + suffix)).write_bytes(b"map")
            return FakeCommand()

        def rm(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            for t in argv[2:]:
                ex.remove(t)
            return FakeCommand()

        def svc_arg(argv: List[str]) -> str:
            return argv[-1].split("=", 1)[1]

        def fw_add(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            self.fw_perm.add(svc_arg(argv))
            return FakeCommand()

        def fw_undo(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            name = argv[2].split("--remove-service=")[1].split()[0]
            self.fw_perm.discard(name)
            self.fw_run.discard(name)
            return FakeCommand()

        def fw_runtime_all(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            names = [x.split("=")[1] for x in argv[2].split() if "--query-service=" in x]
            return rc(all(n in self.fw_run for n in names))

        def fw_reload(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            self.fw_run = set(self.fw_perm)
            return FakeCommand()

        def group_edit(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            # usermod -a -G GROUP USER  /  gpasswd -d USER GROUP
            if argv[0] == "usermod":
                group, user, add = argv[3], argv[4], True
            else:
                user, group, add = argv[2], argv[3], False
            path = self.root / "etc/group"
            lines = []
            for line in path.read_text().splitlines():
                f = line.split(":")
                if f[0] == group:
                    members = [m for m in f[3].split(",") if m]
                    members = members + [user] if add else [m for m in members if m != user]
                    line = ":".join(f[:3] + [",".join(members)])
                lines.append(line)
            path.write_text("\n".join(lines) + "\n")
            return FakeCommand()

        def groupadd(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            path = self.root / "etc/group"
            lines = path.read_text().splitlines()
            if argv[0] == "groupadd":
                lines.append(f"{argv[-1]}:x:990:")
            else:
                lines = [x for x in lines if not x.startswith(argv[-1] + ":")]
            path.write_text("\n".join(lines) + "\n")
            return FakeCommand()

        def statoverride(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            if argv[1] == "--list":
                return rc(argv[2] in self.overrides)
            if argv[1] == "--add":
                self.overrides.add(argv[-1])
            else:
                self.overrides.discard(argv[-1])
            return FakeCommand()

        def check(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
            return FakeCommand(self.fail.get(argv[0], 0), "", "fatal: broken" if
                               self.fail.get(argv[0]) else "")

        return {
            "postmap": postmap, "rm -f": rm,
            "firewall-cmd --permanent --add-service": fw_add,
            "firewall-cmd --permanent --query-service": lambda a, e: rc(
                svc_arg(a) in self.fw_perm),
            "sh -c firewall-cmd --permanent --remove-service": fw_undo,
            "sh -c firewall-cmd --query-service": fw_runtime_all,
            "firewall-cmd --reload": fw_reload,
            "usermod -a -G": group_edit, "gpasswd -d": group_edit,
            "dpkg-statoverride": statoverride,
            "groupadd": groupadd, "groupdel": groupadd,
            "postfix check": check, "doveconf -n": check,
        }


def stock_root(base: Path, platform: Platform) -> Path:
    root = base / "root"
    shutil.copytree(STOCK / platform.stock / "etc", root / "etc")
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\npostfix:x:101:101::/var/spool/postfix:/bin/false\n"
        "dovecot:x:102:102::/usr/lib/dovecot:/bin/false\n"
        "alice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/bash\n")
    (root / "etc/group").write_text(
        "root:x:0:\npostfix:x:101:\ndovecot:x:102:\nsasl:x:45:\nalice:x:1000:\nbob:x:1001:\n")
    os.chmod(root / "etc/postfix/main.cf", 0o640)  # an unusual mode must come back too
    return root
