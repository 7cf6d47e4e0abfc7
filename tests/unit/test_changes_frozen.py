"""Changes are immutable once made: what a step learns while applying goes into its journal
record or the context, never into the change object (a plan can be applied, resumed and
shown again and always says the same)."""

from __future__ import annotations

import copy
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any, Dict, List

import pytest
from test_changes_registry import ABSTRACT, EXAMPLES, all_change_classes

from wizard import changes as ch
from wizard.confedit import MasterEntry
from wizard.executor import Executor, FakeCommand, ScriptedExecutor
from wizard.platforms import get_platform
from wizard.secret import Secret

PLATFORM = get_platform("debian13")

INSTANCES: Dict[type, ch.Change] = {type(c): c for c in (
    ch.FileWrite("/etc/x", "x\n"), ch.GeneratedFile("/etc/k", lambda: "k\n", "(key)"),
    ch.Snapshot("/etc/aliases.db"), ch.Directory("/srv/mail"),
    ch.PostfixParams({"a": "1"}), ch.MasterService([MasterEntry("submission", "inet")]),
    ch.DovecotSettings("/etc/dovecot/dovecot.conf", {"a": "1"}),
    ch.ShellVars("/etc/default/x", {"A": "1"}), ch.AliasEntries({"root": ["alice"]}),
    ch.Command(["true"]), ch.Note("nothing to do"), ch.Packages("apt", install=["postfix"]),
    ch.Service("postfix"), ch.ConfiguredService("dovecot", config=["/etc/dovecot"]),
    ch.Validate(["postfix", "check"]), ch.SystemdDropIn("/etc/systemd/system/x.d/a.conf", "x"),
    ch.PrivateKeyFile("/etc/ssl/k.pem", "KEY\n", mode=0o600), ch.UserGroup(group="vmail"),
    ch.SetPassword("carol"), ch.RemoveUser("carol", "/home/carol"),
    ch.SecretFile("/etc/postfix/sasl_passwd", lambda pw: f"[relay]:587 u:{pw}\n",
                  Secret("s3cret-pw")),
)}
"""One instance of every concrete change class."""


def test_every_change_class_has_an_instance_here() -> None:
    assert set(INSTANCES) == all_change_classes() - ABSTRACT


@pytest.mark.parametrize("change", list(INSTANCES.values()), ids=lambda c: type(c).__name__)
def test_assigning_or_deleting_an_attribute_raises(change: ch.Change) -> None:
    name = next(iter(vars(change)))
    value = getattr(change, name)
    with pytest.raises(FrozenInstanceError):
        setattr(change, name, value)
    with pytest.raises(FrozenInstanceError):
        change.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(FrozenInstanceError):
        delattr(change, name)
    assert getattr(change, name) is value
    clone = copy.deepcopy(change)
    assert vars(clone).keys() == vars(change).keys()
    with pytest.raises(FrozenInstanceError):
        clone.extra = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_applying_and_undoing_leaves_the_change_as_it_was(name: str, target_root: Path,
                                                          tmp_path: Path) -> None:
    ex, change, _probe, _after = EXAMPLES[name](target_root)
    before = dict(vars(change))
    ctx = ch.ChangeContext(ex, PLATFORM, ch.BackupStore(tmp_path / "backups"), key="3",
                           secrets={"alice": Secret("a new password")})
    rec = change.prepare(ctx)
    assert rec is not None
    change.commit(ctx, rec)
    change.undo(ctx, rec)
    assert vars(change) == before


def test_a_generated_file_is_generated_once_per_prepare_and_written_from_the_journal(
        target_root: Path, tmp_path: Path) -> None:
    made: List[str] = []

    def generate() -> str:
        made.append(f"KEY {len(made) + 1}\n")
        return made[-1]

    change = ch.GeneratedFile("/etc/ssl/k.pem", generate, "(a key)", mode=0o600)
    ctx = ch.ChangeContext(Executor(target_root, host_commands=True), PLATFORM,
                           ch.BackupStore(tmp_path / "backups"), key="1")
    rec = change.prepare(ctx)
    assert rec is not None and made == ["KEY 1\n"]
    change.commit(ctx, rec)
    assert (target_root / "etc/ssl/k.pem").read_text() == "KEY 1\n" and len(made) == 1


def test_a_forced_restart_is_in_the_record_not_on_the_change(target_root: Path,
                                                             tmp_path: Path) -> None:
    state = {"running": True}

    def set_to(value: bool) -> Any:
        def answer(argv: List[str], ex: Executor) -> FakeCommand:
            state["running"] = value
            return FakeCommand(0)
        return answer

    ex = ScriptedExecutor(target_root, {
        "postfix status": lambda argv, ex: FakeCommand(0 if state["running"] else 1),
        "postfix start": set_to(True), "postfix stop": set_to(False)})
    ctx = ch.ChangeContext(ex, PLATFORM, ch.BackupStore(tmp_path / "backups"), key="1")
    svc = ch.ConfiguredService("postfix", action="reload", config=["/etc/postfix"],
                               must_restart=True)
    rec = svc.prepare(ctx)
    assert rec is not None and rec["action"] == "restart"
    svc.commit(ctx, rec)
    assert [c for c in ex.calls if c[0] == "postfix" and c[1] != "status"] == [
        ["postfix", "stop"], ["postfix", "start"]]
    assert svc.action == "reload" and state["running"]
    # the same change applied again decides again from its record: still a restart
    ex.calls.clear()
    svc.commit(ctx, dict(rec))
    assert ["postfix", "stop"] in ex.calls
