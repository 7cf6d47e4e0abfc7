"""The sections about Postfix's SMTP server: ``sasl`` (who may send) and ``restrictions``."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Dict, List, Mapping, Optional, Tuple

from .base import Parser, Section
from .validators import as_list, check_address, check_domain, check_hostname, check_user

if TYPE_CHECKING:
    from .model import Answers

SASL_BACKENDS = ("dovecot", "cyrus")
_ACTION_TEXT_RE = re.compile(r"[ -~]{1,200}", re.ASCII)
_ACCESS_ACTIONS = ("REJECT", "OK", "DISCARD", "HOLD", "DUNNO")
_RBL_ITEM_RE = re.compile(r"([0-9]{1,3})(?:\.\.([0-9]{1,3}))?", re.ASCII)


def check_rbl(entry: str) -> Optional[str]:
    """Return an error message if ``entry`` is not a reject_rbl_client argument:
    ``rbl.domain`` or ``rbl.domain=d.d.d.d``, each ``d`` a number 0-255 or ``[...]`` holding
    ``;``-separated numbers and ``a..b`` ranges (Postfix 2.8+), e.g.
    ``zen.spamhaus.org=127.0.0.[2..11]``."""
    name, eq, pattern = entry.partition("=")
    if (msg := check_hostname(name)):
        return msg
    if not eq:
        return None
    octets = pattern.split(".")
    # "[2..11]" splits at its dots: join the pieces of a bracket back together
    joined: List[str] = []
    for part in octets:
        if joined and joined[-1].startswith("[") and not joined[-1].endswith("]"):
            joined[-1] += "." + part
        else:
            joined.append(part)
    bad = (f"filter {pattern!r} must be four dot-separated numbers 0-255, each may be "
           "[a..b;c] (e.g. 127.0.0.[2..11])")
    if len(joined) != 4:
        return bad
    for octet in joined:
        items = octet[1:-1].split(";") if (octet.startswith("[") and octet.endswith("]")
                                           and len(octet) > 2) else [octet]
        for item in items:
            m = _RBL_ITEM_RE.fullmatch(item)
            if not m or int(m.group(1)) > 255 or (m.group(2) is not None and not (
                    int(m.group(1)) <= int(m.group(2)) <= 255)):
                return bad
            if m.group(2) is not None and not octet.startswith("["):
                return bad
    return None


@dataclass(frozen=True)
class Sasl(Section):
    KEY: ClassVar[str] = "sasl"

    backend: str = "dovecot"
    """``dovecot`` (Postfix asks Dovecot's auth socket) or ``cyrus`` (saslauthd + PAM)."""
    pam_group: str = ""
    """If set, only members of this group may authenticate (guide 001's allow-list)."""

    @classmethod
    def parse(cls, p: Parser) -> Sasl:
        s = p.sub("sasl")
        p.unknown_keys(s, [f.name for f in fields(cls)], "sasl")
        backend = str(s.get("backend", _SASL.backend))
        if backend not in SASL_BACKENDS:
            p.error("sasl.backend", f"must be one of {', '.join(SASL_BACKENDS)}")
        pam_group = str(s.get("pam_group", "") or "")
        if pam_group and (msg := check_user(pam_group)):
            p.error("sasl.pam_group", msg.replace("user name", "group name"))
        return cls(backend=backend, pam_group=pam_group)

    def to_dict(self, include_secrets: bool = False) -> Dict[str, Any]:
        return {"backend": self.backend, "pam_group": self.pam_group}

    def summary(self, answers: Answers) -> List[Tuple[str, str]]:
        return [("SASL", self.backend + (f", only group {self.pam_group}"
                                         if self.pam_group else ""))]


_SASL = Sasl()


@dataclass(frozen=True)
class Restrictions(Section):
    KEY: ClassVar[str] = "restrictions"
    FORM_KEYS: ClassVar[Tuple[str, ...]] = ("rbl", "helo_required", "reject_unknown_helo")

    rbl: Tuple[str, ...] = ()
    """DNS block lists consulted with reject_rbl_client, each ``domain`` or
    ``domain=d.d.d.d`` with Postfix's return-code filter (``zen.spamhaus.org=127.0.0.[2..11]``
    counts only real listings, not Spamhaus's 127.255.255.x error answers)."""
    sender_access: Tuple[Tuple[str, str], ...] = ()
    """(address or domain, action) pairs for the sender_access map."""
    helo_required: bool = True
    reject_unknown_helo: bool = False
    """Strict: reject clients whose HELO name has no DNS record (may hurt legitimate mail)."""
    message_size_limit: int = 0
    """Bytes; 0 keeps Postfix's default."""
    smtpd_error_sleep_time: int = 1
    smtpd_soft_error_limit: int = 10
    smtpd_hard_error_limit: int = 20
    sender_login: bool = True
    """Bind senders to logins on the submission port: a logged-in user may send only as their
    own address and the aliases that end at them alone (smtpd_sender_login_maps)."""
    reject_unknown_client: bool = False
    """Client stage: reject clients whose address has no reverse DNS name
    (reject_unknown_reverse_client_hostname; may hurt small legitimate servers)."""
    smtpd_client_connection_rate_limit: int = 60
    """Connections one client may open per minute (anvil); 0: no limit."""
    smtpd_client_message_rate_limit: int = 100
    """Messages one client may send per minute (anvil); 0: no limit."""
    smtpd_client_auth_rate_limit: int = 20
    """AUTH commands one client may send per minute (anvil); 0: no limit."""
    postgrey_delay: int = 300
    """Seconds postgrey makes an unknown sender wait before its retry is accepted (with the
    optional postgrey step)."""
    spf: bool = True
    """Check the sender's SPF record on mail from other servers (the distribution's
    policyd-spf; from EPEL on EL) and refuse mail whose SPF result is fail."""

    @classmethod
    def parse(cls, p: Parser) -> Restrictions:
        r = p.sub("restrictions")
        p.unknown_keys(r, [f.name for f in fields(cls)], "restrictions")
        rbl: List[str] = []
        for i, host in enumerate(as_list(r.get("rbl"))):
            if (msg := check_rbl(str(host).strip())):
                p.error(f"restrictions.rbl[{i}]", msg)
            else:
                rbl.append(str(host).strip().lower())
        sender_access = _sender_access(p, r.get("sender_access") or {})
        d = _RESTRICTIONS

        def num(key: str, lo: int, hi: int) -> int:
            return p.opt_int(r, key, getattr(d, key), f"restrictions.{key}", lo, hi)

        return cls(
            rbl=tuple(rbl),
            sender_access=tuple(sender_access),
            helo_required=p.opt_bool(r, "helo_required", d.helo_required,
                                     "restrictions.helo_required"),
            reject_unknown_helo=p.opt_bool(r, "reject_unknown_helo", d.reject_unknown_helo,
                                           "restrictions.reject_unknown_helo"),
            message_size_limit=num("message_size_limit", 0, 2_000_000_000),
            smtpd_error_sleep_time=num("smtpd_error_sleep_time", 0, 60),
            smtpd_soft_error_limit=num("smtpd_soft_error_limit", 1, 1000),
            smtpd_hard_error_limit=num("smtpd_hard_error_limit", 1, 1000),
            sender_login=p.opt_bool(r, "sender_login", d.sender_login,
                                    "restrictions.sender_login"),
            reject_unknown_client=p.opt_bool(r, "reject_unknown_client",
                                             d.reject_unknown_client,
                                             "restrictions.reject_unknown_client"),
            smtpd_client_connection_rate_limit=num("smtpd_client_connection_rate_limit", 0,
                                                   100_000),
            smtpd_client_message_rate_limit=num("smtpd_client_message_rate_limit", 0, 100_000),
            smtpd_client_auth_rate_limit=num("smtpd_client_auth_rate_limit", 0, 100_000),
            postgrey_delay=num("postgrey_delay", 1, 3600),
            spf=p.opt_bool(r, "spf", d.spf, "restrictions.spf"),
        )

    def to_dict(self, include_secrets: bool = False) -> Dict[str, Any]:
        return {
            "rbl": list(self.rbl),
            "sender_access": {k: v for k, v in self.sender_access},
            "helo_required": self.helo_required,
            "reject_unknown_helo": self.reject_unknown_helo,
            "message_size_limit": self.message_size_limit,
            "smtpd_error_sleep_time": self.smtpd_error_sleep_time,
            "smtpd_soft_error_limit": self.smtpd_soft_error_limit,
            "smtpd_hard_error_limit": self.smtpd_hard_error_limit,
            "sender_login": self.sender_login,
            "reject_unknown_client": self.reject_unknown_client,
            "smtpd_client_connection_rate_limit": self.smtpd_client_connection_rate_limit,
            "smtpd_client_message_rate_limit": self.smtpd_client_message_rate_limit,
            "smtpd_client_auth_rate_limit": self.smtpd_client_auth_rate_limit,
            "postgrey_delay": self.postgrey_delay,
            "spf": self.spf,
        }

    def summary(self, answers: Answers) -> List[Tuple[str, str]]:
        return [("Block lists", ", ".join(self.rbl) or "-")]


_RESTRICTIONS = Restrictions()


def _sender_access(p: Parser, raw: Any) -> List[Tuple[str, str]]:
    """The ``sender_access`` map: sender address, ``@domain`` or domain -> access action."""
    out: List[Tuple[str, str]] = []
    if not isinstance(raw, Mapping):
        p.error("restrictions.sender_access", "must be a mapping of sender to action")
        return out
    for key, action in raw.items():
        where = f"restrictions.sender_access.{key}"
        key = str(key).lower()
        if "@" in key and not key.startswith("@"):
            if (msg := check_address(key)):
                p.error(where, msg)
                continue
        elif (msg := check_domain(key.lstrip("@"))):
            p.error(where, msg)
            continue
        act = str(action).strip()
        if not _ACTION_TEXT_RE.fullmatch(act):
            p.error(where, "action must be one line of printable ASCII (at most 200 characters)")
            continue
        if act.split(" ", 1)[0].upper() not in _ACCESS_ACTIONS:
            p.error(where, "action must start with one of " + ", ".join(_ACCESS_ACTIONS))
            continue
        out.append((key, act))
    return out
