"""Each structured editor owns its inverse: undoing one edit in a file that later edits
changed again restores just that edit's keys, from the journal record alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wizard import changes as ch
from wizard.confedit import MasterEntry, read_aliases
from wizard.executor import Executor
from wizard.platforms import get_platform

PLATFORM = get_platform("debian13")
DOVECOT = "/etc/dovecot/conf.d/10-ssl.conf"
SHELL = "/etc/default/saslauthd"

CASES = {
    "main.cf": ("/etc/postfix/main.cf", b"a = 1\n# keep\n",
                ch.PostfixParams({"a": "2", "new": "x"}), ch.PostfixParams({"b": "3"})),
    "master.cf": ("/etc/postfix/master.cf", b"smtp inet n - n - - smtpd\n",
                  ch.MasterService([MasterEntry("submission", "inet", chroot="n")]),
                  ch.MasterService([MasterEntry("smtps", "inet", chroot="n")])),
    "dovecot": (DOVECOT, b"ssl = yes\nssl_cert = </x\n",
                ch.DovecotSettings(DOVECOT, {"ssl": "required", "ssl_prefer": "yes"}),
                ch.DovecotSettings(DOVECOT, {"ssl_min_protocol": "TLSv1.2"})),
    "shell": (SHELL, b'START=no\nMECHANISMS="pam"\n', ch.ShellVars(SHELL, {"START": "yes"}),
              ch.ShellVars(SHELL, {"OPTIONS": "-c"})),
    "aliases": ("/etc/aliases", b"postmaster: root\nroot: bob\n",
                ch.AliasEntries({"root": ["alice"]}),
                ch.AliasEntries({"hostmaster": ["root"]})),
}


def ctx_for(ex: Executor, tmp_path: Path, key: str) -> ch.ChangeContext:
    return ch.ChangeContext(ex, PLATFORM, ch.BackupStore(tmp_path / "backups"), key=key)


def applied(change: ch.FileChange, ctx: ch.ChangeContext) -> ch.Record:
    rec = change.prepare(ctx)
    assert rec is not None
    change.commit(ctx, rec)
    return rec


def test_every_editor_is_a_registered_type_that_owns_its_inverse() -> None:
    editors = {cls.editor: cls for cls in ch.CHANGE_TYPES.values()
               if getattr(cls, "editor", "")}
    assert set(editors) == set(CASES)
    for name, cls in editors.items():
        assert ch.editor_type(name) is cls
        assert cls.inverse is not ch.FileChange.inverse, name
    assert ch.editor_type("") is None and ch.editor_type("nginx") is None
    assert ch.FileWrite.inverse("x = 1\n", {"x": None}) is None  # a whole file has none


@pytest.mark.parametrize("editor", sorted(CASES))
def test_undo_of_one_edit_keeps_the_later_edit(editor: str, target_root: Path,
                                               tmp_path: Path) -> None:
    path, original, first, second = CASES[editor]
    host = target_root / path.lstrip("/")
    host.parent.mkdir(parents=True, exist_ok=True)
    host.write_bytes(original)
    ex = Executor(target_root, host_commands=True)
    rec = applied(first, ctx_for(ex, tmp_path, "1"))
    applied(second, ctx_for(ex, tmp_path, "2"))
    assert rec["editor"] == editor
    # the journal keeps the record as JSON-like data and the type's name; undo needs nothing
    # else (neither the plan nor the change object)
    rec = json.loads(json.dumps(rec))
    undo = ch.change_types()[ch.journal_type(first)]
    warnings = undo.undo_record(ctx_for(ex, tmp_path, "3"), rec)  # type: ignore[attr-defined]
    assert warnings == [f"{path} was changed since: undid only this step's settings in it"]
    expected = second.transform(original.decode())
    if editor == "aliases":  # the aliases editor aligns the entries it writes back
        assert read_aliases(host.read_text()) == read_aliases(expected)
    else:
        assert host.read_text() == expected


def test_an_editor_name_from_an_older_journal_still_finds_its_inverse(target_root: Path,
                                                                     tmp_path: Path) -> None:
    """Records store the editor's name, not the class: the registry maps it back, so the
    record of any file change type undoes with the editor it names."""
    path, original, first, second = CASES["main.cf"]
    host = target_root / path.lstrip("/")
    host.parent.mkdir(parents=True)
    host.write_bytes(original)
    ex = Executor(target_root, host_commands=True)
    rec = applied(first, ctx_for(ex, tmp_path, "1"))
    applied(second, ctx_for(ex, tmp_path, "2"))
    ch.FileChange.undo_record(ctx_for(ex, tmp_path, "3"), json.loads(json.dumps(rec)))
    assert host.read_text() == "a = 1\n# keep\nb = 3\n"
