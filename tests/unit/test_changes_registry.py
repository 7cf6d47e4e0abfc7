"""The journal's registry: one list of journaled change types, and every one of them undoes
from its record alone after the record went through the journal's format."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import pytest
import yaml
from treeutil import snapshot_tree

import recipes  # noqa: F401  (every change class a recipe could use is loaded)
from wizard import changes as ch
from wizard.changes.edits import _EditChange
from wizard.confedit import MasterEntry
from wizard.executor import Executor, FakeCommand, ScriptedExecutor
from wizard.platforms import get_platform
from wizard.secret import Secret

PLATFORM = get_platform("debian13")
ABSTRACT = {ch.FileChange, _EditChange}
"""Bases that are never planned themselves."""


def all_change_classes() -> Set[type]:
    out: Set[type] = set()
    todo: List[type] = [ch.Change]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in out and sub.__module__.startswith(("wizard.", "recipes.")):
                out.add(sub)
                todo.append(sub)
    return out


def test_the_registry_is_the_one_list_and_holds_every_journaled_class() -> None:
    assert ch.CHANGE_TYPES == {cls.__name__: cls for cls in ch.JOURNALED}
    concrete = all_change_classes() - ABSTRACT
    journaled = {c for c in concrete if c.journaled}
    assert {ch.journal_type(c) for c in journaled} == set(ch.CHANGE_TYPES)
    assert {c for c in concrete if not c.journaled} == {ch.Note, ch.Validate}
    for cls in ABSTRACT:
        with pytest.raises(TypeError, match="derives from no registered change type"):
            ch.journal_type(cls)


def test_a_change_that_never_journals_answers_without_raising() -> None:
    """Matching an interrupted run's journal to a new plan asks every planned change for its
    journal type: a check or a note answers "" (no entry can have it) instead of raising."""
    assert ch.journal_type(ch.Validate(["postfix", "check"])) == ""
    assert ch.journal_type(ch.Note("nothing to do")) == ""
    with pytest.raises(TypeError, match="never makes a journal entry"):
        ch.register(ch.Validate)


def test_a_type_is_registered_once_and_an_editor_belongs_to_one_type() -> None:
    with pytest.raises(TypeError, match="registered twice"):
        ch.register(type("FileWrite", (ch.FileWrite,), {}))
    with pytest.raises(TypeError, match="belongs to PostfixParams"):
        ch.register(type("OtherMainCf", (ch.PostfixParams,), {}))
    assert "OtherMainCf" not in ch.CHANGE_TYPES


def test_older_journal_names_map_to_registered_types() -> None:
    types = ch.change_types()
    for old, new in ch.LEGACY_TYPES.items():
        assert types[old] is ch.CHANGE_TYPES[new]


# --------------------------------------------------------------------------- round trips
Example = Tuple[Executor, ch.Change, Callable[[], Any], Optional[Callable[[], None]]]
"""(executor, change, probe of the state undo must restore, what runs after the change)."""


def _write(root: Path, rel: str, data: bytes) -> None:
    p = root / rel.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)


def _files(root: Path, change: ch.Change, seed: Dict[str, bytes] = None,  # type: ignore[assignment]
           after: Optional[Callable[[], None]] = None) -> Example:
    for rel, data in (seed or {}).items():
        _write(root, rel, data)
    return Executor(root, host_commands=True), change, lambda: snapshot_tree(root), after


def _packages(root: Path) -> Example:
    installed = {"postfix"}

    def query(argv: List[str], ex: Executor) -> FakeCommand:
        return FakeCommand(0, "".join(f"{n} ii \n" for n in argv[4:] if n in installed))

    def install(argv: List[str], ex: Executor) -> FakeCommand:
        installed.add(argv[-1])
        return FakeCommand(0)

    def purge(argv: List[str], ex: Executor) -> FakeCommand:
        installed.difference_update(argv[5:])
        return FakeCommand(0)

    ex = ScriptedExecutor(root, {"dpkg-query -W": query, "apt-get install": install,
                                 "apt-get purge": purge, "dpkg-query -S": FakeCommand(1)})
    return (ex, ch.Packages("apt", install=["dovecot-core"]),
            lambda: (sorted(installed), snapshot_tree(root)), None)


def _service(root: Path) -> Example:
    state = {"running": False}

    def set_to(value: bool) -> Callable[[List[str], Executor], FakeCommand]:
        def answer(argv: List[str], ex: Executor) -> FakeCommand:
            state["running"] = value
            return FakeCommand(0)
        return answer

    ex = ScriptedExecutor(root, {
        "postfix status": lambda argv, ex: FakeCommand(0 if state["running"] else 1),
        "postfix start": set_to(True), "postfix stop": set_to(False)})
    return ex, ch.Service("postfix", action="reload"), lambda: dict(state), None


def _user(root: Path) -> Example:
    def useradd(argv: List[str], ex: Executor) -> FakeCommand:
        with open(ex.path("/etc/passwd"), "a") as fh:
            fh.write(f"{argv[-1]}:x:1500:1500::/home/{argv[-1]}:/bin/bash\n")
        return FakeCommand(0)

    def userdel(argv: List[str], ex: Executor) -> FakeCommand:
        p = ex.path("/etc/passwd")
        lines = p.read_text().splitlines(keepends=True)
        p.write_text("".join(x for x in lines if not x.startswith(argv[-1] + ":")))
        return FakeCommand(0)

    ex = ScriptedExecutor(root, {"useradd": useradd, "userdel": userdel})
    return ex, ch.UserGroup(user="carol"), lambda: snapshot_tree(root), None


def _password(root: Path) -> Example:
    (root / "etc/shadow").write_text("alice:!:19000::::::\n")

    def chpasswd(argv: List[str], ex: Executor) -> FakeCommand:
        ex.path("/etc/shadow").write_text("alice:$y$new:19001::::::\n")
        return FakeCommand(0)

    ex = ScriptedExecutor(root, {"chpasswd": chpasswd})
    return ex, ch.SetPassword("alice"), lambda: snapshot_tree(root), None


def _remove_user(root: Path) -> Example:
    """userdel -r: the account and its home with the mail go; undo brings both back."""
    (root / "home/alice/Maildir/new").mkdir(parents=True)
    (root / "home/alice/Maildir/new/1.msg").write_bytes(b"mail\n")

    def userdel(argv: List[str], ex: Executor) -> FakeCommand:
        p = ex.path("/etc/passwd")
        lines = p.read_text().splitlines(keepends=True)
        p.write_text("".join(x for x in lines if not x.startswith(argv[-1] + ":")))
        if "-r" in argv:
            shutil.rmtree(ex.path("/home/alice"))
        return FakeCommand(0)

    ex = ScriptedExecutor(root, {"userdel": userdel})
    return (ex, ch.RemoveUser("alice", "/home/alice", delete_mail=True),
            lambda: snapshot_tree(root), None)


DOVECOT = "/etc/dovecot/conf.d/10-ssl.conf"
EXAMPLES: Dict[str, Callable[[Path], Example]] = {
    "FileWrite": lambda r: _files(r, ch.FileWrite("/etc/postfix/virtual", "a@b c\n", mode=0o640),
                                  {"/etc/postfix/virtual": b"old\n"}),
    "GeneratedFile": lambda r: _files(r, ch.GeneratedFile("/etc/ssl/k.pem", lambda: "KEY\n",
                                                          "(a key)", mode=0o600)),
    "Snapshot": lambda r: _files(r, ch.Snapshot("/etc/aliases.db"),
                                 {"/etc/aliases.db": b"\x00db"},
                                 after=lambda: _write(r, "/etc/aliases.db", b"\x01rebuilt")),
    "Directory": lambda r: _files(r, ch.Directory("/srv/mail/x", 0o700)),
    "PostfixParams": lambda r: _files(r, ch.PostfixParams({"myhostname": "mx.example.org"}),
                                      {"/etc/postfix/main.cf": b"myhostname = old\n"}),
    "MasterService": lambda r: _files(
        r, ch.MasterService([MasterEntry("submission", "inet", chroot="n")]),
        {"/etc/postfix/master.cf": b"smtp inet n - n - - smtpd\n"}),
    "DovecotSettings": lambda r: _files(r, ch.DovecotSettings(DOVECOT, {"ssl": "required"}),
                                        {DOVECOT: b"ssl = yes\n"}),
    "ShellVars": lambda r: _files(r, ch.ShellVars("/etc/default/saslauthd", {"START": "yes"}),
                                  {"/etc/default/saslauthd": b"START=no\n"}),
    "AliasEntries": lambda r: _files(r, ch.AliasEntries({"root": ["alice"]}),
                                     {"/etc/aliases": b"postmaster: root\n"}),
    "Command": lambda r: _files(r, ch.Command(["sh", "-c", 'echo hi > "$MW_ROOT/made"'],
                                              undo=["sh", "-c", 'rm "$MW_ROOT/made"'],
                                              creates="/made")),
    "Packages": _packages,
    "Service": _service,
    "UserGroup": _user,
    "SetPassword": _password,
    "RemoveUser": _remove_user,
}


def test_every_registered_type_has_a_round_trip_example() -> None:
    assert set(EXAMPLES) == set(ch.CHANGE_TYPES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_registered_type_undoes_from_its_journaled_record(name: str, target_root: Path,
                                                               tmp_path: Path) -> None:
    ex, change, probe, after = EXAMPLES[name](target_root)
    assert ch.journal_type(change) == name
    ctx = ch.ChangeContext(ex, PLATFORM, ch.BackupStore(tmp_path / "backups"), key="7",
                           secrets={"alice": Secret("a new password")})
    before = probe()
    rec = change.prepare(ctx)
    assert rec is not None
    change.commit(ctx, rec)
    if after is not None:
        after()
    assert probe() != before
    # what the journal keeps: the type's name and the record as YAML data
    entry = yaml.safe_load(yaml.safe_dump({"type": ch.journal_type(change), "record": rec}))
    cls: Any = ch.change_types()[entry["type"]]
    assert cls.undo_record(ctx, entry["record"]) == []
    cls.settle(ctx, entry["record"])
    assert probe() == before
