"""What every answers section shares: the :class:`Parser` of one raw mapping, and :class:`Section`.

An answers file is a mapping; each :class:`Section` owns some of its top-level keys (a *flat*
section such as the network settings owns ``mynetworks``, ``inet_interfaces`` and
``inet_protocols``) or one key holding a mapping (a *nested* section such as ``certificate``).
A section parses its part of the raw mapping, naming the field of every problem, writes it back
in the file format (``to_dict``), gives its line(s) for the review screens (``summary``), and
holds its defaults: the defaults of its dataclass fields, and what the TUI's form starts with
(``form_start``).
"""

from __future__ import annotations

from dataclasses import fields
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Set,
    Tuple,
    Type,
    TypeVar,
    cast,
)

from .validators import Errors

if TYPE_CHECKING:
    from .model import Answers

S = TypeVar("S", bound="Section")


class Parser:
    """One parse of a raw answers mapping: the data, every problem found so far (by field,
    in order), and the sections parsed before (a later section may check against them)."""

    def __init__(self, data: Mapping[str, Any], existing_users: Optional[Set[str]]) -> None:
        self.data = data
        self.existing_users = existing_users
        """Accounts that exist on the target, or None when unknown (a dry run)."""
        self.errors: Errors = []
        self._parsed: Dict[type, Any] = {}

    def error(self, where: str, message: str) -> None:
        self.errors.append((where, message))

    def has_error(self, *names: str) -> bool:
        """Whether a problem was found for a field named one of ``names``."""
        return any(f in names for f, _ in self.errors)

    def has_error_under(self, prefix: str) -> bool:
        """Whether a problem was found for a field whose name starts with ``prefix``."""
        return any(f.startswith(prefix) for f, _ in self.errors)

    def unknown_keys(self, mapping: Iterable[Any], known: Iterable[str], where: str) -> None:
        """``where.KEY: unknown key`` for every key of ``mapping`` not in ``known``."""
        allowed = set(known)
        for k in mapping:
            if k not in allowed:
                self.error(f"{where}.{k}", "unknown key")

    def req_str(self, key: str) -> str:
        """The required top-level text answer ``key``, stripped ('' when missing or wrong)."""
        value = self.data.get(key)
        if value is None or value == "":
            self.error(key, "is required")
            return ""
        if not isinstance(value, str):
            self.error(key, "must be text")
            return ""
        return value.strip()

    def opt_bool(self, mapping: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
        value = mapping.get(key, default)
        if not isinstance(value, bool):
            self.error(where, "must be true or false")
            return default
        return value

    def opt_int(self, mapping: Mapping[str, Any], key: str, default: int, where: str,
                lo: int, hi: int) -> int:
        value = mapping.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.error(where, f"must be a whole number from {lo} to {hi}")
            return default
        return value

    def sub(self, key: str) -> Mapping[str, Any]:
        """The nested mapping at top-level ``key`` ({} when missing or not a mapping)."""
        value = self.data.get(key) or {}
        if not isinstance(value, Mapping):
            self.error(key, "must be a mapping")
            return {}
        return value

    def parse(self, kind: Type[S]) -> S:
        """Parse section ``kind`` and remember it for the sections after it."""
        section = kind.parse(self)
        self._parsed[kind] = section
        return section

    def section(self, kind: Type[S]) -> S:
        """Section ``kind`` as parsed before this one (its values even where they had errors)."""
        return cast(S, self._parsed[kind])


class Section:
    """Base of the answers sections (each a frozen dataclass whose fields all have defaults)."""

    KEY: ClassVar[Optional[str]] = None
    """The top-level key a nested section lives under; None for a flat section."""
    FORM_KEYS: ClassVar[Optional[Tuple[str, ...]]] = None
    """The keys the TUI's form starts with, when not all of :meth:`to_dict`'s."""

    @classmethod
    def parse(cls: Type[S], p: Parser) -> S:
        raise NotImplementedError

    def to_dict(self, include_secrets: bool = False) -> Dict[str, Any]:
        """This section in the answers-file format (a nested section: the inner mapping)."""
        raise NotImplementedError

    def summary(self, answers: Answers) -> List[Tuple[str, str]]:
        """(label, value) lines for the review screens and the runbook (no secrets)."""
        return []

    # ------------------------------------------------------------------ composition
    @classmethod
    def keys(cls) -> Tuple[str, ...]:
        """The top-level answers this section owns."""
        if cls.KEY is not None:
            return (cls.KEY,)
        return tuple(f.name for f in fields(cast(Any, cls)))

    @classmethod
    def of(cls: Type[S], answers: Answers) -> S:
        """This section of ``answers``."""
        if cls.KEY is not None:
            return cast(S, getattr(answers, cls.KEY))
        return cls(**{f.name: getattr(answers, f.name) for f in fields(cast(Any, cls))})

    def answer_fields(self) -> Dict[str, Any]:
        """The :class:`~wizard.answers.Answers` fields this section gives."""
        if self.KEY is not None:
            return {self.KEY: self}
        return {f.name: getattr(self, f.name) for f in fields(cast(Any, self))}

    def entries(self, include_secrets: bool = False) -> Dict[str, Any]:
        """The top-level entries of the answers file this section writes."""
        d = self.to_dict(include_secrets)
        return {self.KEY: d} if self.KEY is not None else d

    @classmethod
    def form_start(cls) -> Dict[str, Any]:
        """The top-level entries the TUI's form starts with (the defaults, in file format)."""
        d = cls().to_dict()
        if cls.FORM_KEYS is not None:
            d = {k: d[k] for k in cls.FORM_KEYS}
        return {cls.KEY: d} if cls.KEY is not None else d
