"""Step 6 (aliases): the aliases table, virtual aliases and their indexed files."""

from __future__ import annotations

from pathlib import Path

import pytest
from recipe_plans import PLATFORMS, dry_plan, edited

from recipes._postfix import alias_loops, map_ext
from wizard import changes as ch
from wizard import confedit


@pytest.mark.parametrize("pid", PLATFORMS)
def test_aliases_plan(tmp_path: Path, pid: str) -> None:
    plan = dry_plan(tmp_path, pid)["aliases"]
    db = "lmdb" if pid == "almalinux10" else "hash"
    aliases = confedit.read_aliases(edited(pid, plan, "/etc/aliases"))
    assert aliases["root"] == ["alice"]
    assert aliases["info"] == ["alice", "bob"]
    cmds = [c for c in plan.changes if isinstance(c, ch.Command)]
    newaliases = next(c for c in cmds if c.argv == ["newaliases"])
    assert newaliases.creates == f"/etc/aliases{map_ext(db)}"
    assert newaliases.after_files == ["/etc/aliases"]
    # a snapshot of the database comes first: rollback restores or removes it exactly
    snaps = [c for c in plan.changes if isinstance(c, ch.Snapshot)]
    assert newaliases.creates in [c.path for c in snaps]
    assert plan.changes.index(next(c for c in snaps if c.path == newaliases.creates)) < \
        plan.changes.index(newaliases)
    postmap = next(c for c in cmds if c.argv[0] == "postmap")
    assert postmap.argv == ["postmap", f"{db}:/etc/postfix/virtual"]
    assert postmap.creates == f"/etc/postfix/virtual{map_ext(db)}"
    virtual = next(c for c in plan.changes if isinstance(c, ch.FileWrite))
    assert virtual.path == "/etc/postfix/virtual"
    assert "mailwizard" in (virtual.content or "").splitlines()[1]
    assert "sales@example.net" in (virtual.content or "")
    params = next(c for c in plan.changes if isinstance(c, ch.PostfixParams))
    assert params.params == {"virtual_alias_domains": "example.net",
                             "virtual_alias_maps": f"{db}:/etc/postfix/virtual"}
    every = " ".join(" ".join(c.argv) for c in cmds) + str(params.params)
    if db == "lmdb":
        assert "hash:" not in every and "btree:" not in every


def test_alias_loops() -> None:
    assert alias_loops({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [
        ["a", "b", "c", "a"]]
    assert alias_loops({"alice": ["alice", "bob@example.org"], "root": ["alice"]}) == []
    assert alias_loops({"x": ["|/usr/bin/foo", "/var/log/x", ":include:/etc/list"]}) == []
