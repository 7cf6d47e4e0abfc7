"""Postfix helpers shared by the recipes: main.cf reading, lookup tables (maps), caches.

Nothing here acts on the target: readers take a :class:`~wizard.changes.View` (the files as
they will be after the steps planned so far) and only read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Sequence

from wizard import confedit
from wizard.changes import Change, Command, Snapshot, View

MAIN_CF = "/etc/postfix/main.cf"
MASTER_CF = "/etc/postfix/master.cf"
ALIASES = "/etc/aliases"
VIRTUAL = "/etc/postfix/virtual"


# --------------------------------------------------------------------------- main.cf
def main_cf(view: View) -> Dict[str, str]:
    """The active main.cf parameters as the view sees them (after earlier planned steps;
    {} when there is no main.cf)."""
    return confedit.read_main_cf(view.read_text(MAIN_CF))


def joined(items: Iterable[str]) -> str:
    """A main.cf list value: ``a, b, c``."""
    return ", ".join(items)


# --------------------------------------------------------------------------- lookup tables
_MAP_EXT = {"hash": ".db", "btree": ".db", "lmdb": ".lmdb", "cdb": ".cdb", "dbm": ".db"}


def map_ext(db: str) -> str:
    """File name suffix that ``postmap``/``postalias`` give a table of type ``db``.

    >>> map_ext("hash"), map_ext("lmdb")
    ('.db', '.lmdb')
    """
    return _MAP_EXT.get(db, ".db")


def map_ref(db: str, path: str) -> str:
    """``type:path`` as main.cf wants it, e.g. ``lmdb:/etc/aliases``."""
    return f"{db}:{path}"


def map_output(db: str, source: str) -> str:
    """The indexed file built from ``source``, e.g. ``/etc/aliases.db``."""
    return source + map_ext(db)


def cache_db_type(db: str) -> str:
    """Map type for Postfix caches (TLS session cache): btree, or lmdb where there is no BDB."""
    return "lmdb" if db == "lmdb" else "btree"


_BDB_MAP = re.compile(r"\b(hash|btree):")


def berkeley_maps_to(db: str, values: Mapping[str, str]) -> Dict[str, str]:
    """Parameters whose value uses ``hash:``/``btree:`` tables, rewritten to ``db:``.

    EL10's Postfix has no Berkeley DB, so such lines make it fail with "unsupported dictionary
    type". Returns {} when ``db`` is itself a Berkeley DB type (nothing to fix).
    """
    if db in ("hash", "btree"):
        return {}
    return {k: _BDB_MAP.sub(f"{db}:", v) for k, v in values.items() if _BDB_MAP.search(v)}


@dataclass
class MapBuild:
    """Changes that (re)build an indexed table from its source file.

    ``before`` goes in the plan *before* the change(s) that edit the source; ``after`` right
    after them.
    """

    before: List[Change] = field(default_factory=list)
    after: List[Change] = field(default_factory=list)


def map_build(view: View, argv: Sequence[str], source: str, output: str,
              source_changes: bool = True, description: str = "") -> MapBuild:
    """Plan ``argv`` (``newaliases``, ``postmap type:file``) so that apply and rollback both
    leave ``output`` consistent with ``source``.

    * The command runs when ``source`` changed in this apply, or when ``output`` is missing.
    * Whenever it will run, a :class:`~wizard.changes.Snapshot` of ``output`` comes first:
      rollback then puts the old indexed file back byte for byte, or removes it when this run
      created it. (A rebuild would not restore the same bytes.) The Snapshot is planned
      either way (``needed=False``: unchanged) so that whether ``output`` exists, which a
      crash can change, never shifts the plan.
    """
    out = MapBuild()
    exists = view.executor.exists(output)
    desc = description or f"rebuild {output} from {source}"
    out.before.append(Snapshot(output, needed=not exists or source_changes))
    out.after.append(Command(list(argv), after_files=[source], creates=output,
                             description=desc))
    return out


def postmap_changes(view: View, db: str, path: str, write: Change, *,
                    source_changes: bool = True, description: str = "") -> List[Change]:
    """Write a lookup table's source with ``write`` and index it with ``postmap db:path``:
    the Snapshot of the indexed file, the write, then the ``postmap`` command (see
    :func:`map_build`)."""
    build = map_build(view, ["postmap", map_ref(db, path)], path, map_output(db, path),
                      source_changes=source_changes,
                      description=description or f"index {path} ({db})")
    return [*build.before, write, *build.after]


# --------------------------------------------------------------------------- aliases
def alias_loops(table: Mapping[str, Iterable[str]]) -> List[List[str]]:
    """Cycles of two or more local names in an aliases table (``a: b`` and ``b: a``).

    A name that lists itself (``alice: alice, \\alice``) is not a loop: Postfix delivers it to
    the mailbox. Addresses, pipes, files and includes are not followed.
    """
    graph: Dict[str, List[str]] = {}
    for name, targets in table.items():
        local = []
        for t in targets:
            t = t.strip().lstrip("\\").lower()
            if not t or any(c in t for c in "@|/:\"") or t == name:
                continue
            local.append(t)
        graph[name.lower()] = local
    loops: List[List[str]] = []
    seen_cycles = set()
    state: Dict[str, int] = {}

    def visit(node: str, stack: List[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):]
                key = frozenset(cycle)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    loops.append(cycle + [nxt])
            elif state.get(nxt) is None:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for n in sorted(graph):
        if state.get(n) is None:
            visit(n, [])
    return loops
