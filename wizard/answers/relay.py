"""The relay section: outbound mail through a provider's smarthost (guide 004's relayhost).

``relayhost`` is empty (deliver directly, the default) or ``host``, ``host:port``,
``[host]``, ``[host]:port`` or ``[IPv4]`` / ``[IPv4]:port``: brackets turn off the MX lookup,
as in Postfix. ``relay_user`` and ``relay_password`` are the SASL login at the provider; the
password is a :class:`~wizard.secret.Secret`: never written back to the session, shown in a
summary or put in the runbook. A user without a password is valid (a resumed session has
none): the relay step then says plainly that it leaves the password map alone.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Dict, List, Optional, Tuple

from ..secret import Secret
from .base import Parser, Section
from .validators import check_hostname

if TYPE_CHECKING:
    from .model import Answers

RELAYHOST_RE = re.compile(
    r"(?:\[(?P<bracketed>[A-Za-z0-9.-]{1,253})\]|(?P<plain>[A-Za-z0-9.-]{1,253}))"
    r"(?::(?P<port>[0-9]{1,5}))?", re.ASCII)
RELAY_USER_RE = re.compile(r"[!-9;-~]{1,256}", re.ASCII)
"""Printable ASCII without space or ':' (the password map value is ``user:password``)."""
EXAMPLE = "[smtp.provider.example]:587"


def check_relayhost(value: str) -> Optional[str]:
    """An error message for a ``relayhost`` answer, or None."""
    m = RELAYHOST_RE.fullmatch(value)
    if not m:
        return (f"must be a host name with an optional port, e.g. {EXAMPLE} (brackets: no "
                "MX lookup); IPv6 literals are not supported here, use a host name")
    host = m.group("bracketed") or m.group("plain") or ""
    port = m.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        return f"port {port} is not between 1 and 65535"
    try:
        ipaddress.IPv4Address(host)
        is_ip = True
    except ValueError:
        is_ip = False
    if is_ip:
        if m.group("plain"):
            return f"an IP address needs brackets (no MX lookup): [{host}]"
        return None
    msg = check_hostname(host)
    return f"host {host!r}: {msg}" if msg else None


@dataclass(frozen=True)
class Relay(Section):
    """``relayhost``, ``relay_user`` and ``relay_password``: send outbound mail through a
    smarthost (for networks that block outgoing port 25)."""

    FORM_KEYS: ClassVar[Tuple[str, ...]] = ()

    relayhost: str = ""
    relay_user: str = ""
    relay_password: Optional[Secret] = None

    @classmethod
    def parse(cls, p: Parser) -> Relay:
        relayhost = _text(p, "relayhost").lower()
        if relayhost and (msg := check_relayhost(relayhost)):
            p.error("relayhost", msg)
        user = _text(p, "relay_user")
        if user and not RELAY_USER_RE.fullmatch(user):
            p.error("relay_user", "must be printable ASCII without spaces or ':' "
                                  "(at most 256 characters)")
        raw_pw = p.data.get("relay_password")
        password: Optional[Secret] = None
        if raw_pw not in (None, ""):
            if not isinstance(raw_pw, str):
                p.error("relay_password", "must be text")
            elif len(raw_pw) > 1024:
                p.error("relay_password", "must be at most 1024 characters")
            elif any(ch in raw_pw for ch in "\n\r\x00") or raw_pw != raw_pw.strip():
                p.error("relay_password", "must be one line without leading or trailing "
                                          "spaces")
            else:
                password = Secret(raw_pw)
        if (user or raw_pw) and not relayhost and not p.has_error("relayhost"):
            p.error("relayhost", f"is required with relay_user/relay_password, e.g. {EXAMPLE}")
        if raw_pw not in (None, "") and not user and not p.has_error("relay_user"):
            p.error("relay_user", "is required with relay_password")
        return cls(relayhost=relayhost, relay_user=user, relay_password=password)

    def to_dict(self, include_secrets: bool = False) -> Dict[str, Any]:
        out: Dict[str, Any] = {"relayhost": self.relayhost, "relay_user": self.relay_user}
        if include_secrets:  # the key only where secrets belong (never the session's copy)
            pw = self.relay_password
            out["relay_password"] = pw.reveal() if pw is not None else ""
        return out

    def summary(self, answers: Answers) -> List[Tuple[str, str]]:
        if not self.relayhost:
            return []  # direct delivery, the default
        login = f" as {self.relay_user} (password not shown)" if self.relay_user else ""
        return [("Outbound relay", f"{self.relayhost}{login}")]


def _text(p: Parser, key: str) -> str:
    value = p.data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        p.error(key, "must be text")
        return ""
    return value.strip()
