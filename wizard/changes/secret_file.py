"""SecretFile: a whole file that holds a secret (a password map), never shown."""

from __future__ import annotations

from typing import Any, Callable, Optional

from ..secret import Secret
from .base import Preview, ShellForm, View
from .files import FileWrite


class SecretFile(FileWrite):
    """A whole file that holds a secret (a password map), mode 0600 unless told otherwise.

    The secret is revealed only to make the bytes to write. Previews, the plan's view and the
    runbook show ``placeholder`` in its place, and no diff of the file is ever shown (its old
    content may hold an old secret). Journaled as :class:`FileWrite`: rollback restores the
    old bytes from the backups (0600), like every file."""

    def __init__(self, path: str, render: Callable[[str], str], secret: Secret,
                 placeholder: str = "PASSWORD", **kw: Any) -> None:
        kw.setdefault("mode", 0o600)
        super().__init__(path, None, **kw)
        self.render = render
        self.secret = secret
        self.placeholder = placeholder

    def describe(self) -> str:
        mode = self.mode if self.mode is not None else 0o600
        return f"write {self.path} (mode {mode:04o}; the secret in it is never shown)"

    def transform(self, before: Optional[str]) -> Optional[str]:
        return self.render(self.secret.reveal())

    def preview(self, view: View) -> Preview:
        before = view.read(self.path)
        real = self.render(self.secret.reveal()).encode("utf-8", "surrogateescape")
        shown = self.render(self.placeholder)
        view.write(self.path, shown.encode("utf-8", "surrogateescape"))
        mode = self.mode if self.mode is not None else 0o600
        changed = before != real
        commands = [self._shell_write(shown.encode(), mode, exists=before is not None)] \
            if changed else []
        note = (self.reason + " " if self.reason else "") + \
            f"({self.placeholder} stands for the secret, which is never shown)"
        return Preview(self.kind, self.describe(), diff="", commands=commands, note=note,
                       changed=changed, path=self.path,
                       new_content=shown if before is None else None)

    def shell_form(self, preview: Preview) -> ShellForm:
        pv = preview
        check = self.shell_checks(pv)
        if not pv.changed:
            return ShellForm(why="Already as wanted: nothing to do.", check=check)
        mode = self.mode if self.mode is not None else 0o600
        return ShellForm(do=tuple(pv.commands), restore=pv.path, check=check,
                         why=f"Writes the whole file (mode {mode:04o}, owned by "
                             f"{self.owner}:{self.group}). Put the real secret in place of "
                             f"{self.placeholder} before you run it:")
