"""The emulated system of steps 1-6 (preflight ... aliases): a stock root whose package
manager, account and map commands are answered with their effect on the files.

Steps 7-13 use the shared :class:`FakeTarget` of ``tests/fake_target.py``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import List, Set

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
        shell = argv[argv.index("-s") + 1] if "-s" in argv else "/bin/sh"  # useradd's -s
        self._append(ex, "/etc/passwd", f"{name}:x:{uid}:{uid}::/home/{name}:{shell}\n")
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


