"""Structured edits: set keys in main.cf, master.cf, Dovecot, shell-style and aliases files.

Each edit records the old values of the keys it sets, so its undo can restore just those keys
when the file was changed again since.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import replace
from typing import Any, Collection, Dict, List, Mapping, Optional, Sequence, Tuple

from .. import confedit
from ..shelltext import continued, heredoc_text, sed_edit
from .base import Preview, Record, ShellForm, View, quote_argv
from .files import FileChange


class _EditChange(FileChange):
    """A structured edit with an inverse (restores just the keys it set): its inverse is
    :meth:`apply_values` with the old values (``None``: the key was not set)."""

    def read_values(self, text: Optional[str]) -> Dict[str, str]:
        raise NotImplementedError

    @classmethod
    def apply_values(cls, text: Optional[str], values: Mapping[str, Optional[str]]) -> str:
        raise NotImplementedError

    @classmethod
    def inverse(cls, text: Optional[str], old: Mapping[str, Optional[str]]) -> Optional[str]:
        return cls.apply_values(text, old)

    def wanted(self) -> Mapping[str, str]:
        raise NotImplementedError

    def without(self, names: Collection[str]) -> _EditChange:
        """The same edit leaving the keys ``names`` alone (a new change: changes are
        immutable)."""
        raise NotImplementedError

    def _file_kw(self) -> Dict[str, Any]:
        return dict(mode=self.mode, owner=self.owner, group=self.group,
                    validate=self.validate, cool_mtime=self.cool_mtime, reason=self.reason)

    def transform(self, before: Optional[str]) -> Optional[str]:
        return self.apply_values(before, dict(self.wanted()))

    def remember(self, before: Optional[str], rec: Record) -> None:
        current = self.read_values(before)
        rec["old"] = {k: current.get(k) for k in self.wanted()}
        _remember_new(self, before, rec)

    def shell_form(self, preview: Preview) -> ShellForm:
        """The edit in place (:meth:`shell_edit`) instead of writing the whole file, with the
        checks an admin would read (:meth:`shell_checks`)."""
        return _edit_form(self, preview, super().shell_form(preview))

    def shell_edit(self, preview: Preview) -> Optional[Tuple[str, Tuple[str, ...], str]]:
        """(guard, commands, what they are) that make the edit in place: ``sed -i`` replaying
        the diff line by line; ``None`` when that cannot be done exactly."""
        return _sed_form(self.path, preview)



def _remember_new(change: _EditChange, before: Optional[str], rec: Record) -> None:
    """The values the edit leaves for the keys it sets (``mailwizard check`` names the
    settings an admin changed by hand since)."""
    after = change.read_values(change.transform(before))
    rec["new"] = {k: after.get(k) for k in rec["old"]}


class PostfixParams(_EditChange):
    """Set (or remove) main.cf parameters with ``postconf -e`` semantics, in Python.

    The file's mtime is set a few seconds back after the atomic write so Postfix commands run
    right after it do not pause "to let main.cf cool down" (the pause protects against reading
    a half-written file, which an atomic rename cannot produce).
    """

    editor = "main.cf"

    def __init__(self, params: Mapping[str, str], remove: Sequence[str] = (),
                 path: str = "/etc/postfix/main.cf", **kw: Any) -> None:
        kw.setdefault("cool_mtime", True)
        super().__init__(path, **kw)
        self.params = dict(params)
        self.remove_names = list(remove)

    def describe(self) -> str:
        names = list(self.params) + [f"-{n}" for n in self.remove_names]
        shown = ", ".join(names[:4]) + (f" (+{len(names) - 4})" if len(names) > 4 else "")
        return f"set in {self.path}: {shown}"

    def wanted(self) -> Mapping[str, str]:
        return self.params

    def without(self, names: Collection[str]) -> PostfixParams:
        return PostfixParams({k: v for k, v in self.params.items() if k not in names},
                             remove=self.remove_names, path=self.path, **self._file_kw())

    def read_values(self, text: Optional[str]) -> Dict[str, str]:
        return confedit.read_main_cf(text)

    @classmethod
    def apply_values(cls, text: Optional[str], values: Mapping[str, Optional[str]]) -> str:
        sets = {k: v for k, v in values.items() if v is not None}
        drops = [k for k, v in values.items() if v is None]
        return confedit.edit_main_cf(text, sets, drops)

    def transform(self, before: Optional[str]) -> Optional[str]:
        return confedit.edit_main_cf(before, self.params, self.remove_names)

    def remember(self, before: Optional[str], rec: Record) -> None:
        current = self.read_values(before)
        rec["old"] = {k: current.get(k) for k in [*self.params, *self.remove_names]}
        _remember_new(self, before, rec)

    def postconf_commands(self) -> List[str]:
        cmds = []
        if self.params:
            cmds.append("postconf -e " + " ".join(
                shlex.quote(f"{k} = {v}") for k, v in self.params.items()))
        if self.remove_names:
            cmds.append("postconf -X " + " ".join(self.remove_names))
        return cmds

    def preview(self, view: View) -> Preview:
        p = super().preview(view)
        p.note = ("; ".join(filter(None, [p.note, "by hand: " + " && ".join(
            self.postconf_commands())])) if p.changed else p.note)
        return p

    def shell_edit(self, preview: Preview) -> Optional[Tuple[str, Tuple[str, ...], str]]:
        """``postconf -e`` (and ``-X``) lines, one quoted ``name = value`` each."""
        if posixpath.basename(self.path) != "main.cf":
            return super().shell_edit(preview)
        cfg = "" if self.path == "/etc/postfix/main.cf" else (
            f" -c {shlex.quote(posixpath.dirname(self.path))}")
        cmds = []
        if self.params:
            cmds.append(continued(f"postconf{cfg} -e", [
                shlex.quote(f"{k} = {v}") for k, v in self.params.items()]))
        if self.remove_names:
            cmds.append(f"postconf{cfg} -X " + quote_argv(self.remove_names))
        return "", tuple(cmds), (
            "By hand, with Postfix's own editor (it adds a parameter at the end of the file "
            "where mailwizard puts it next to its commented default: the settings are the "
            "same, and the appendix has the file byte for byte):")

    def shell_checks(self, preview: Preview) -> Tuple[str, ...]:
        shown = ("postconf " + quote_argv(list(self.params)),) if self.params else ()
        return (*shown, "postfix check")



class MasterService(FileChange):
    """Set whole service entries in master.cf (e.g. ``submission inet``)."""

    def __init__(self, entries: Sequence[confedit.MasterEntry],
                 path: str = "/etc/postfix/master.cf", **kw: Any) -> None:
        super().__init__(path, **kw)
        self.entries = list(entries)

    def describe(self) -> str:
        return f"set in {self.path}: " + ", ".join(f"{e.name}/{e.type}" for e in self.entries)

    def transform(self, before: Optional[str]) -> Optional[str]:
        return confedit.edit_master_cf(before, self.entries)

    editor = "master.cf"

    def wanted(self) -> Mapping[str, str]:
        """``name/type`` -> the entry's text as this change writes it (the keys of its
        journal record)."""
        return {f"{e.name}/{e.type}": e.render() for e in self.entries}

    def without(self, names: Collection[str]) -> MasterService:
        """The same change leaving the entries ``names`` (``name/type``) alone."""
        return MasterService([e for e in self.entries if f"{e.name}/{e.type}" not in names],
                             path=self.path, mode=self.mode, owner=self.owner,
                             group=self.group, validate=self.validate,
                             cool_mtime=self.cool_mtime, reason=self.reason)

    def remember(self, before: Optional[str], rec: Record) -> None:
        cur = confedit.read_master_cf(before)
        rec["old"] = {f"{e.name}/{e.type}": cur.get((e.name, e.type)) for e in self.entries}
        new = confedit.read_master_cf(self.transform(before))
        rec["new"] = {f"{e.name}/{e.type}": new.get((e.name, e.type)) for e in self.entries}

    @classmethod
    def inverse(cls, text: Optional[str], old: Mapping[str, Optional[str]]) -> Optional[str]:
        """Put back the old text of each entry (``name/type``), or remove an entry that was
        not there."""
        out = text or ""
        for key, entry_text in old.items():
            name, typ = key.split("/", 1)
            current = confedit.read_master_cf(out).get((name, typ))
            if entry_text is None:
                out = confedit.edit_master_cf(out, [], remove=[(name, typ)])
            elif current is not None:
                out = out.replace(current, entry_text, 1)
        return out

    def shell_form(self, preview: Preview) -> ShellForm:
        """The entries put in place with ``sed -i`` (``postconf -M`` would rewrite the entry's
        layout: not what apply writes), with the checks an admin would read."""
        return _edit_form(self, preview, super().shell_form(preview))

    def shell_edit(self, preview: Preview) -> Optional[Tuple[str, Tuple[str, ...], str]]:
        return _sed_form(self.path, preview)

    def shell_checks(self, preview: Preview) -> Tuple[str, ...]:
        out = []
        for e in self.entries:
            pattern = f"^{re.escape(e.name)}[[:space:]]+{re.escape(e.type)}"
            out.append(f"grep -E {shlex.quote(pattern)} {shlex.quote(self.path)}")
        return (*out, "postfix check")



class DovecotSettings(_EditChange):
    """Set top-level ``key = value`` settings in one Dovecot configuration file."""

    editor = "dovecot"

    def __init__(self, path: str, settings: Mapping[str, str], **kw: Any) -> None:
        super().__init__(path, **kw)
        self.settings = dict(settings)

    def describe(self) -> str:
        return f"set in {self.path}: " + ", ".join(self.settings)

    def wanted(self) -> Mapping[str, str]:
        return self.settings

    def without(self, names: Collection[str]) -> DovecotSettings:
        return DovecotSettings(self.path, {k: v for k, v in self.settings.items()
                                           if k not in names}, **self._file_kw())

    def read_values(self, text: Optional[str]) -> Dict[str, str]:
        return confedit.read_dovecot_conf(text)

    @classmethod
    def apply_values(cls, text: Optional[str], values: Mapping[str, Optional[str]]) -> str:
        return confedit.edit_dovecot_conf(
            text, {k: v for k, v in values.items() if v is not None},
            [k for k, v in values.items() if v is None])

    def shell_checks(self, preview: Preview) -> Tuple[str, ...]:
        return ("doveconf " + quote_argv(list(self.settings)),)



class ShellVars(_EditChange):
    """Set ``KEY=value`` lines in a shell-style settings file (/etc/default, /etc/sysconfig)."""

    editor = "shell"

    def __init__(self, path: str, values: Mapping[str, str], **kw: Any) -> None:
        super().__init__(path, **kw)
        self.values = dict(values)

    def describe(self) -> str:
        return f"set in {self.path}: " + ", ".join(self.values)

    def wanted(self) -> Mapping[str, str]:
        return self.values

    def read_values(self, text: Optional[str]) -> Dict[str, str]:
        return confedit.read_shell_vars(text)

    @classmethod
    def apply_values(cls, text: Optional[str], values: Mapping[str, Optional[str]]) -> str:
        return confedit.edit_shell_vars(text, {k: v for k, v in values.items() if v is not None})

    def shell_checks(self, preview: Preview) -> Tuple[str, ...]:
        pattern = f"^({'|'.join(re.escape(k) for k in self.values)})="
        return (f"grep -E {shlex.quote(pattern)} {shlex.quote(self.path)}",)



class AliasEntries(_EditChange):
    """Set entries in an aliases(5) file."""

    editor = "aliases"

    def __init__(self, entries: Mapping[str, Sequence[str]], path: str = "/etc/aliases",
                 **kw: Any) -> None:
        super().__init__(path, **kw)
        self.entries = {k: list(v) for k, v in entries.items()}

    def describe(self) -> str:
        return f"set in {self.path}: " + ", ".join(self.entries)

    def wanted(self) -> Mapping[str, str]:
        return {k: ", ".join(v) for k, v in self.entries.items()}

    def read_values(self, text: Optional[str]) -> Dict[str, str]:
        return {k: ", ".join(v) for k, v in confedit.read_aliases(text).items()}

    @classmethod
    def apply_values(cls, text: Optional[str], values: Mapping[str, Optional[str]]) -> str:
        return confedit.edit_aliases(text, {
            k: [t.strip() for t in v.split(",")] for k, v in values.items() if v is not None})

    def transform(self, before: Optional[str]) -> Optional[str]:
        return confedit.edit_aliases(before, self.entries)

    def shell_checks(self, preview: Preview) -> Tuple[str, ...]:
        return tuple(f"postalias -q {shlex.quote(n)} "
                     f"\"$(postconf -h default_database_type)\":{shlex.quote(self.path)}"
                     for n in self.entries)


# --------------------------------------------------------------------------- shell forms
def _sed_form(path: str, preview: Preview) -> Optional[Tuple[str, Tuple[str, ...], str]]:
    after = heredoc_text(preview.commands[0]) if preview.commands else None
    edit = sed_edit(path, preview.diff, after)
    if edit is None:
        return None
    return edit[0], edit[1], (
        "This makes the change above in place, finding each line by its text (by its number "
        "where the text is not unique); it is skipped when the change is already made, and "
        "stops with a message if the file is not as the diff shows:")


def _edit_form(change: Any, preview: Preview, whole: ShellForm) -> ShellForm:
    """``whole`` (the file written whole) with the edit in place instead, when the change
    can say it that way, and the change's own checks."""
    form = replace(whole, check=change.shell_checks(preview))
    if not form.whole_file:
        return form
    edit = change.shell_edit(preview)
    if edit is None:
        return form
    guard, cmds, why = edit
    path = shlex.quote(change.path)
    tail = []
    if change.mode is not None:
        tail.append(f"chmod {change.mode:04o} {path}")
    if (change.owner, change.group) != ("root", "root"):
        tail.append(f"chown {shlex.quote(change.owner + ':' + change.group)} {path}")
    return replace(form, do=(*cmds, *tail), guard=guard, why=why, whole_file=False,
                   guard_why="skipped when the change is already made",
                   in_place=True)
