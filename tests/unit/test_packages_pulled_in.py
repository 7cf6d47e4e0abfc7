"""The package undo on apt: what the install pulled in as dependencies and ``--auto-remove``
keeps (apt keeps a package another one merely suggests, as debconf suggests perl) is purged
too, but only when apt would remove nothing else with it."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Set

from wizard.changes import packages as pk
from wizard.executor import FakeCommand, ScriptedExecutor


class Dpkg:
    """A package database the scripted apt-get changes (the commands a rollback runs)."""

    def __init__(self, installed: Set[str], also_removes: Dict[str, List[str]]) -> None:
        self.installed = set(installed)
        self.also_removes = also_removes  # package -> what apt would remove with it
        self.purged: List[List[str]] = []

    def query(self, argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
        names = [a for a in argv[4:]] or sorted(self.installed)
        return FakeCommand(0, "".join(f"{n} ii \n" for n in names if n in self.installed))

    def purge(self, argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
        names = [a for a in argv if not a.startswith("-") and a not in ("apt-get", "purge")]
        if "-s" in argv:
            out = "".join(f"Purg {n} [1.0]\n" for n in names)
            out += "".join(f"Purg {o} [1.0]\n" for n in names for o in self.also_removes.get(n, []))
            return FakeCommand(0, out)
        self.purged.append(names)
        self.installed -= set(names)
        return FakeCommand(0, "")


def _undo(tmp_path: Path, db: Dpkg) -> List[str]:
    ex = ScriptedExecutor(tmp_path, script={"dpkg-query -W": db.query, "apt-get": db.purge})
    rec = {"manager": "apt", "to_install": ["opendkim"], "to_remove": [],
           "pulled_in": ["perl", "perl-modules-5.36", "netbase"]}
    return pk.Packages._purge_pulled_in(ex, rec, {})


def test_kept_dependencies_are_purged(tmp_path: Path) -> None:
    db = Dpkg({"perl", "perl-modules-5.36", "netbase", "debconf"}, {})
    assert _undo(tmp_path, db) == []
    assert db.purged == [["netbase", "perl", "perl-modules-5.36"]]
    assert db.installed == {"debconf"}


def test_dependencies_another_program_now_needs_are_kept(tmp_path: Path) -> None:
    # the admin installed a perl program since: apt would remove it with perl
    db = Dpkg({"perl", "perl-modules-5.36", "netbase", "admins-tool"},
              {"perl": ["admins-tool"]})
    warnings = _undo(tmp_path, db)
    assert db.purged == [] and "admins-tool" in db.installed
    assert len(warnings) == 1 and "admins-tool" in warnings[0] and "kept" in warnings[0]


def test_nothing_left_nothing_run(tmp_path: Path) -> None:
    db = Dpkg({"debconf"}, {})
    assert _undo(tmp_path, db) == [] and db.purged == []
