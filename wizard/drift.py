"""Hand edits since the last apply: a re-run keeps them unless told otherwise.

mailwizard journals the main.cf values its edits leave (``new`` in a :class:`PostfixParams`
record, also read by ``mailwizard check``'s drift report; a removed parameter is None).
When a later plan would set a parameter again and the file's value is no longer the one
mailwizard wrote (the admin edited or removed it by hand since), the engine keeps the admin's
value: the parameter is dropped from the change and a note in the plan shows the three
values, stock (the distribution's file), ours (what mailwizard wrote) and now (the file), and
how to have mailwizard's value back (``--overwrite-edits``). Without a journal entry for a
parameter (never written by mailwizard, or rolled back since) nothing is kept: the answers
apply as before; nor when the file holds none of mailwizard's values any more (a package
put its stock file back): that is a replaced file, not a hand edit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence

from . import confedit
from .changes import Change, Note, PostfixParams
from .checks import CheckResult
from .executor import Executor
from .platforms import Platform, stock_file
from .session import Session


@dataclass(frozen=True)
class KeptEdit:
    """One main.cf parameter edited by hand since mailwizard set it."""

    path: str
    name: str
    stock: Optional[str]
    ours: str
    now: Optional[str]
    wanted: str

    def describe(self) -> str:
        def show(v: Optional[str]) -> str:
            return "(not set)" if v is None else repr(v)

        wants = "" if self.wanted == self.ours else f"; the answers now want {show(self.wanted)}"
        return (f"{self.name}: stock {show(self.stock)}, mailwizard {show(self.ours)}, now "
                f"{show(self.now)}{wants}")


def ours_main_cf(session: Optional[Session]) -> Dict[str, Dict[str, str]]:
    """path -> parameter -> the value mailwizard last wrote there (entries still applied)."""
    out: Dict[str, Dict[str, str]] = {}
    if session is None:
        return out
    for e in session.entries(states=("done",)):
        rec = e.get("record") or {}
        new = rec.get("new")
        if e.get("type") == "PostfixParams" and isinstance(new, dict):
            out.setdefault(str(rec.get("path")), {}).update(
                {k: v for k, v in new.items() if v is not None})
    return out


def keep_edits(changes: Sequence[Change], executor: Executor, platform: Platform,
               ours: Dict[str, Dict[str, str]], overwrite: bool = False) -> List[Change]:
    """``changes`` with every main.cf parameter the admin edited since mailwizard set it
    left out (and a note saying so), or, with ``overwrite``, as planned plus a note."""
    out: List[Change] = []
    for c in changes:
        if not isinstance(c, PostfixParams) or c.path not in ours:
            out.append(c)
            continue
        now = confedit.read_main_cf(executor.read_text(c.path))
        if _replaced(now, ours[c.path]):
            out.append(c)
            continue
        kept = [KeptEdit(c.path, k, _stock(platform, c.path, k), ours[c.path][k], now.get(k), v)
                for k, v in c.params.items()
                if k in ours[c.path] and _norm(now.get(k)) != _norm(ours[c.path][k])]
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
        out.append(PostfixParams({k: v for k, v in c.params.items() if k not in names},
                                 remove=c.remove_names, path=c.path, mode=c.mode,
                                 owner=c.owner, group=c.group, validate=c.validate,
                                 cool_mtime=c.cool_mtime, reason=c.reason))
        out.append(Note(f"{c.path}: kept {len(kept)} hand edit(s): "
                        + ", ".join(sorted(names)),
                        f"edited since mailwizard set them, so kept as they are ({lines}); "
                        "--overwrite-edits sets mailwizard's values again"))
    return out


def edited_by_hand(executor: Executor, ours: Dict[str, Dict[str, str]]) -> Dict[str, str]:
    """main.cf parameter -> the value mailwizard wrote, for those edited by hand since."""
    path = "/etc/postfix/main.cf"
    if path not in ours:
        return {}
    now = confedit.read_main_cf(executor.read_text(path))
    if _replaced(now, ours[path]):
        return {}
    return {k: v for k, v in ours[path].items() if _norm(now.get(k)) != _norm(v)}


def _replaced(now: Dict[str, str], ours: Dict[str, str]) -> bool:
    """The file holds none of mailwizard's values: replaced as a whole (a package reinstalled
    its stock file), not edited; the run sets every value again."""
    return bool(ours) and not any(_norm(now.get(k)) == _norm(v) for k, v in ours.items())


def soften_checks(results: List[CheckResult], edited: Dict[str, str]) -> List[CheckResult]:
    """A value check of a kept hand edit is information, not a failure: the admin chose it
    (the check still shows both values)."""
    out = []
    for r in results:
        name = r.name[len("main.cf "):] if r.name.startswith("main.cf ") else ""
        if r.ok is False and name in edited:
            r = replace(r, ok=None, detail=f"{r.detail} (edited by hand since mailwizard set "
                                           "it: kept; apply --overwrite-edits sets it back)")
        out.append(r)
    return out


def _norm(value: Optional[str]) -> Optional[str]:
    """A value as Postfix reads it: runs of blanks (continuation lines) are one, commas
    need none around them."""
    if value is None:
        return None
    return " ".join(value.replace(",", " ").split())


def _stock(platform: Platform, path: str, name: str) -> Optional[str]:
    stock = stock_file(platform, path)
    if stock is None:
        return None
    return confedit.read_main_cf(stock.read_text(encoding="utf-8", errors="replace")).get(name)
