"""The admin's answers: :class:`Answers`, composed of the sections, and :func:`parse_answers`.

:class:`Answers` keeps every answer as a flat, immutable field (``answers.hostname``,
``answers.certificate.days``); each section (:data:`SECTIONS`) owns some of those fields, parses
them from the raw mapping, writes them back and summarises them. Defaults live in the sections'
dataclass fields only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple, Type

from ..errors import AnswersError
from ..secret import Secret
from .accounts import Admin, Aliases, AliasMap, User, Users
from .base import Parser, Section
from .certificate import Certificate
from .dkim import Dkim
from .dns import Dns
from .health import HealthCheck
from .host import Identity, MailAccess, Network, Steps
from .relay import Relay
from .smtpd import Restrictions, Sasl
from .validators import text_errors

SECTIONS: Tuple[Type[Section], ...] = (
    Identity, Admin, Network, Users, Aliases, Certificate, Sasl, Restrictions, MailAccess, Relay,
    Dkim, Dns, HealthCheck, Steps,
)
"""Every section, in the order of the answers file and of the summary."""

PARSE_ORDER: Tuple[Type[Section], ...] = (
    Identity, Network, Users, Admin, Aliases, Certificate, Sasl, Restrictions, MailAccess, Relay,
    Dkim, Dns, HealthCheck, Steps,
)
"""The order sections are parsed in (and their problems listed): ``admin_user`` is checked
against the users, the aliases against the users and the domain."""

_NETWORK, _USERS, _ALIASES, _ACCESS, _STEPS = Network(), Users(), Aliases(), MailAccess(), Steps()
_RELAY = Relay()


@dataclass(frozen=True)
class Answers:
    """Everything mailwizard needs to know; see ``wizard/demo/*.yaml`` for an example file."""

    hostname: str
    domain: str
    admin_user: str
    mynetworks: Tuple[str, ...] = _NETWORK.mynetworks
    inet_interfaces: str = _NETWORK.inet_interfaces
    inet_protocols: str = _NETWORK.inet_protocols
    users: Tuple[User, ...] = _USERS.users
    aliases: AliasMap = _ALIASES.aliases
    virtual_alias_domains: Tuple[str, ...] = _ALIASES.virtual_alias_domains
    virtual_aliases: AliasMap = _ALIASES.virtual_aliases
    certificate: Certificate = field(default_factory=Certificate)
    sasl: Sasl = field(default_factory=Sasl)
    restrictions: Restrictions = field(default_factory=Restrictions)
    imap: bool = _ACCESS.imap
    pop3: bool = _ACCESS.pop3
    plaintext_ports: bool = _ACCESS.plaintext_ports
    """Also open 110/143 in the firewall (login there still needs STARTTLS)."""
    mail_quota: str = _ACCESS.mail_quota
    """Per-user mailbox quota (``1G``); empty: none (step ``quota``)."""
    relayhost: str = _RELAY.relayhost
    """Outbound smarthost (``[smtp.provider]:587``), empty for direct delivery."""
    relay_user: str = _RELAY.relay_user
    relay_password: Optional[Secret] = _RELAY.relay_password
    """The relay login's password; never stored in the session."""
    dkim: Dkim = field(default_factory=Dkim)
    """DKIM signing (step ``dkim``): on, the selector, extra signing domains."""
    dns: Dns = field(default_factory=Dns)
    """What the DNS records need that the server cannot tell (its public addresses)."""
    health_check: HealthCheck = field(default_factory=HealthCheck)
    """``mailwizard check --mail-to`` on a schedule (step ``health-timer``); off by default."""
    steps: Tuple[Tuple[str, bool], ...] = _STEPS.steps

    # ------------------------------------------------------------------ helpers
    def step_enabled(self, step: str) -> bool:
        return dict(self.steps).get(step, True)

    @property
    def cert_cn(self) -> str:
        return self.certificate.common_name or self.hostname

    def user_names(self) -> List[str]:
        return [u.name for u in self.users]

    def to_dict(self, include_secrets: bool = False) -> Dict[str, Any]:
        """A plain dict in the answers-file format (passwords only if asked for)."""
        out: Dict[str, Any] = {}
        for kind in SECTIONS:
            out.update(kind.of(self).entries(include_secrets))
        return out

    def summary(self) -> List[Tuple[str, str]]:
        """Short (label, value) pairs for review screens and the runbook (no secrets)."""
        return [line for kind in SECTIONS for line in kind.of(self).summary(self)]

    def with_changes(self, **kwargs: Any) -> Answers:
        return replace(self, **kwargs)


TOP_KEYS = frozenset(key for kind in SECTIONS for key in kind.keys())
"""Every top-level answer an answers file may hold."""


def parse_answers(
    data: Any,
    existing_users: Optional[Set[str]] = None,
) -> Answers:
    """Validate a mapping (from YAML or the TUI) and build :class:`Answers`.

    Args:
        data: the raw mapping.
        existing_users: accounts that exist on the target; when given, users with
            ``create: false`` and alias targets must be among them (or be created).

    Raises:
        AnswersError: listing every invalid field.
    """
    if not isinstance(data, Mapping):
        raise AnswersError([("(file)", "must be a mapping of answer names to values")])
    bad_text = text_errors(data)
    if bad_text:
        raise AnswersError(bad_text)
    p = Parser(data, existing_users)
    for key in data:
        if key not in TOP_KEYS:
            p.error(str(key), "unknown answer (check the spelling)")
    values: Dict[str, Any] = {}
    for kind in PARSE_ORDER:
        values.update(p.parse(kind).answer_fields())
    if p.errors:
        raise AnswersError(p.errors)
    return Answers(**values)


def form_defaults() -> Dict[str, Any]:
    """What the TUI's form starts with, in the answers-file format: every section's defaults
    (``hostname``, ``domain`` and ``admin_user`` empty) and the suggested aliases."""
    out: Dict[str, Any] = {}
    for kind in SECTIONS:
        out.update(kind.form_start())
    return out


def default_answers() -> Dict[str, Any]:
    """Every answer's default, in the answers-file format (the required ones empty)."""
    out: Dict[str, Any] = {}
    for kind in SECTIONS:
        out.update(kind().entries(include_secrets=True))  # defaults hold no secret
    return out
