"""Private keys: one key per plan, written 0600 by a file change whose bytes are made once."""

from __future__ import annotations

import shlex
from dataclasses import replace
from typing import Callable, Generic, Optional, TypeVar

from .base import Preview, ShellForm, View
from .files import FileWrite

_K = TypeVar("_K")


class KeySource(Generic[_K]):
    """One private key for the whole plan: the existing one, or a new one made on demand by
    ``generate`` (at most once), so the key file, the certificate and the CSR all agree."""

    def __init__(self, generate: Callable[[], _K], existing: Optional[_K] = None) -> None:
        self._generate = generate
        self._key = existing

    def key(self) -> _K:
        if self._key is None:
            self._key = self._generate()
        return self._key


class PrivateKeyFile(FileWrite):
    """Copy of a private key whose preview never shows the key material."""

    def describe(self) -> str:
        return f"install the private key {self.path} (mode 0600)"

    def preview(self, view: View) -> Preview:
        before = view.read(self.path)
        after = None if self.content is None else self.content.encode()
        view.write(self.path, after)
        mode = self.mode if self.mode is not None else 0o600
        changed = before != after
        return Preview(self.kind, self.describe(), changed=changed, path=self.path,
                       commands=[f"install -m {mode:04o} -o {self.owner} -g {self.group} "
                                 f"KEYFILE {shlex.quote(self.path)}"] if changed else [],
                       note="(key material is never shown)" + (
                           "" if changed else "; same key already in place"))


    def shell_form(self, preview: Preview) -> ShellForm:
        """Install the key from where the admin keeps it (KEYFILE); never its bytes."""
        form = super().shell_form(preview)
        if not preview.commands:
            return form
        return replace(form, why="Install your private key (put the path of your key file "
                                 "in place of KEYFILE):", whole_file=False)
