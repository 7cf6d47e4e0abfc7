"""Small helpers shared by the recipes (no side effects; plain functions of their arguments).

Other steps may import from here: keep every function general and documented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from wizard import confedit
from wizard.answers import Answers
from wizard.changes import Change, Command, Snapshot, View
from wizard.executor import Executor
from wizard.platforms import Platform

MAIN_CF = "/etc/postfix/main.cf"
MASTER_CF = "/etc/postfix/master.cf"
ALIASES = "/etc/aliases"
VIRTUAL = "/etc/postfix/virtual"

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


# --------------------------------------------------------------------------- dovecot
_DOVECOT_FILES = {
    "main": "dovecot.conf",
    "auth": "conf.d/10-auth.conf",
    "logging": "conf.d/10-logging.conf",
    "mail": "conf.d/10-mail.conf",
    "master": "conf.d/10-master.conf",
    "ssl": "conf.d/10-ssl.conf",
    "imap": "conf.d/20-imap.conf",
    "pop3": "conf.d/20-pop3.conf",
    "auth-system": "conf.d/auth-system.conf.ext",
}


def dovecot_file(platform: Platform, which: str) -> str:
    """Path of one Dovecot configuration file on ``platform``.

    ``which`` is ``main``, ``auth``, ``logging``, ``mail``, ``master``, ``ssl``, ``imap``,
    ``pop3`` or ``auth-system``. Every supported platform (Dovecot 2.x, EL7 and newer, Debian,
    Ubuntu) uses ``/etc/dovecot/dovecot.conf`` plus ``conf.d``.
    """
    try:
        rel = _DOVECOT_FILES[which]
    except KeyError:
        raise ValueError(
            f"unknown dovecot file {which!r}; one of {', '.join(_DOVECOT_FILES)}") from None
    return "/etc/dovecot/" + rel


def wanted_protocols(answers: Answers) -> List[str]:
    """Mail access protocols from the answers, in Dovecot's spelling."""
    return [p for p, on in (("imap", answers.imap), ("pop3", answers.pop3)) if on]


def dovecot_packages(platform: Platform, answers: Answers) -> List[str]:
    """The Dovecot packages to install. On Debian and Ubuntu each protocol is its own package
    (``dovecot-imapd``, ``dovecot-pop3d``) and installing it is what enables the protocol, so
    only the ones the answers ask for are chosen."""
    want = set(wanted_protocols(answers))
    out = []
    for name in platform.packages_dovecot:
        if name.endswith("-imapd") and "imap" not in want:
            continue
        if name.endswith("-pop3d") and "pop3" not in want:
            continue
        out.append(name)
    return out


# --------------------------------------------------------------------------- accounts
def user_home(name: str, users: Mapping[str, Tuple[int, int, str]]) -> str:
    """Home directory of ``name``: from the passwd table when the account exists, else the
    ``/home/<name>`` that ``useradd -m`` gives a new account."""
    if name in users and users[name][2]:
        return users[name][2]
    return f"/home/{name}"


def primary_group(name: str, users: Mapping[str, Tuple[int, int, str]],
                  groups: Mapping[str, Tuple[int, List[str]]]) -> str:
    """Name of the primary group of ``name`` (a new account gets a group of its own name)."""
    if name in users:
        gid = users[name][1]
        for gname, (g, _members) in groups.items():
            if g == gid:
                return gname
    return name


# --------------------------------------------------------------------------- reading
def main_cf(view: View) -> Optional[str]:
    """main.cf as it will be after the changes planned so far (None: no file)."""
    return view.read_text(MAIN_CF)


def main_cf_values(text: Optional[str]) -> Dict[str, str]:
    return confedit.read_main_cf(text)


def service_running(ex: Executor, name: str) -> Optional[bool]:
    """Whether the postfix or dovecot daemon runs on the target (None: not installed)."""
    if name == "postfix":
        if not ex.which("postfix"):
            return None
        return ex.run(["postfix", "status"], quiet=True, timeout=30).ok
    if name == "dovecot":
        if not ex.which("doveadm"):
            return None
        return ex.run(["doveadm", "service", "status"], quiet=True, timeout=30).ok
    raise ValueError(name)


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
