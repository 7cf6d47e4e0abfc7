"""The rehearsal's stand-in for the commands of a server: what they would have answered.

In a rehearsal no command runs. :class:`SimulatedSystem` answers each one the way the system
would after the command succeeded, so that the steps can go on exactly as on a real server:

- package queries (``dpkg-query``, ``rpm``) from the set of packages "installed" so far,
  which ``apt-get``/``dnf``/``yum`` install and remove change;
- ``systemctl is-active``/``is-enabled`` from the units started and enabled so far;
- the account tools (``useradd``, ``groupadd``, ``usermod -a -G``, ``gpasswd -d``,
  ``userdel``, ``groupdel``) edit the scratch root's ``/etc/passwd`` and ``/etc/group`` for
  real (through the executor: never outside the scratch root), so later steps find the
  accounts and a rollback restores the files byte for byte;
- the configuration checkers run before a reload (``postfix check``, ``doveconf -n``,
  ``opendkim -n``)
  report no problem, and the version queries answer the platform profile's versions;
- any other command succeeds; any other *probe* (a quiet query, such as an ``unless``
  check) answers "not yet", as in a dry run, so every change shows.

The state (packages, units) is kept in a JSON file next to the scratch root, rewritten after
each change, so a rehearsal stopped half way resumes with the system as it left it. Whatever
answers a check needs from a running daemon is never made up here: see
:meth:`wizard.executor.rehearsal.RehearsalExecutor.checking`.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set

from ..platforms import Platform
from .process import CommandResult

BINARIES: Dict[str, str] = {
    **{name: "postfix" for name in ("postconf", "postfix", "postmap", "postalias",
                                    "postqueue", "postsuper", "newaliases")},
    **{name: "dovecot" for name in ("dovecot", "doveconf", "doveadm")},
    "firewall-cmd": "firewalld",
    "ufw": "ufw",
    "opendkim": "opendkim",
}
"""Programs that exist only once a package providing them is installed (the value is a
prefix of the package names that provide it: ``dovecot`` for ``dovecot-core``)."""

PACKAGE_ACCOUNTS: Dict[str, str] = {"opendkim": "opendkim", "postgrey": "postgrey"}
"""Packages whose install creates a system account (user and group) of this name, as their
maintainer scripts do (the mail daemons' accounts come with the stock files already)."""

CHECKERS = (["postfix", "check"], ["doveconf", "-n"], ["opendkim", "-n"])
"""Configuration checkers run before a reload: in a rehearsal they find nothing wrong."""

_UNIT_VERBS = ("start", "stop", "restart", "reload", "reload-or-restart", "try-restart",
               "enable", "disable")


class SimulatedSystem:
    """What the commands of the rehearsed server would answer (see the module docstring).

    Args:
        platform: the rehearsed platform (package tool, versions, firewall).
        path: the JSON file that keeps the state between runs (None: in memory only).
    """

    def __init__(self, platform: Platform, path: Optional[Path] = None) -> None:
        self.platform = platform
        self.path = path
        self.packages: Set[str] = set(self.initial_packages(platform))
        self.active: Set[str] = set()
        self.enabled: Set[str] = set()
        self.firewall_services: Set[str] = set()
        self._accounts: Optional[Callable[[List[str]], int]] = None
        if path is not None and path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            self.packages = set(data.get("packages", []))
            self.active = set(data.get("active", []))
            self.enabled = set(data.get("enabled", []))
            self.firewall_services = set(data.get("firewall_services", []))

    @staticmethod
    def initial_packages(platform: Platform) -> List[str]:
        """A fresh server: the TLS basics and the platform's usual firewall, no mail
        software."""
        base = ["openssl", "ca-certificates"]
        if platform.firewall:
            base.append(platform.firewall)
        return base

    def save(self) -> None:
        if self.path is None:
            return
        data = {"platform": self.platform.id, "packages": sorted(self.packages),
                "active": sorted(self.active), "enabled": sorted(self.enabled),
                "firewall_services": sorted(self.firewall_services)}
        fd, tmp = tempfile.mkstemp(prefix=".system-", dir=str(self.path.parent))
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, self.path)

    # ------------------------------------------------------------------ programs
    def has_program(self, name: str) -> bool:
        """Whether ``name`` is on the rehearsed server (mail programs only once installed)."""
        pkg = BINARIES.get(name)
        return pkg is None or any(p == pkg or p.startswith(pkg) for p in self.packages)

    # ------------------------------------------------------------------ answers
    def answer(self, argv: Sequence[str], quiet: bool,
               accounts: Callable[[List[str]], int]) -> CommandResult:
        """What ``argv`` would have answered; ``accounts`` applies an account tool to the
        scratch root (returns its exit status)."""
        argv = list(argv)
        self._accounts = accounts
        prog = argv[0] if argv else ""
        if prog and not self.has_program(os.path.basename(prog)):
            return CommandResult(argv, 127, "", f"{prog}: command not found")
        handler = {
            "dpkg-query": self._dpkg_query, "rpm": self._rpm, "apt-get": self._packages,
            "dnf": self._packages, "yum": self._packages, "systemctl": self._systemctl,
            "postconf": self._postconf, "dovecot": self._dovecot,
            "firewall-cmd": self._firewall_cmd, "ufw": self._ufw,
        }.get(prog)
        if prog in ("useradd", "groupadd", "usermod", "gpasswd", "userdel", "groupdel"):
            code = accounts(argv)
            return CommandResult(argv, code, "", "" if code == 0 else "no such account")
        if prog == "chpasswd":  # quiet (its input is a password), yet a change, not a probe
            return CommandResult(argv, 0, "", "")
        if handler is not None:
            res = handler(argv, quiet)
            if res is not None:
                return res
        # any other probe says "not yet" (every change shows); any other command succeeds
        return CommandResult(argv, 1 if quiet and not self._checker(argv) else 0, "", "")

    @staticmethod
    def _checker(argv: List[str]) -> bool:
        """``postfix check``, ``doveconf -n`` and ``opendkim -n``: run before a reload or
        restart; nothing to report."""
        return argv[:2] in CHECKERS

    def _names(self, argv: List[str]) -> List[str]:
        out, skip = [], False
        for a in argv[2:]:
            if skip:
                skip = False
            elif a == "-o":
                skip = True
            elif not a.startswith("-"):
                out.append(a)
        return out

    def _packages(self, argv: List[str], quiet: bool) -> Optional[CommandResult]:
        verb = argv[1] if len(argv) > 1 else ""
        if verb == "install":
            names = self._names(argv)
            self.packages.update(names)
            for name in names:  # the package's maintainer script adds its account
                account = PACKAGE_ACCOUNTS.get(name)
                if account is not None and self._accounts is not None:
                    self._accounts(["useradd", "-r", "-s", "/sbin/nologin", account])
        elif verb in ("remove", "purge", "erase"):
            self.packages.difference_update(self._names(argv))
        else:
            return None
        self.save()
        return CommandResult(argv, 0, "", "")

    def _dpkg_query(self, argv: List[str], quiet: bool) -> CommandResult:
        if len(argv) > 1 and argv[1] == "-W":
            names = [a for a in argv[2:] if not a.startswith("-") and "$" not in a]
            have = [n for n in names if n in self.packages]
            out = "".join(f"{n} ii \n" for n in have)
            return CommandResult(argv, 0 if len(have) == len(names) else 1, out, "")
        return CommandResult(argv, 1, "", "")  # -S, -L: nothing is owned or listed

    def _rpm(self, argv: List[str], quiet: bool) -> CommandResult:
        if len(argv) > 1 and argv[1] == "-q":
            names, skip = [], False
            for a in argv[2:]:
                if skip:
                    skip = False
                elif a == "--qf":
                    skip = True
                elif not a.startswith("-"):
                    names.append(a)
            lines = [n if n in self.packages else f"package {n} is not installed"
                     for n in names]
            ok = all(n in self.packages for n in names)
            return CommandResult(argv, 0 if ok else 1, "".join(f"{x}\n" for x in lines), "")
        if len(argv) > 1 and argv[1] == "-qf":
            files = [a for a in argv[2:] if a.startswith("/")]
            return CommandResult(argv, 1, "".join(f"file {f} is not owned by any package\n"
                                                  for f in files), "")
        return CommandResult(argv, 0, "", "")

    def _systemctl(self, argv: List[str], quiet: bool) -> Optional[CommandResult]:
        args = [a for a in argv[1:] if not a.startswith("-")]
        if not args:
            return None
        verb, units = args[0], args[1:]
        if verb == "is-active":
            return CommandResult(argv, 0 if all(u in self.active for u in units) else 3,
                                 "", "")
        if verb == "is-enabled":
            return CommandResult(argv, 0 if all(u in self.enabled for u in units) else 1,
                                 "", "")
        if verb not in _UNIT_VERBS:
            return None
        for unit in units:
            if verb == "stop":
                self.active.discard(unit)
            elif verb == "disable":
                self.enabled.discard(unit)
            elif verb == "enable":
                self.enabled.add(unit)
            elif verb != "try-restart" or unit in self.active:
                self.active.add(unit)
        self.save()
        return CommandResult(argv, 0, "", "")

    def _postconf(self, argv: List[str], quiet: bool) -> Optional[CommandResult]:
        if len(argv) > 1 and argv[1] == "-dh":  # the facts: version and map type
            values = {"mail_version": ".".join(map(str, self.platform.postfix_version)),
                      "default_database_type": self.platform.default_database_type}
            lines = [values.get(k, "") for k in argv[2:]]
            return CommandResult(argv, 0, "".join(f"{x}\n" for x in lines), "")
        return None

    def _dovecot(self, argv: List[str], quiet: bool) -> Optional[CommandResult]:
        if argv[1:] == ["--version"]:
            version = ".".join(map(str, self.platform.dovecot_version))
            return CommandResult(argv, 0, f"{version} (rehearsal)\n", "")
        return None

    def _firewall_cmd(self, argv: List[str], quiet: bool) -> Optional[CommandResult]:
        if argv[1:] == ["--state"]:
            return CommandResult(argv, 0, "running\n", "")
        if len(argv) == 3 and argv[1] == "--permanent":
            flag, _, name = argv[2].partition("=")
            if flag == "--query-service":
                return CommandResult(argv, 0 if name in self.firewall_services else 1, "", "")
            if flag == "--add-service":
                self.firewall_services.add(name)
            elif flag == "--remove-service":
                self.firewall_services.discard(name)
            else:
                return None
            self.save()
            return CommandResult(argv, 0, "", "")
        return None

    def _ufw(self, argv: List[str], quiet: bool) -> Optional[CommandResult]:
        if argv[1:] == ["status"]:
            return CommandResult(argv, 0, "Status: active\n", "")
        return None
