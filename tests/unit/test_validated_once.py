"""``postfix check`` once per apply: the apply's checks take the word of its validation (or
of an earlier apply's, on byte-identical files) instead of running the checker again; any
change to the validated files, a warning, or the ``verify`` verb runs it for real."""

from __future__ import annotations

from pathlib import Path
from typing import List

from wizard import changes as ch
from wizard import checks
from wizard.executor import FakeCommand, ScriptedExecutor
from wizard.platforms import get_platform

MAIN = "/etc/postfix/main.cf"
CLEAN = FakeCommand(0)


def _target(root: Path, answer: FakeCommand = CLEAN) -> ScriptedExecutor:
    tool = root / "usr/sbin/postfix"
    tool.parent.mkdir(parents=True, exist_ok=True)
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    (root / "etc/postfix").mkdir(parents=True, exist_ok=True)
    if not (root / MAIN[1:]).exists():
        (root / MAIN[1:]).write_text("myhostname = a\n")
    return ScriptedExecutor(root, {"postfix check": answer})


def _validate(ex: ScriptedExecutor, state: Path) -> None:
    ctx = ch.ChangeContext(ex, get_platform("debian12"), ch.BackupStore(state))
    assert ch.Validate(["postfix", "check"], config=[MAIN]).prepare(ctx) is None


def _runs(ex: ScriptedExecutor) -> List[List[str]]:
    return [c for c in ex.calls if c == ["postfix", "check"]]


def test_the_checks_take_the_validation_s_word_while_the_files_stay(tmp_path: Path) -> None:
    root, state = tmp_path / "root", tmp_path / "state"
    ex = _target(root)
    _validate(ex, state)
    assert len(_runs(ex)) == 1
    res = checks.postfix_check(ex)
    assert res.ok is True and "this apply's validation" in res.detail
    assert len(_runs(ex)) == 1  # not run a second time
    (root / MAIN[1:]).write_text("myhostname = b\n")  # changed since: run for real
    assert checks.postfix_check(ex).detail == "no problems reported"
    assert len(_runs(ex)) == 2


def test_a_converged_apply_reuses_an_earlier_validation_of_the_same_files(
        tmp_path: Path) -> None:
    root, state = tmp_path / "root", tmp_path / "state"
    _validate(_target(root), state)
    ex = _target(root)  # the next run: the stamp matches, nothing runs
    _validate(ex, state)
    res = checks.postfix_check(ex)
    assert res.ok is True and "an earlier apply's validation" in res.detail
    assert _runs(ex) == []
    ex.validated.clear()  # outside an apply (the verify verb): the checker runs
    assert checks.postfix_check(ex).detail == "no problems reported"
    assert len(_runs(ex)) == 1


def test_a_validation_with_warnings_is_not_taken_as_a_clean_check(tmp_path: Path) -> None:
    root, state = tmp_path / "root", tmp_path / "state"
    ex = _target(root, FakeCommand(0, "", "postfix/postfix-script: warning: not owned"))
    _validate(ex, state)
    res = checks.postfix_check(ex)
    assert res.ok is True and "warning" in res.detail
    assert len(_runs(ex)) == 2
