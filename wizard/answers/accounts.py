"""The sections about people and addresses: ``users``, ``admin_user``, the alias maps."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Dict, List, Mapping, Optional, Set, Tuple

from ..secret import Secret
from .base import Parser, Section
from .host import Identity
from .validators import (
    ALIAS_NAME_RE,
    USER_RE,
    as_list,
    check_address,
    check_domain,
    check_user,
    find_loop,
    printable,
)

if TYPE_CHECKING:
    from .model import Answers

AliasMap = Tuple[Tuple[str, Tuple[str, ...]], ...]


@dataclass(frozen=True)
class User:
    """A local mail user (a system account; Dovecot and SASL authenticate it through PAM)."""

    name: str
    create: bool = False
    """Create the account if it does not exist."""
    password: Optional[Secret] = None
    """Initial password when the account is created; never stored in the session."""
    shell: str = ""
    """Login shell of an account created here; empty: the platform's nologin (mail only)."""


@dataclass(frozen=True)
class Users(Section):
    """``users``: each a name or a mapping with ``name``, ``create`` and ``password``."""

    users: Tuple[User, ...] = ()

    def names(self) -> Set[str]:
        return {u.name for u in self.users}

    @classmethod
    def parse(cls, p: Parser) -> Users:
        users: List[User] = []
        raw_users = p.data.get("users", [])
        if not isinstance(raw_users, list):
            p.error("users", "must be a list")
            raw_users = []
        seen: Set[str] = set()
        for i, entry in enumerate(raw_users):
            where = f"users[{i}]"
            if isinstance(entry, str):
                entry = {"name": entry}
            if not isinstance(entry, Mapping):
                p.error(where, "must be a user name or a mapping with 'name'")
                continue
            p.unknown_keys(entry, ("name", "create", "password", "shell"), where)
            name = entry.get("name")
            if (msg := check_user(name)) or not isinstance(name, str):
                p.error(f"{where}.name", msg or "must be text")
                continue
            if name in seen:
                p.error(f"{where}.name", f"{name!r} is listed twice")
                continue
            seen.add(name)
            create = p.opt_bool(entry, "create", False, f"{where}.create")
            password = _password(p, entry.get("password"), create, where)
            shell = _shell(p, entry.get("shell"), create, where)
            if p.existing_users is not None and not create and name not in p.existing_users:
                p.error(f"{where}.name",
                        f"user {name!r} does not exist on this server (set create: true)")
            users.append(User(name=name, create=create, password=password, shell=shell))
        return cls(users=tuple(users))

    def to_dict(self, include_secrets: bool = False) -> Dict[str, Any]:
        users: List[Dict[str, Any]] = []
        for u in self.users:
            d: Dict[str, Any] = {"name": u.name, "create": u.create}
            if u.shell:
                d["shell"] = u.shell
            if include_secrets and u.password is not None:
                d["password"] = u.password.reveal()
            users.append(d)
        return {"users": users}

    def summary(self, answers: Answers) -> List[Tuple[str, str]]:
        return [("Users", ", ".join(
            f"{u.name}{' (new)' if u.create else ''}" for u in self.users) or "-")]


SHELL_RE = re.compile(r"/(?:[A-Za-z0-9._+-]+/)*[A-Za-z0-9._+-]+", re.ASCII)
"""A login shell: an absolute path of plain name parts (checked against /etc/shells when the
plan is made)."""


def _shell(p: Parser, shell: Any, create: bool, where: str) -> str:
    if shell is None or shell == "":
        return ""
    if not isinstance(shell, str) or not SHELL_RE.fullmatch(shell) or len(shell) > 255 \
            or ".." in shell.split("/") or "." in shell.split("/"):
        p.error(f"{where}.shell", f"{printable(str(shell))!r} is not a shell path (an absolute "
                                  "path: letters, digits and . _ + - only, no '..')")
    elif not create:
        p.error(f"{where}.shell", "only used for a user created here; an existing account "
                                  "keeps its shell (set create: true or drop it)")
    else:
        return shell
    return ""


def check_password(pw: Any) -> Optional[str]:
    """Why ``pw`` cannot be a mail user's password, or None (the answers' ``password`` and
    ``mailwizard user add|passwd`` both check with this)."""
    if not isinstance(pw, str) or len(pw) < 8:
        return "must be at least 8 characters"
    if len(pw) > 1024:
        return "must be at most 1024 characters"
    if any(ch in pw for ch in "\n\r\x00"):
        return "must be one line (no line breaks or NUL)"
    return None


def _password(p: Parser, pw: Any, create: bool, where: str) -> Optional[Secret]:
    if pw is None:
        return None
    if (msg := check_password(pw)):
        p.error(f"{where}.password", msg)
    elif not create:
        p.error(f"{where}.password", "only used for a user created here "
                                     "(set create: true or drop it)")
    else:
        return Secret(pw)
    return None


@dataclass(frozen=True)
class Admin(Section):
    """``admin_user``: one of the users (or an account on the target); gets root's mail."""

    admin_user: str = ""

    @classmethod
    def parse(cls, p: Parser) -> Admin:
        seen = p.section(Users).names()
        existing = p.existing_users
        admin = p.req_str("admin_user")
        if admin and (msg := check_user(admin)):
            p.error("admin_user", msg)
        elif admin and admin not in seen and not (existing and admin in existing):
            p.error("admin_user", f"{admin!r} must be one of the users")
        if admin == "root":
            p.error("admin_user", "root must not read mail: name a normal user")
        return cls(admin_user=admin)

    def to_dict(self, include_secrets: bool = False) -> Dict[str, Any]:
        return {"admin_user": self.admin_user}

    def summary(self, answers: Answers) -> List[Tuple[str, str]]:
        return [("Admin (receives root's mail)", self.admin_user)]


@dataclass(frozen=True)
class Aliases(Section):
    """``aliases`` (local names), ``virtual_alias_domains`` and ``virtual_aliases``."""

    FORM_START_ALIASES: ClassVar[Dict[str, str]] = {"postmaster": "root", "abuse": "root"}
    """The form suggests the two addresses every mail domain should answer, both for root
    (whose mail goes to the admin)."""

    aliases: AliasMap = ()
    virtual_alias_domains: Tuple[str, ...] = ()
    virtual_aliases: AliasMap = ()

    @classmethod
    def parse(cls, p: Parser) -> Aliases:
        ident = p.section(Identity)
        local_domains = (ident.domain, ident.hostname)
        known_locals: Set[str] = p.section(Users).names() | {"root", "postmaster"}
        if p.existing_users:
            known_locals |= p.existing_users

        aliases = _alias_map(p, "aliases", address_keys=False)
        alias_names = {n for n, _ in aliases}
        if "root" in alias_names:
            p.error("aliases.root", "root's mail goes to admin_user; set that instead")
        for name, targets in aliases:
            for t in targets:
                if "@" not in t and t not in known_locals and t not in alias_names:
                    p.error(f"aliases.{name}",
                            f"target {t!r} is neither a user, an alias nor an address")
        loop = find_loop({n: [t for t in ts if "@" not in t] for n, ts in aliases})
        if loop:
            p.error("aliases", "alias loop: " + " -> ".join(loop))

        vdomains: List[str] = []
        for i, d in enumerate(as_list(p.data.get("virtual_alias_domains"))):
            d = str(d).lower().rstrip(".")
            if (msg := check_domain(d)):
                p.error(f"virtual_alias_domains[{i}]", msg)
            elif d in local_domains:
                p.error(f"virtual_alias_domains[{i}]",
                        f"{d!r} is already a local domain (mydestination); a domain must "
                        "not be both")
            else:
                vdomains.append(d)
        valiases = _alias_map(p, "virtual_aliases", address_keys=True)
        for name, targets in valiases:
            dom = name.split("@", 1)[1] if "@" in name else ""
            if dom and dom not in vdomains and dom not in local_domains:
                p.error(f"virtual_aliases.{name}",
                        f"domain {dom!r} is neither the mail domain nor listed in "
                        "virtual_alias_domains")
            for t in targets:
                if "@" not in t and t not in known_locals and t not in alias_names:
                    p.error(f"virtual_aliases.{name}",
                            f"target {t!r} is neither a user, an alias nor an address")
        vloop = find_loop({n: list(ts) for n, ts in valiases})
        if vloop:
            p.error("virtual_aliases", "alias loop: " + " -> ".join(vloop))
        return cls(aliases=tuple(aliases), virtual_alias_domains=tuple(vdomains),
                   virtual_aliases=tuple(valiases))

    def to_dict(self, include_secrets: bool = False) -> Dict[str, Any]:
        return {"aliases": {k: list(v) for k, v in self.aliases},
                "virtual_alias_domains": list(self.virtual_alias_domains),
                "virtual_aliases": {k: list(v) for k, v in self.virtual_aliases}}

    def summary(self, answers: Answers) -> List[Tuple[str, str]]:
        return [("Aliases", _show(self.aliases)), ("Virtual aliases", _show(self.virtual_aliases))]

    @classmethod
    def form_start(cls) -> Dict[str, Any]:
        return {"aliases": dict(cls.FORM_START_ALIASES)}


def _show(amap: AliasMap) -> str:
    return ", ".join(f"{k} -> {','.join(v)}" for k, v in amap) or "-"


def _alias_map(p: Parser, key: str, address_keys: bool) -> List[Tuple[str, Tuple[str, ...]]]:
    """``key`` (a mapping of name to target or targets) with every name and target checked;
    ``address_keys``: the names are addresses or ``@domain`` catch-alls (virtual aliases)."""
    raw = p.data.get(key) or {}
    if not isinstance(raw, Mapping):
        p.error(key, "must be a mapping of name to target(s)")
        return []
    out: List[Tuple[str, Tuple[str, ...]]] = []
    for name, targets in raw.items():
        where = f"{key}.{name}"
        name = str(name).strip().lower()
        if address_keys:
            if name.startswith("@"):
                if (msg := check_domain(name[1:])):
                    p.error(where, f"catch-all domain {msg}")
                    continue
            elif (msg := check_address(name)):
                p.error(where, msg)
                continue
        elif not ALIAS_NAME_RE.fullmatch(name):
            p.error(where, f"{name!r} is not a valid alias name")
            continue
        tlist = [str(t).strip() for t in as_list(targets)]
        if not tlist:
            p.error(where, "needs at least one target")
            continue
        good = []
        for t in tlist:
            if t.startswith(("|", "/", ":include:", '"')) or "|" in t:
                p.error(where, f"target {t!r}: commands and files are not "
                               "allowed as alias targets here")
                continue
            if "@" in t:
                if (msg := check_address(t)):
                    p.error(where, msg)
                    continue
            elif not (ALIAS_NAME_RE.fullmatch(t) or USER_RE.fullmatch(t)):
                p.error(where, f"target {t!r} is not a user, alias or address")
                continue
            good.append(t)
        out.append((name, tuple(good)))
    return out
