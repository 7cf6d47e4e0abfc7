"""The ``dkim`` section: sign outgoing mail with DKIM (OpenDKIM as a Postfix milter).

``enabled`` (on by default), ``selector`` (the DNS label the public key is published under,
``<selector>._domainkey.<domain>``) and ``domains`` (further domains to sign for, besides the
mail domain and the virtual alias domains).

The selector's default is dated, ``s`` + year and month of the day the answers were first made
(``s202612``): a new key later gets a new selector, so the old record can stay published until
no signed mail in transit needs it. The default is computed when an answers file without a
selector is parsed, then written back (:meth:`Dkim.to_dict` always holds it), so a saved
session keeps the selector it started with; tests and the demo answers pin one.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Dict, List, Optional, Tuple

from .base import Parser, Section
from .validators import LABEL_RE, as_list, check_hostname, printable

if TYPE_CHECKING:
    from .model import Answers

SELECTOR_MAX = 63
"""One DNS label."""

today: Callable[[], datetime.date] = datetime.date.today
"""The clock the default selector is read from (tests replace it)."""


def default_selector(day: Optional[datetime.date] = None) -> str:
    """``s`` + ``YYYYMM`` of ``day`` (default: today), e.g. ``s202612``."""
    d = day or today()
    return f"s{d.year:04d}{d.month:02d}"


def check_selector(value: Any) -> Optional[str]:
    """An error message for a selector, or None: one DNS label (ASCII letters, digits, inner
    hyphens, at most 63 characters)."""
    if not isinstance(value, str) or not LABEL_RE.fullmatch(value):
        return (f"{printable(str(value))!r} is not a selector: one DNS label (letters, digits "
                f"and inner hyphens, 1 to {SELECTOR_MAX} characters), e.g. "
                f"{default_selector()}")
    return None


def _today_selector() -> str:
    return default_selector()


@dataclass(frozen=True)
class Dkim(Section):
    """``dkim``: ``enabled``, ``selector`` and the extra signing ``domains``."""

    KEY: ClassVar[str] = "dkim"
    FORM_KEYS: ClassVar[Tuple[str, ...]] = ("enabled",)
    """The form leaves the selector to the parse (today's default) unless the admin types
    one: the form's start stays the same every month."""

    enabled: bool = True
    selector: str = field(default_factory=_today_selector)
    domains: Tuple[str, ...] = ()
    """Further domains to sign for (the mail domain and the virtual alias domains always)."""

    @classmethod
    def parse(cls, p: Parser) -> Dkim:
        d = p.sub("dkim")
        p.unknown_keys(d, ("enabled", "selector", "domains"), "dkim")
        enabled = p.opt_bool(d, "enabled", True, "dkim.enabled")
        raw_sel = d.get("selector")
        selector = default_selector()
        if raw_sel not in (None, ""):
            if (msg := check_selector(raw_sel)) or not isinstance(raw_sel, str):
                p.error("dkim.selector", msg or "must be text")
            else:
                selector = raw_sel.lower()
        domains: List[str] = []
        raw_domains = d.get("domains")
        if raw_domains is not None and not isinstance(raw_domains, (list, tuple, str)):
            p.error("dkim.domains", "must be a list of domain names")
            raw_domains = None
        for i, entry in enumerate(as_list(raw_domains)):
            if not isinstance(entry, str):
                p.error(f"dkim.domains[{i}]", "must be a domain name (text)")
                continue
            name = entry.strip().lower()
            name = name[:-1] if name.endswith(".") else name
            if (msg := check_hostname(name)):
                p.error(f"dkim.domains[{i}]", f"{printable(entry)!r}: {msg}")
            elif name not in domains:
                domains.append(name)
        return cls(enabled=enabled, selector=selector, domains=tuple(domains))

    def to_dict(self, include_secrets: bool = False) -> Dict[str, Any]:
        out: Dict[str, Any] = {"enabled": self.enabled, "selector": self.selector}
        if self.domains:
            out["domains"] = list(self.domains)
        return out

    def summary(self, answers: Answers) -> List[Tuple[str, str]]:
        if not self.enabled:
            return [("DKIM signing", "off")]
        return [("DKIM signing", f"selector {self.selector} for "
                                 f"{', '.join(signing_domains(answers))}")]


def signing_domains(answers: Answers) -> List[str]:
    """The domains OpenDKIM signs for: the mail domain, the virtual alias domains (when the
    virtual-aliases step is on: with it off they are not configured at all), then the extra
    ``dkim.domains``; each once, in that order."""
    out: List[str] = []
    aliases = answers.virtual_alias_domains if answers.step_enabled("virtual-aliases") else ()
    for name in (answers.domain, *aliases, *answers.dkim.domains):
        name = name.lower()
        if name and name not in out:
            out.append(name)
    return out
