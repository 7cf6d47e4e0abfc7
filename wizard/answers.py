"""The admin's answers: a validated, immutable model loaded from YAML or built by the TUI form.

Every field is checked by a small validator that returns a message naming the field; an answers
file with any bad field is refused as a whole (:class:`~wizard.errors.AnswersError` lists every
problem). Passwords are :class:`~wizard.secret.Secret` and are never written by :meth:`to_dict`
unless asked for.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import yaml

from .errors import AnswersError
from .secret import Secret

KEY_TYPES = ("rsa2048", "rsa3072", "rsa4096", "ecdsa-p256", "ecdsa-p384")
SASL_BACKENDS = ("dovecot", "cyrus")
CERT_MODES = ("self-signed", "import")
INET_PROTOCOLS = ("all", "ipv4", "ipv6")
OPTIONAL_STEPS = ("firewall", "postgrey", "virtual-aliases")

# ASCII only (re.ASCII: no case folding of "\u017f" or "\u212a" into [a-z]); always fullmatch
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)", re.ASCII)
_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}", re.ASCII)
_LOCALPART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}", re.ASCII)
_ALIAS_NAME = re.compile(r"[a-z0-9][a-z0-9._+-]{0,63}", re.ASCII)
_PATH = re.compile(r"/[A-Za-z0-9._+@/-]{0,4095}", re.ASCII)
_COUNTRY = re.compile(r"[A-Z]{2}", re.ASCII)
_NETWORK_CHARS = re.compile(r"[0-9A-Fa-f:./\[\]]{1,64}", re.ASCII)
_ACTION_TEXT = re.compile(r"[ -~]{1,200}", re.ASCII)
MAX_YAML_BYTES = 1_000_000
MAX_YAML_DEPTH = 16
MAX_YAML_NODES = 50_000
_ACCESS_ACTIONS = ("REJECT", "OK", "DISCARD", "HOLD", "DUNNO")

Errors = List[Tuple[str, str]]


# --------------------------------------------------------------------------- validators
def check_hostname(value: Any, *, fqdn: bool = True) -> Optional[str]:
    """Return an error message if ``value`` is not a valid (fully qualified) host name."""
    if not isinstance(value, str) or not value:
        return "must be a host name such as mail.example.com"
    name = value.rstrip(".")
    if len(name) > 253:
        return "is longer than 253 characters"
    labels = name.split(".")
    for label in labels:
        if not _LABEL.fullmatch(label):
            return (
                f"label {label!r} is not valid (letters, digits and inner hyphens, "
                "1 to 63 characters)"
            )
    if fqdn and len(labels) < 2:
        return "must be fully qualified (at least one dot), e.g. mail.example.com"
    if labels[-1].isdigit():
        return "must not end in a numeric label (that looks like an IP address)"
    return None


def check_domain(value: Any) -> Optional[str]:
    return check_hostname(value, fqdn=True)


def normalize_network(value: Any) -> Tuple[Optional[str], Optional[str]]:
    """Validate one mynetworks entry; return ``(postfix_form, error)``.

    IPv6 networks are written the way Postfix wants them in mynetworks: ``[::1]/128``.
    """
    if not isinstance(value, str) or not value.strip():
        return None, "must be a network in CIDR form, e.g. 192.0.2.0/24 or [2001:db8::]/32"
    text = value.strip()
    if not _NETWORK_CHARS.fullmatch(text):
        return None, (f"{value!r} is not a network: only digits, hex letters, ':', '.', '/' "
                      "and brackets are allowed (no zone index, no spaces)")
    bracketed = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](/\d+)?", text, re.ASCII)
    if bracketed:
        text = bracketed.group(1) + (bracketed.group(2) or "")
    if "/" not in text:
        text += "/128" if ":" in text else "/32"
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return None, f"{value!r} is not a valid network ({exc})"
        return None, f"{value!r} has host bits set; did you mean {loose.compressed}?"
    if net.prefixlen == 0:
        return None, f"{value!r} matches every address: that would make an open relay"
    if net.version == 4 and net.prefixlen < 8:
        return None, f"{value!r} is wider than a /8: too wide to trust for relaying"
    if net.version == 6 and net.prefixlen < 16:
        return None, f"{value!r} is wider than a /16: too wide to trust for relaying"
    if net.version == 6:
        return f"[{net.network_address.compressed}]/{net.prefixlen}", None
    return net.compressed, None


def check_user(value: Any) -> Optional[str]:
    if not isinstance(value, str) or not _USER.fullmatch(value):
        return (
            f"{value!r} is not a valid user name (lower-case letter or _ first, then letters, "
            "digits, _ or -, at most 32 characters)"
        )
    return None


def check_address(value: Any) -> Optional[str]:
    """An e-mail address ``local@domain``."""
    if not isinstance(value, str) or value.count("@") != 1:
        return f"{value!r} is not an e-mail address"
    local, dom = value.split("@")
    if not _LOCALPART.fullmatch(local):
        return f"{value!r} has an invalid local part"
    err = check_domain(dom)
    return f"{value!r}: domain {err}" if err else None


def check_path(value: Any) -> Optional[str]:
    if not isinstance(value, str) or not value.startswith("/"):
        return f"{value!r} must be an absolute path"
    if not _PATH.fullmatch(value) or ".." in value.split("/"):
        return (f"{value!r} is not an acceptable path (letters, digits and . _ + @ - / only, "
                "no '..', no spaces)")
    return None


def _as_list(value: Any) -> List[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[,\s]+", value) if v.strip()]
    return [value]


_BAD_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))


def text_problem(value: str) -> Optional[str]:
    """Why ``value`` cannot be an answer at all, or None.

    Control characters (newlines above all: every answer ends up in a config line, a map
    entry or a command's input), format characters such as bidi overrides, lone surrogates,
    private-use and unassigned code points and the Unicode line separators are refused
    everywhere. The field validators then narrow each field further (most to ASCII)."""
    for ch in value:
        if unicodedata.category(ch) in _BAD_CATEGORIES:
            return f"contains the character U+{ord(ch):04X}, which is not allowed in an answer"
    return None


def _printable(text: str) -> str:
    """``text`` with anything :func:`text_problem` refuses replaced, for error messages."""
    return "".join("?" if unicodedata.category(ch) in _BAD_CATEGORIES and ch != "\n" else ch
                   for ch in text)


def _text_errors(data: Any) -> Errors:
    """Every string (key or value) in ``data`` that :func:`text_problem` refuses, by field.

    Iterative, so any nesting depth is safe (the TUI and callers may pass built data)."""
    errors: Errors = []
    todo: List[Tuple[str, Any]] = [("", data)]
    while todo:
        where, value = todo.pop()
        if isinstance(value, str):
            msg = text_problem(value)
            if msg:
                errors.append((where or "(file)", msg))
        elif isinstance(value, Mapping):
            for k, v in value.items():
                if isinstance(k, str) and (msg := text_problem(k)):
                    errors.append((f"{where}.{ascii(k)}" if where else ascii(k), msg))
                    continue
                todo.append((f"{where}.{k}" if where else str(k), v))
        elif isinstance(value, (list, tuple, set, frozenset)):
            for i, v in enumerate(value):
                todo.append((f"{where}[{i}]", v))
    return sorted(errors)


# --------------------------------------------------------------------------- model
@dataclass(frozen=True)
class User:
    """A local mail user (a system account; Dovecot and SASL authenticate it through PAM)."""

    name: str
    create: bool = False
    """Create the account if it does not exist."""
    password: Optional[Secret] = None
    """Initial password when the account is created; never stored in the session."""


@dataclass(frozen=True)
class Certificate:
    mode: str = "self-signed"
    """``self-signed`` (made by mailwizard with ``cryptography``) or ``import``."""
    common_name: str = ""
    """Defaults to the host name."""
    organization: str = ""
    country: str = ""
    days: int = 825
    key_type: str = "rsa2048"
    extra_names: Tuple[str, ...] = ()
    """Further DNS names or IP addresses for the subjectAltName."""
    cert_file: str = ""
    key_file: str = ""
    chain_file: str = ""
    csr: bool = False
    """Also write a certificate signing request to send to a CA."""


@dataclass(frozen=True)
class Sasl:
    backend: str = "dovecot"
    """``dovecot`` (Postfix asks Dovecot's auth socket) or ``cyrus`` (saslauthd + PAM)."""
    pam_group: str = ""
    """If set, only members of this group may authenticate (guide 001's allow-list)."""


@dataclass(frozen=True)
class Restrictions:
    rbl: Tuple[str, ...] = ()
    """DNS block lists consulted with reject_rbl_client."""
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


@dataclass(frozen=True)
class Answers:
    """Everything mailwizard needs to know; see ``wizard/demo/*.yaml`` for an example file."""

    hostname: str
    domain: str
    admin_user: str
    mynetworks: Tuple[str, ...] = ("127.0.0.0/8", "[::1]/128")
    inet_interfaces: str = "all"
    inet_protocols: str = "all"
    users: Tuple[User, ...] = ()
    aliases: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    virtual_alias_domains: Tuple[str, ...] = ()
    virtual_aliases: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    certificate: Certificate = field(default_factory=Certificate)
    sasl: Sasl = field(default_factory=Sasl)
    restrictions: Restrictions = field(default_factory=Restrictions)
    imap: bool = True
    pop3: bool = True
    plaintext_ports: bool = False
    """Also open 110/143 in the firewall (login there still needs STARTTLS)."""
    steps: Tuple[Tuple[str, bool], ...] = (
        ("firewall", True),
        ("postgrey", False),
        ("virtual-aliases", True),
    )

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
        users: List[Dict[str, Any]] = []
        for u in self.users:
            d: Dict[str, Any] = {"name": u.name, "create": u.create}
            if include_secrets and u.password is not None:
                d["password"] = u.password.reveal()
            users.append(d)
        c = self.certificate
        cert: Dict[str, Any] = {"mode": c.mode, "days": c.days, "key_type": c.key_type}
        for key in ("common_name", "organization", "country", "cert_file", "key_file",
                    "chain_file"):
            if getattr(c, key):
                cert[key] = getattr(c, key)
        if c.extra_names:
            cert["extra_names"] = list(c.extra_names)
        if c.csr:
            cert["csr"] = True
        r = self.restrictions
        return {
            "hostname": self.hostname,
            "domain": self.domain,
            "admin_user": self.admin_user,
            "mynetworks": list(self.mynetworks),
            "inet_interfaces": self.inet_interfaces,
            "inet_protocols": self.inet_protocols,
            "users": users,
            "aliases": {k: list(v) for k, v in self.aliases},
            "virtual_alias_domains": list(self.virtual_alias_domains),
            "virtual_aliases": {k: list(v) for k, v in self.virtual_aliases},
            "certificate": cert,
            "sasl": {"backend": self.sasl.backend, "pam_group": self.sasl.pam_group},
            "restrictions": {
                "rbl": list(r.rbl),
                "sender_access": {k: v for k, v in r.sender_access},
                "helo_required": r.helo_required,
                "reject_unknown_helo": r.reject_unknown_helo,
                "message_size_limit": r.message_size_limit,
                "smtpd_error_sleep_time": r.smtpd_error_sleep_time,
                "smtpd_soft_error_limit": r.smtpd_soft_error_limit,
                "smtpd_hard_error_limit": r.smtpd_hard_error_limit,
            },
            "imap": self.imap,
            "pop3": self.pop3,
            "plaintext_ports": self.plaintext_ports,
            "steps": dict(self.steps),
        }

    def summary(self) -> List[Tuple[str, str]]:
        """Short (label, value) pairs for review screens and the runbook (no secrets)."""
        return [
            ("Host name", self.hostname),
            ("Mail domain", self.domain),
            ("Admin (receives root's mail)", self.admin_user),
            ("Trusted networks", ", ".join(self.mynetworks)),
            ("Listen on", f"{self.inet_interfaces} ({self.inet_protocols})"),
            ("Users", ", ".join(
                f"{u.name}{' (new)' if u.create else ''}" for u in self.users) or "-"),
            ("Aliases", ", ".join(f"{k} -> {','.join(v)}" for k, v in self.aliases) or "-"),
            ("Virtual aliases", ", ".join(
                f"{k} -> {','.join(v)}" for k, v in self.virtual_aliases) or "-"),
            ("Certificate", f"{self.certificate.mode}, {self.certificate.key_type}, "
                            f"CN={self.cert_cn}"),
            ("SASL", self.sasl.backend + (f", only group {self.sasl.pam_group}"
                                          if self.sasl.pam_group else "")),
            ("Block lists", ", ".join(self.restrictions.rbl) or "-"),
            ("Mail access", ", ".join(p for p, on in (("IMAP", self.imap), ("POP3", self.pop3))
                                      if on) or "none"),
        ]

    def with_changes(self, **kwargs: Any) -> Answers:
        return replace(self, **kwargs)


# --------------------------------------------------------------------------- parsing
_TOP_KEYS = {f.name for f in fields(Answers)}


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
    errors: Errors = []
    if not isinstance(data, Mapping):
        raise AnswersError([("(file)", "must be a mapping of answer names to values")])
    text_errors = _text_errors(data)
    if text_errors:
        raise AnswersError(text_errors)

    for key in data:
        if key not in _TOP_KEYS:
            errors.append((str(key), "unknown answer (check the spelling)"))

    def req_str(key: str) -> str:
        value = data.get(key)
        if value is None or value == "":
            errors.append((key, "is required"))
            return ""
        if not isinstance(value, str):
            errors.append((key, "must be text"))
            return ""
        return value.strip()

    def opt_bool(mapping: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
        value = mapping.get(key, default)
        if not isinstance(value, bool):
            errors.append((where, "must be true or false"))
            return default
        return value

    def opt_int(mapping: Mapping[str, Any], key: str, default: int, where: str,
                lo: int, hi: int) -> int:
        value = mapping.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            errors.append((where, f"must be a whole number from {lo} to {hi}"))
            return default
        return value

    def sub(key: str) -> Mapping[str, Any]:
        value = data.get(key) or {}
        if not isinstance(value, Mapping):
            errors.append((key, "must be a mapping"))
            return {}
        return value

    hostname = req_str("hostname").lower().rstrip(".")
    if hostname and (msg := check_hostname(hostname)):
        errors.append(("hostname", msg))
    domain = req_str("domain").lower().rstrip(".")
    if domain and (msg := check_domain(domain)):
        errors.append(("domain", msg))
    if (hostname and domain and not any(f in ("hostname", "domain") for f, _ in errors)
            and not (hostname == domain or hostname.endswith("." + domain))):
        errors.append(("hostname", f"{hostname!r} is not inside the mail domain {domain!r}"))

    # networks
    nets: List[str] = []
    raw_nets = data.get("mynetworks", ["127.0.0.0/8", "[::1]/128"])
    for i, entry in enumerate(_as_list(raw_nets)):
        norm, msg = normalize_network(entry)
        if msg:
            errors.append((f"mynetworks[{i}]", msg))
        elif norm and norm not in nets:
            nets.append(norm)
    if not nets and not any(k.startswith("mynetworks") for k, _ in errors):
        errors.append(("mynetworks", "needs at least the loopback network 127.0.0.0/8"))

    inet_interfaces = str(data.get("inet_interfaces", "all")).strip()
    if inet_interfaces not in ("all", "loopback-only", "localhost"):
        for i, addr in enumerate(_as_list(inet_interfaces)):
            try:
                if "%" in str(addr):
                    raise ValueError("zone index")
                ipaddress.ip_address(str(addr))
            except ValueError:
                errors.append((f"inet_interfaces[{i}]",
                               f"{addr!r} is not 'all', 'loopback-only' or an IP address"))
        inet_interfaces = ", ".join(str(a) for a in _as_list(inet_interfaces))
    inet_protocols = str(data.get("inet_protocols", "all")).strip()
    if inet_protocols not in INET_PROTOCOLS:
        errors.append(("inet_protocols", f"must be one of {', '.join(INET_PROTOCOLS)}"))

    # users
    users: List[User] = []
    raw_users = data.get("users", [])
    if not isinstance(raw_users, list):
        errors.append(("users", "must be a list"))
        raw_users = []
    seen: Set[str] = set()
    for i, entry in enumerate(raw_users):
        where = f"users[{i}]"
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, Mapping):
            errors.append((where, "must be a user name or a mapping with 'name'"))
            continue
        for k in entry:
            if k not in ("name", "create", "password"):
                errors.append((f"{where}.{k}", "unknown key"))
        name = entry.get("name")
        if (msg := check_user(name)) or not isinstance(name, str):
            errors.append((f"{where}.name", msg or "must be text"))
            continue
        if name in seen:
            errors.append((f"{where}.name", f"{name!r} is listed twice"))
            continue
        seen.add(name)
        create = opt_bool(entry, "create", False, f"{where}.create")
        pw = entry.get("password")
        password: Optional[Secret] = None
        if pw is not None:
            if not isinstance(pw, str) or len(pw) < 8:
                errors.append((f"{where}.password", "must be at least 8 characters"))
            elif len(pw) > 1024:
                errors.append((f"{where}.password", "must be at most 1024 characters"))
            elif any(ch in pw for ch in "\n\r\x00"):
                errors.append((f"{where}.password", "must be one line (no line breaks or NUL)"))
            elif not create:
                errors.append((f"{where}.password", "only used for a user created here "
                                                    "(set create: true or drop it)"))
            else:
                password = Secret(pw)
        if existing_users is not None and not create and name not in existing_users:
            errors.append((f"{where}.name",
                           f"user {name!r} does not exist on this server (set create: true)"))
        users.append(User(name=name, create=create, password=password))

    admin = req_str("admin_user")
    if admin and (msg := check_user(admin)):
        errors.append(("admin_user", msg))
    elif admin and admin not in seen and not (existing_users and admin in existing_users):
        errors.append(("admin_user", f"{admin!r} must be one of the users"))
    if admin == "root":
        errors.append(("admin_user", "root must not read mail: name a normal user"))

    known_locals: Set[str] = set(seen) | {"root", "postmaster"}
    if existing_users:
        known_locals |= existing_users

    def parse_alias_map(key: str, address_keys: bool) -> List[Tuple[str, Tuple[str, ...]]]:
        raw = data.get(key) or {}
        if not isinstance(raw, Mapping):
            errors.append((key, "must be a mapping of name to target(s)"))
            return []
        out: List[Tuple[str, Tuple[str, ...]]] = []
        for name, targets in raw.items():
            where = f"{key}.{name}"
            name = str(name).strip().lower()
            if address_keys:
                if name.startswith("@"):
                    if (msg := check_domain(name[1:])):
                        errors.append((where, f"catch-all domain {msg}"))
                        continue
                elif (msg := check_address(name)):
                    errors.append((where, msg))
                    continue
            elif not _ALIAS_NAME.fullmatch(name):
                errors.append((where, f"{name!r} is not a valid alias name"))
                continue
            tlist = [str(t).strip() for t in _as_list(targets)]
            if not tlist:
                errors.append((where, "needs at least one target"))
                continue
            good = []
            for t in tlist:
                if t.startswith(("|", "/", ":include:", '"')) or "|" in t:
                    errors.append((where, f"target {t!r}: commands and files are not "
                                          "allowed as alias targets here"))
                    continue
                if "@" in t:
                    if (msg := check_address(t)):
                        errors.append((where, msg))
                        continue
                elif not (_ALIAS_NAME.fullmatch(t) or _USER.fullmatch(t)):
                    errors.append((where, f"target {t!r} is not a user, alias or address"))
                    continue
                good.append(t)
            out.append((name, tuple(good)))
        return out

    aliases = parse_alias_map("aliases", address_keys=False)
    alias_names = {n for n, _ in aliases}
    if "root" in alias_names:
        errors.append(("aliases.root", "root's mail goes to admin_user; set that instead"))
    for name, targets in aliases:
        for t in targets:
            if "@" not in t and t not in known_locals and t not in alias_names:
                errors.append((f"aliases.{name}",
                               f"target {t!r} is neither a user, an alias nor an address"))
    loop = _find_loop({n: [t for t in ts if "@" not in t] for n, ts in aliases})
    if loop:
        errors.append(("aliases", "alias loop: " + " -> ".join(loop)))

    vdomains: List[str] = []
    for i, d in enumerate(_as_list(data.get("virtual_alias_domains"))):
        d = str(d).lower().rstrip(".")
        if (msg := check_domain(d)):
            errors.append((f"virtual_alias_domains[{i}]", msg))
        elif d in (domain, hostname):
            errors.append((f"virtual_alias_domains[{i}]",
                           f"{d!r} is already a local domain (mydestination); a domain must "
                           "not be both"))
        else:
            vdomains.append(d)
    valiases = parse_alias_map("virtual_aliases", address_keys=True)
    for name, targets in valiases:
        dom = name.split("@", 1)[1] if "@" in name else ""
        if dom and dom not in vdomains and dom not in (domain, hostname):
            errors.append((f"virtual_aliases.{name}",
                           f"domain {dom!r} is neither the mail domain nor listed in "
                           "virtual_alias_domains"))
        for t in targets:
            if "@" not in t and t not in known_locals and t not in alias_names:
                errors.append((f"virtual_aliases.{name}",
                               f"target {t!r} is neither a user, an alias nor an address"))
    vloop = _find_loop({n: list(ts) for n, ts in valiases})
    if vloop:
        errors.append(("virtual_aliases", "alias loop: " + " -> ".join(vloop)))

    # certificate
    c = sub("certificate")
    for k in c:
        if k not in {f.name for f in fields(Certificate)}:
            errors.append((f"certificate.{k}", "unknown key"))
    mode = str(c.get("mode", "self-signed"))
    if mode not in CERT_MODES:
        errors.append(("certificate.mode", f"must be one of {', '.join(CERT_MODES)}"))
    cn = str(c.get("common_name", "") or "")
    if cn and (msg := check_hostname(cn, fqdn=True)):
        errors.append(("certificate.common_name", msg))
    org = str(c.get("organization", "") or "")
    if any(ch in org for ch in "/\\=,+\"<>;#") or len(org) > 64 or not org.isprintable():
        errors.append(("certificate.organization",
                       "must be at most 64 printable characters, without / \\ = , + \" < > ; #"))
    country = str(c.get("country", "") or "")
    if country and not _COUNTRY.fullmatch(country):
        errors.append(("certificate.country", "must be a two-letter code such as DE or US"))
    days = opt_int(c, "days", 825, "certificate.days", 1, 3650)
    key_type = str(c.get("key_type", "rsa2048"))
    if key_type not in KEY_TYPES:
        errors.append(("certificate.key_type", f"must be one of {', '.join(KEY_TYPES)} "
                                               "(1024-bit RSA is refused by modern systems)"))
    extra: List[str] = []
    for i, n in enumerate(_as_list(c.get("extra_names"))):
        n = str(n)
        try:
            if "%" in n:
                raise ValueError("zone index")
            ipaddress.ip_address(n)
        except ValueError:
            if (msg := check_hostname(n, fqdn=False)):
                errors.append((f"certificate.extra_names[{i}]", msg))
                continue
        extra.append(n)
    files: Dict[str, str] = {}
    for k in ("cert_file", "key_file", "chain_file"):
        v = str(c.get(k, "") or "")
        if v and (msg := check_path(v)):
            errors.append((f"certificate.{k}", msg))
        files[k] = v
    if mode == "import":
        for k in ("cert_file", "key_file"):
            if not files[k]:
                errors.append((f"certificate.{k}", "is required when mode is import"))
    csr = opt_bool(c, "csr", False, "certificate.csr")
    certificate = Certificate(mode=mode, common_name=cn, organization=org, country=country,
                              days=days, key_type=key_type, extra_names=tuple(extra),
                              cert_file=files["cert_file"], key_file=files["key_file"],
                              chain_file=files["chain_file"], csr=csr)

    # sasl
    s = sub("sasl")
    for k in s:
        if k not in ("backend", "pam_group"):
            errors.append((f"sasl.{k}", "unknown key"))
    backend = str(s.get("backend", "dovecot"))
    if backend not in SASL_BACKENDS:
        errors.append(("sasl.backend", f"must be one of {', '.join(SASL_BACKENDS)}"))
    pam_group = str(s.get("pam_group", "") or "")
    if pam_group and (msg := check_user(pam_group)):
        errors.append(("sasl.pam_group", msg.replace("user name", "group name")))
    sasl = Sasl(backend=backend, pam_group=pam_group)

    # restrictions
    r = sub("restrictions")
    known_r = {f.name for f in fields(Restrictions)}
    for k in r:
        if k not in known_r:
            errors.append((f"restrictions.{k}", "unknown key"))
    rbl: List[str] = []
    for i, host in enumerate(_as_list(r.get("rbl"))):
        if (msg := check_hostname(str(host))):
            errors.append((f"restrictions.rbl[{i}]", msg))
        else:
            rbl.append(str(host).lower())
    sa_raw = r.get("sender_access") or {}
    sender_access: List[Tuple[str, str]] = []
    if not isinstance(sa_raw, Mapping):
        errors.append(("restrictions.sender_access", "must be a mapping of sender to action"))
    else:
        for key, action in sa_raw.items():
            where = f"restrictions.sender_access.{key}"
            key = str(key).lower()
            if "@" in key and not key.startswith("@"):
                if (msg := check_address(key)):
                    errors.append((where, msg))
                    continue
            elif (msg := check_domain(key.lstrip("@"))):
                errors.append((where, msg))
                continue
            act = str(action).strip()
            if not _ACTION_TEXT.fullmatch(act):
                errors.append((where, "action must be one line of printable ASCII "
                                      "(at most 200 characters)"))
                continue
            if act.split(" ", 1)[0].upper() not in _ACCESS_ACTIONS:
                errors.append((where, "action must start with one of "
                                      + ", ".join(_ACCESS_ACTIONS)))
                continue
            sender_access.append((key, act))
    restrictions = Restrictions(
        rbl=tuple(rbl),
        sender_access=tuple(sender_access),
        helo_required=opt_bool(r, "helo_required", True, "restrictions.helo_required"),
        reject_unknown_helo=opt_bool(r, "reject_unknown_helo", False,
                                     "restrictions.reject_unknown_helo"),
        message_size_limit=opt_int(r, "message_size_limit", 0, "restrictions.message_size_limit",
                                   0, 2_000_000_000),
        smtpd_error_sleep_time=opt_int(r, "smtpd_error_sleep_time", 1,
                                       "restrictions.smtpd_error_sleep_time", 0, 60),
        smtpd_soft_error_limit=opt_int(r, "smtpd_soft_error_limit", 10,
                                       "restrictions.smtpd_soft_error_limit", 1, 1000),
        smtpd_hard_error_limit=opt_int(r, "smtpd_hard_error_limit", 20,
                                       "restrictions.smtpd_hard_error_limit", 1, 1000),
    )

    imap = opt_bool(data, "imap", True, "imap")
    pop3 = opt_bool(data, "pop3", True, "pop3")
    if not imap and not pop3:
        errors.append(("imap", "at least one of imap and pop3 must be on"))
    plaintext_ports = opt_bool(data, "plaintext_ports", False, "plaintext_ports")

    steps = dict(Answers.__dataclass_fields__["steps"].default)  # type: ignore[arg-type]
    raw_steps = sub("steps")
    for k, v in raw_steps.items():
        if k not in OPTIONAL_STEPS:
            errors.append((f"steps.{k}", f"is not an optional step ({', '.join(OPTIONAL_STEPS)})"))
        elif not isinstance(v, bool):
            errors.append((f"steps.{k}", "must be true or false"))
        else:
            steps[k] = v
    if valiases and not steps.get("virtual-aliases", True):
        pass  # virtual aliases given but the step is off: they are simply not configured

    if errors:
        raise AnswersError(errors)
    return Answers(
        hostname=hostname, domain=domain, admin_user=admin, mynetworks=tuple(nets),
        inet_interfaces=inet_interfaces, inet_protocols=inet_protocols, users=tuple(users),
        aliases=tuple(aliases), virtual_alias_domains=tuple(vdomains),
        virtual_aliases=tuple(valiases), certificate=certificate, sasl=sasl,
        restrictions=restrictions, imap=imap, pop3=pop3, plaintext_ports=plaintext_ports,
        steps=tuple(sorted(steps.items())),
    )


def _find_loop(graph: Mapping[str, Sequence[str]]) -> Optional[List[str]]:
    """Return one cycle in ``graph`` (name -> names) as a path, or None.

    Iterative depth-first search: a chain of thousands of aliases is fine."""
    state: Dict[str, int] = {}
    for start in graph:
        if state.get(start) is not None:
            continue
        stack: List[Tuple[str, int]] = [(start, 0)]
        path: List[str] = [start]
        state[start] = 1
        while stack:
            node, i = stack[-1]
            nexts = [n for n in graph.get(node, ()) if n in graph]
            if i >= len(nexts):
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            stack[-1] = (node, i + 1)
            nxt = nexts[i]
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if state.get(nxt) is None:
                state[nxt] = 1
                stack.append((nxt, 0))
                path.append(nxt)
    return None


def _check_yaml_shape(text: str, where: str) -> None:
    """Refuse YAML that could exhaust memory or the stack before it is built into objects.

    The event parser is iterative, so this scan is safe on any input; building the objects
    (the composer) recurses and expands aliases, hence the limits: no anchors or aliases
    (an answers file never needs them, and they are how an "alias bomb" multiplies), nesting
    at most :data:`MAX_YAML_DEPTH` deep, at most :data:`MAX_YAML_NODES` values."""
    depth = nodes = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise AnswersError([("(file)", f"{where}: YAML anchors and aliases (& and *) "
                                               "are not accepted in an answers file")])
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise AnswersError([("(file)", f"{where}: nested more than "
                                                   f"{MAX_YAML_DEPTH} levels deep")])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
                if nodes > MAX_YAML_NODES:
                    raise AnswersError([("(file)", f"{where}: more than {MAX_YAML_NODES} "
                                                   "values")])
    except yaml.YAMLError as exc:
        raise AnswersError([("(file)", f"{where} is not valid YAML: "
                                       f"{_printable(str(exc))}")]) from exc


def read_answers_file(path: Path) -> Any:
    """The raw data of an answers YAML file, with size, nesting and alias limits.

    Raises:
        AnswersError: unreadable, too large, not UTF-8, not YAML or shaped to hurt."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise AnswersError([("(file)", f"cannot read {path}: {exc.strerror}")]) from exc
    if len(raw) > MAX_YAML_BYTES:
        raise AnswersError([("(file)", f"{path} is larger than {MAX_YAML_BYTES} bytes")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AnswersError([("(file)", f"{path} is not UTF-8 text (byte {exc.start})")]
                           ) from exc
    _check_yaml_shape(text, str(path))
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise AnswersError([("(file)", f"{path} is not valid YAML: "
                                       f"{_printable(str(exc))}")]) from exc


def load_answers(path: Path, existing_users: Optional[Iterable[str]] = None) -> Answers:
    """Read and validate an answers YAML file."""
    data = read_answers_file(path)
    return parse_answers(data, set(existing_users) if existing_users is not None else None)


def dump_answers(answers: Answers, include_secrets: bool = False) -> str:
    return yaml.safe_dump(answers.to_dict(include_secrets), sort_keys=False,
                          default_flow_style=False)


DEMO_DIR = Path(__file__).parent / "demo"


def demo_answers_path(name: str = "answers") -> Path:
    return DEMO_DIR / f"{name}.yaml"
