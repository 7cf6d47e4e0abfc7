"""A string type for secrets: it prints as ``***`` everywhere except where it is used."""

from __future__ import annotations

RELAY_SECRET = ":relay"
"""Key of the relay login's password among the engine's secrets (no user name has ':')."""


class Secret(str):
    """A password or key passphrase. ``str()``/``repr()`` hide it; ``.reveal()`` gives it."""

    __slots__ = ()

    def reveal(self) -> str:
        return str.__str__(self)

    def __str__(self) -> str:  # pragma: no cover - trivial
        return "***"

    def __repr__(self) -> str:
        return "Secret('***')"

    def __format__(self, spec: str) -> str:
        return "***"
