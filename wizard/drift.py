"""Hand edits since the last apply: a re-run keeps them unless told otherwise.

mailwizard journals the values its structured edits leave (``new`` in the record of a
:class:`PostfixParams`, :class:`DovecotSettings` or :class:`MasterService` edit (a
master.cf entry is one key, ``name/type``), also read by ``mailwizard check``'s
drift report; a removed key is None). When a later plan would set a key again and the file's
value is no longer the one mailwizard wrote (the admin edited or removed it by hand since),
the engine keeps the admin's value: the key is dropped from the change and a note in the plan
shows the three values, stock (the distribution's file), ours (what mailwizard wrote) and now
(the file), and how to have mailwizard's value back (``--overwrite-edits``). Without a journal
entry for a key (never written by mailwizard, or rolled back since) nothing is kept: the
answers apply as before; nor when the file holds none of mailwizard's values any more (a
package put its stock file back): that is a replaced file, not a hand edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional, Sequence, Set

from . import confedit
from .changes import Change, DovecotSettings, MasterService, Note, PostfixParams
from .checks import CheckResult
from .executor import Executor
from .platforms import Platform, stock_file
from .session import Session


def _aliases(text: Optional[str]) -> Dict[str, str]:
    return {k: ", ".join(v) for k, v in confedit.read_aliases(text).items()}


def _master(text: Optional[str]) -> Dict[str, str]:
    return {f"{n}/{t}": v for (n, t), v in confedit.read_master_cf(text).items()}


READERS: Dict[str, Callable[[Optional[str]], Dict[str, str]]] = {
    "main.cf": confedit.read_main_cf,
    "master.cf": _master,
    "dovecot": confedit.read_dovecot_conf,
    "shell": confedit.read_shell_vars,
    "aliases": _aliases,
}
"""Structured editor (``rec['editor']``) -> its file's keys and values."""

KEEPS: Dict[str, str] = {"main.cf": "main.cf ", "dovecot": "dovecot ",
                         "master.cf": "master.cf "}
"""Editors whose hand edits a re-run keeps -> the name prefix of their value checks. A
master.cf service entry is kept whole; the checks of what it must hold (the submission
service's encryption and login, the SPF policy service) stay checks: a kept entry that drops
one fails them, as it should."""

_SECRET_NAME = re.compile(r"(?i)passw|secret")


@dataclass(frozen=True)
class KeptEdit:
    """One key edited by hand since mailwizard set it."""

    path: str
    name: str
    stock: Optional[str]
    ours: str
    now: Optional[str]
    wanted: Optional[str]

    def describe(self) -> str:
        def show(v: Optional[str]) -> str:
            if v is None:
                return "(not set)"
            if _SECRET_NAME.search(self.name):
                return "(hidden)"
            return repr(" ".join(v.split()) if "\n" in v else v)  # a master.cf entry

        wants = ("" if _blanks(self.wanted) == _blanks(self.ours)
                 else f"; the answers now want {show(self.wanted)}")
        stock = "not in the stock file" if self.stock is None else f"stock {show(self.stock)}"
        return (f"{self.name}: {stock}, mailwizard {show(self.ours)}, now "
                f"{show(self.now)}{wants}")


@dataclass
class Ours:
    """What mailwizard last wrote in one file (entries still applied)."""

    editor: str
    values: Dict[str, str] = field(default_factory=dict)
    before: Dict[str, Optional[str]] = field(default_factory=dict)
    """Key -> its value before mailwizard first set it (None: not set)."""


def ours_written(session: Optional[Session]) -> Dict[str, Ours]:
    """path -> the keys mailwizard last wrote there and their values, for the editors whose
    hand edits are kept (:data:`KEEPS`)."""
    out: Dict[str, Ours] = {}
    if session is None:
        return out
    for e in session.entries(states=("done",)):
        rec = e.get("record") or {}
        new, old, editor = rec.get("new"), rec.get("old"), rec.get("editor")
        if editor in KEEPS and isinstance(new, dict):
            ours = out.setdefault(str(rec.get("path")), Ours(str(editor)))
            ours.values.update({k: v for k, v in new.items() if v is not None})
            for k, v in (old if isinstance(old, dict) else {}).items():
                ours.before.setdefault(k, v)
    return out


def keep_edits(changes: Sequence[Change], executor: Executor, platform: Platform,
               ours: Dict[str, Ours], overwrite: bool = False) -> List[Change]:
    """``changes`` with every key the admin edited since mailwizard set it left out (and a
    note saying so), or, with ``overwrite``, as planned plus a note."""
    out: List[Change] = []
    for c in changes:
        mine = ours.get(getattr(c, "path", ""))
        if (not isinstance(c, (PostfixParams, DovecotSettings, MasterService)) or mine is None
                or c.editor != mine.editor):
            out.append(c)
            continue
        now = _edited(executor, platform, c.path, mine)
        kept = [KeptEdit(c.path, k, _stock(platform, c.path, mine.editor, k),
                         mine.values[k], now[k], v)
                for k, v in c.wanted().items() if k in now]
        if not kept:
            out.append(c)
            continue
        lines = "; ".join(k.describe() for k in kept)
        if overwrite:
            out.append(c)
            out.append(Note(f"{c.path}: hand edits overwritten ({len(kept)})",
                            f"--overwrite-edits: mailwizard's values replace {lines}"))
            continue
        names = {k.name for k in kept}
        out.append(c.without(names))
        out.append(Note(f"{c.path}: kept {len(kept)} hand edit(s): "
                        + ", ".join(sorted(names)),
                        f"edited since mailwizard set them, so kept as they are ({lines}); "
                        "--overwrite-edits sets mailwizard's values again"))
    return out


def edited_by_hand(executor: Executor, platform: Platform, ours: Dict[str, Ours]) -> Set[str]:
    """The names of the value checks (``main.cf NAME``, ``dovecot NAME``) of the keys edited
    by hand since mailwizard wrote them."""
    out: Set[str] = set()
    for path, mine in ours.items():
        if mine.editor == "main.cf" and path != "/etc/postfix/main.cf":
            continue  # the checks read the default instance only
        out.update(KEEPS[mine.editor] + k for k in _edited(executor, platform, path, mine))
    return out


def _edited(executor: Executor, platform: Platform, path: str,
            mine: Ours) -> Dict[str, Optional[str]]:
    """Key -> its value now (None: removed), for mailwizard's keys edited since; none when
    the file was replaced as a whole or removed (none of mailwizard's values is left, each
    key is as it was before mailwizard or as in the stock file: a package put its file
    back), which the run sets again in full."""
    norm = _NORM.get(mine.editor, _blanks)
    text = executor.read_text(path)
    if text is None:
        return {}
    now = READERS[mine.editor](text)
    changed = {k: now.get(k) for k, v in mine.values.items() if norm(now.get(k)) != norm(v)}
    if len(changed) == len(mine.values) and all(
            norm(v) in (norm(mine.before.get(k)), norm(_stock(platform, path, mine.editor, k)))
            for k, v in changed.items()):
        return {}
    return changed


def soften_checks(results: List[CheckResult], edited: Set[str]) -> List[CheckResult]:
    """A value check of a kept hand edit is information, not a failure: the admin chose it
    (the check still shows both values)."""
    out = []
    for r in results:
        if r.ok is False and r.name in edited:
            r = replace(r, ok=None, detail=f"{r.detail} (edited by hand since mailwizard set "
                                           "it: kept; apply --overwrite-edits sets it back)")
        out.append(r)
    return out


def _blanks(value: Optional[str]) -> Optional[str]:
    return None if value is None else " ".join(value.split())


def _postfix_norm(value: Optional[str]) -> Optional[str]:
    """A value as Postfix reads it: runs of blanks (continuation lines) are one, commas
    need none around them."""
    return None if value is None else _blanks(value.replace(",", " "))


_NORM = {"main.cf": _postfix_norm}


def _stock(platform: Platform, path: str, editor: str, name: str) -> Optional[str]:
    stock = stock_file(platform, path)
    if stock is None:
        return None
    return READERS[editor](stock.read_text(encoding="utf-8", errors="replace")).get(name)
