"""checks.map_lookup: one ``postmap -q -`` for many keys, its answers parsed back per key."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from wizard import checks
from wizard.executor import FakeCommand, ScriptedExecutor


def _table(answer: FakeCommand) -> ScriptedExecutor:
    return ScriptedExecutor("/nonexistent", {"postmap -q -": answer,
                                             "postalias -q -": answer})


def test_every_key_goes_to_one_process_on_its_input() -> None:
    ex = _table(FakeCommand(0, "a@example.test\talice, bob\nroot\tadmin\n"))
    got = checks.map_lookup(ex, "hash:/etc/postfix/virtual",
                            ["a@example.test", "root", "missing", "root"])
    assert got == {"a@example.test": "alice, bob", "root": "admin"}
    assert ex.calls == [["postmap", "-q", "-", "hash:/etc/postfix/virtual"]]
    assert ex.last_input == "a@example.test\nroot\nmissing\n"


def test_postalias_answers_with_a_colon_and_keys_fold_to_lower_case() -> None:
    ex = _table(FakeCommand(0, "root: admin\npostmaster: root\n"))
    assert checks.map_lookup(ex, "hash:/etc/aliases", ["Root", "postmaster"],
                             prog="postalias") == {"Root": "admin", "postmaster": "root"}


def test_nothing_found_is_an_empty_answer_a_fatal_error_none() -> None:
    assert checks.map_lookup(_table(FakeCommand(1)), "hash:/x", ["a"]) == {}
    fatal = FakeCommand(1, "", "postmap: fatal: open database /x.db: No such file")
    assert checks.map_lookup(_table(fatal), "hash:/x", ["a"]) is None
    assert checks.map_lookup(_table(FakeCommand(0)), "hash:/x", []) == {}


@pytest.mark.parametrize("key", ["a\nb", "a b", "", "é@example.test", "a\tb", "x" * 513])
def test_keys_that_could_smuggle_more_never_reach_the_command(key: str) -> None:
    ex = _table(FakeCommand(0))
    with pytest.raises(ValueError):
        checks.map_lookup(ex, "hash:/x", ["ok", key])
    calls: List[List[str]] = ex.calls
    assert calls == []


def test_a_real_root_without_postmap_says_failed(tmp_path: Path) -> None:
    ex = ScriptedExecutor(tmp_path, {"postmap -q -": FakeCommand(127, "", "not found")})
    assert checks.map_lookup(ex, "hash:/x", ["a"]) is None
