"""One entry of the answers changed by a verb (``mailwizard user|alias ...``), and its undo.

An :class:`AnswerEdit` names one entry of one section of the answers (a user by name, an alias
by name) with its value before and after. The verb's run records it in the session under the
run's step id (``session.data["edits"]``) together with the new answers, *before* the run
touches the system; a rollback of that step id (or of everything) puts the entry back as it
was (:func:`revert_edits`, called by :mod:`wizard.rollback`), leaving every other entry alone,
so undoing an older change keeps the changes made after it. The copy of the answers kept in
the state directory (:mod:`wizard.kept`) follows. Nothing here holds a password.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional

from .answers import parse_answers
from .errors import MailwizardError
from .kept import keep_answers
from .session import Session

SECTIONS = ("users", "aliases", "virtual_aliases")


@dataclass(frozen=True)
class AnswerEdit:
    """``section``'s entry ``key`` goes from ``before`` to ``after`` (None: no entry).

    ``users`` entries are mappings (``name``, ``create``, ...) in a list; alias entries are
    lists of targets in a mapping."""

    section: str
    key: str
    before: Any
    after: Any

    def apply(self, answers: Dict[str, Any]) -> Dict[str, Any]:
        """A copy of the raw answers with the entry set to ``after``."""
        return _set(answers, self.section, self.key, self.after)

    def revert(self, answers: Dict[str, Any]) -> Dict[str, Any]:
        """A copy of the raw answers with the entry set back to ``before``."""
        return _set(answers, self.section, self.key, self.before)

    def to_dict(self) -> Dict[str, Any]:
        return {"section": self.section, "key": self.key, "before": self.before,
                "after": self.after}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> AnswerEdit:
        return cls(str(d["section"]), str(d["key"]), d.get("before"), d.get("after"))

    def describe(self) -> str:
        where = {"users": "users", "aliases": "aliases (/etc/aliases)",
                 "virtual_aliases": "virtual aliases"}[self.section]
        if self.before is None:
            return f"answers: add {self.key} to {where}"
        if self.after is None:
            return f"answers: remove {self.key} from {where}"
        return f"answers: {self.key} in {where}: {_show(self.before)} -> {_show(self.after)}"


def _show(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


def entry(answers: Dict[str, Any], section: str, key: str) -> Any:
    """The current entry ``key`` of ``section`` in raw answers (None: none)."""
    data = answers.get(section)
    if section == "users":
        for u in data or []:
            name = u.get("name") if isinstance(u, dict) else u
            if name == key:
                return copy.deepcopy(u if isinstance(u, dict) else {"name": u})
        return None
    if isinstance(data, dict) and key in data:
        value = data[key]
        return list(value) if isinstance(value, (list, tuple)) else [value]
    return None


def _set(answers: Dict[str, Any], section: str, key: str, value: Any) -> Dict[str, Any]:
    if section not in SECTIONS:
        raise MailwizardError(f"no such section of the answers: {section}")
    out = copy.deepcopy(answers)
    if section == "users":
        users: List[Any] = list(out.get("users") or [])
        names = [u.get("name") if isinstance(u, dict) else u for u in users]
        if key in names:
            i = names.index(key)
            if value is None:
                del users[i]
            else:
                users[i] = copy.deepcopy(value)
        elif value is not None:
            users.append(copy.deepcopy(value))
        out["users"] = users
        return out
    amap: Dict[str, Any] = dict(out.get(section) or {})
    if value is None:
        amap.pop(key, None)
    else:
        amap[key] = list(value)
    out[section] = amap
    return out


# --------------------------------------------------------------------------- in the session
def record_edit(session: Session, step: str, verb: str, edit: Optional[AnswerEdit],
                new_answers: Dict[str, Any]) -> None:
    """Before the run: the edit of ``step`` and the answers it leads to, in one save."""
    edits = session.data.setdefault("edits", {})
    edits[step] = {"verb": verb, "edit": edit.to_dict() if edit else None,
                   "state": "started"}
    if edit is not None:
        session.data["answers"] = new_answers
    session.save()


def finish_edit(session: Session, step: str, ok: bool) -> None:
    """After the run: done, or (the run failed and was undone) the answers put back."""
    rec = session.data.get("edits", {}).get(step)
    if rec is None:
        return
    if not ok:
        _revert_one(session, rec)
        rec["state"] = "failed"
    else:
        rec["state"] = "done"
    session.save()


def next_edit_id(session: Session, verb: str) -> str:
    """The step id of a verb's run: ``<verb>-<n>`` (``user-add-3``), n counting every run
    of a verb in this session."""
    return f"{verb.replace(' ', '-')}-{len(session.data.get('edits', {})) + 1}"


def edit_steps(session: Session) -> List[str]:
    """The step ids of the verbs' runs, oldest first."""
    return list(session.data.get("edits", {}))


def _revert_one(session: Session, rec: Dict[str, Any]) -> bool:
    if rec.get("edit") is None or rec.get("state") == "reverted" or not session.answers:
        return False
    edit = AnswerEdit.from_dict(rec["edit"])
    session.data["answers"] = edit.revert(session.answers)
    rec["state"] = "reverted"
    return True


def revert_edits(session: Session, steps: Iterable[str]) -> List[str]:
    """After a rollback of ``steps``: put back the answers entries their runs changed,
    newest first, and refresh the kept copy of the answers. Returns the reverted step ids."""
    edits = session.data.get("edits", {})
    wanted = set(steps)
    done = [s for s in reversed(list(edits)) if s in wanted and _revert_one(session, edits[s])]
    if done:
        session.save()
        refresh_kept(session)
    return done


def refresh_kept(session: Session) -> None:
    """The answers kept in the state directory (for the TUI) follow the session's; answers
    that no longer parse are left as they were (never a half-valid file)."""
    if not session.answers:
        return
    try:
        keep_answers(session.dir, parse_answers(session.answers), may_create=False)
    except (MailwizardError, OSError):
        return
