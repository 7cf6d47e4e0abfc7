"""One fake target for the tests: a root directory, accounts, stock files, scripted commands.

Unit tests never touch this machine's /etc: they build a *target root* under a temporary
directory and let an executor work on it. This module is the one place that builds them:

- :func:`make_root`: a small system (``/etc/passwd`` and ``/etc/group``, optionally
  ``/etc/os-release``, a main.cf to edit, more users);
- :func:`stock_root`: a root with the files the platform's packages ship (``wizard/stock``),
  the daemons' accounts and two users, main.cf with an unusual mode;
- :class:`FakeTarget`: a root with commands answered by a script that has the side effects
  the real steps look for on their second run (firewall services, dpkg-statoverride, groups,
  postmap), and the facts to plan with;
- :func:`make_engine`: an :class:`~wizard.engine.Engine` over a root with fixed facts.

Import it as a plain module (``from fake_target import ...``), never through a conftest: a
whole-suite run would pick another directory's conftest.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set, Union

from wizard.answers import Answers, demo_answers_path, load_answers
from wizard.engine import Engine
from wizard.executor import Executor, FakeCommand, ScriptedExecutor
from wizard.platforms import STOCK_DIR, Platform, get_platform
from wizard.recipe import Facts, Recipe
from wizard.session import Session

DEMO_ANSWERS: Answers = load_answers(demo_answers_path())

ROOT_ACCOUNT = ("root:x:0:0:root:/root:/bin/bash", "root:x:0:")
DAEMON_PASSWD = ("postfix:x:101:101::/var/spool/postfix:/bin/false",)
DAEMON_GROUP = ("postfix:x:101:", "mail:x:12:postfix")


def passwd_line(name: str, uid: int, shell: str = "/bin/bash") -> str:
    """A user's /etc/passwd line (its own group, home in /home)."""
    return f"{name}:x:{uid}:{uid}::/home/{name}:{shell}"


def make_root(base: Path, users: Optional[Dict[str, int]] = None, *, daemons: bool = True,
              os_release: str = "", main_cf: Optional[str] = None) -> Path:
    """A minimal target root at ``base``: /etc/passwd and /etc/group with root, the postfix
    account and the mail group (``daemons``), then ``users`` (name -> uid, each with its own
    group); /etc/os-release when given; /etc/postfix/main.cf when given."""
    users = users or {}
    (base / "etc").mkdir(parents=True, exist_ok=True)
    passwd = [ROOT_ACCOUNT[0], *(DAEMON_PASSWD if daemons else ())]
    group = [ROOT_ACCOUNT[1], *(DAEMON_GROUP if daemons else ())]
    for name, uid in users.items():
        passwd.append(passwd_line(name, uid))
        group.append(f"{name}:x:{uid}:")
    (base / "etc/passwd").write_text("\n".join(passwd) + "\n")
    (base / "etc/group").write_text("\n".join(group) + "\n")
    if os_release:
        (base / "etc/os-release").write_text(os_release)
    if main_cf is not None:
        (base / "etc/postfix").mkdir(exist_ok=True)
        (base / "etc/postfix/main.cf").write_text(main_cf)
    return base


def debian12_root(base: Path) -> Path:
    """A root that says it is Debian 12, with root's account only (for the CLI)."""
    return make_root(base, daemons=False, os_release="ID=debian\nVERSION_ID=12\n")


STOCK_PASSWD = (
    "root:x:0:0:root:/root:/bin/bash\npostfix:x:101:101::/var/spool/postfix:/bin/false\n"
    "dovecot:x:102:102::/usr/lib/dovecot:/bin/false\n"
    "alice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/bash\n")
STOCK_GROUP = "root:x:0:\npostfix:x:101:\ndovecot:x:102:\nsasl:x:45:\nalice:x:1000:\nbob:x:1001:\n"


def stock_root(base: Path, platform: Platform) -> Path:
    """``base/root`` with the platform's stock /etc, the daemons' accounts, alice and bob;
    main.cf is 0640 (an unusual mode a rollback must bring back too)."""
    root = base / "root"
    shutil.copytree(STOCK_DIR / platform.stock / "etc", root / "etc")
    (root / "etc/passwd").write_text(STOCK_PASSWD)
    (root / "etc/group").write_text(STOCK_GROUP)
    os.chmod(root / "etc/postfix/main.cf", 0o640)
    return root


Script = Dict[str, object]
Answer = Callable[[List[str], ScriptedExecutor], FakeCommand]


class FakeTarget:
    """Scripted answers with the side effects the steps look for on the second run."""

    def __init__(self, root: Path, platform: Optional[Platform] = None) -> None:
        self.root = root
        self.platform = platform
        self.fw_perm: Set[str] = set()
        self.fw_run: Set[str] = set()
        self.overrides: Set[str] = set()
        self.calls: List[List[str]] = []
        self.fail: Dict[str, int] = {}
        """Exit status of ``postfix check`` / ``doveconf -n`` by program name (0: fine)."""

    @classmethod
    def stock(cls, base: Path, platform: Union[str, Platform]) -> FakeTarget:
        """A fake target on a :func:`stock_root` of ``platform``."""
        p = get_platform(platform) if isinstance(platform, str) else platform
        return cls(stock_root(base, p), p)

    def executor(self, extra: Optional[Script] = None) -> ScriptedExecutor:
        """An executor over the root answering from :meth:`script` (and ``extra``, which
        wins where both know a command)."""
        return ScriptedExecutor(self.root, script={**self.script(), **(extra or {})})

    def facts(self, firewall: Optional[str] = None,
              service_manager: str = "direct") -> Facts:
        """Facts as the steps would find them here (SELinux enforcing on EL platforms)."""
        return Facts(service_manager=service_manager, firewall=firewall,
                     selinux_enforcing=bool(self.platform and self.platform.is_el))

    def script(self) -> Script:
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


def dpkg_query(installed: Set[str]) -> Answer:
    """``dpkg-query -W -f ... NAME...`` answered from the set ``installed``."""

    def query(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
        return FakeCommand(0, "".join(f"{n} ii \n" for n in argv[4:] if n in installed))

    return query


def make_engine(root: Path, session: Optional[Session], recipes: Sequence[Recipe],
                ex: Optional[Executor] = None, events: Optional[list] = None, *,
                platform: str = "debian12", answers: Optional[Answers] = None,
                facts: Optional[Facts] = None) -> Engine:
    """An engine for ``recipes`` over ``root`` (commands on the host unless ``ex`` is given),
    with the demo answers and empty facts unless told otherwise; ``events`` collects the
    engine's events."""
    return Engine(answers or DEMO_ANSWERS, get_platform(platform),
                  ex or Executor(root, host_commands=True), session=session,
                  recipes=recipes, facts=facts or Facts(),
                  on_event=events.append if events is not None else None)
