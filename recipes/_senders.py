"""Who may send as which address: the sender login map of the submission port (guide 002).

``smtpd_sender_login_maps`` names, for each envelope sender address, the SASL login(s) that
own it; ``reject_authenticated_sender_login_mismatch`` then refuses a logged-in client whose
login does not own the MAIL FROM address. The map is built from the answers only (pure):

* every mail user (and the admin) owns ``user@domain``;
* an alias of /etc/aliases (``root`` -> the admin included) owns ``alias@domain`` for the one
  user it ends at, following aliases of aliases; an alias that reaches two users, or any
  address outside, has no single owner and is left out (nobody may send as it);
* with the virtual alias domains on, a virtual address whose targets end at one local user is
  owned by that user too. Catch-alls (``@domain``) are never given to anyone.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

from wizard.answers import Answers

from ._postfix import map_ref
from .aliases import alias_entries, virtual_enabled

SENDER_LOGINS = "/etc/postfix/sender_logins"


def _local_users(answers: Answers) -> List[str]:
    names = answers.user_names()
    if answers.admin_user and answers.admin_user not in names:
        names.append(answers.admin_user)
    return names


def _owners(name: str, table: Dict[str, List[str]], users: Set[str], domain: str,
            seen: Tuple[str, ...] = ()) -> Optional[Set[str]]:
    """The local users mail for local name ``name`` ends at; None when it also leaves the
    server (an address of another domain) or cannot be followed."""
    name = name.strip().lstrip("\\").lower()
    if "@" in name:
        local, _, dom = name.partition("@")
        if dom != domain:
            return None
        name = local
    if name in seen:  # a name listing itself is delivered to its own mailbox
        return {name} if name in users else None
    if name not in table:
        return {name} if name in users else None
    out: Set[str] = set()
    for target in table[name]:
        got = _owners(target, table, users, domain, seen + (name,))
        if got is None:
            return None
        out |= got
    return out


def sender_logins(answers: Answers) -> List[Tuple[str, str]]:
    """(address, login) pairs of the sender login map, in a stable order."""
    domain = answers.domain
    users = _local_users(answers)
    user_set = set(users)
    table = alias_entries(answers)
    out: Dict[str, str] = {f"{u}@{domain}": u for u in users}
    for name in table:
        address = f"{name}@{domain}"
        owners = _owners(name, table, user_set, domain)
        if address not in out and owners is not None and len(owners) == 1:
            out[address] = next(iter(owners))
    if virtual_enabled(answers):
        for address, targets in answers.virtual_aliases:
            if address.startswith("@") or address in out:
                continue
            found: Optional[Set[str]] = set()
            for t in targets:
                got = _owners(t, table, user_set, domain)
                if got is None or found is None:
                    found = None
                    break
                found |= got
            if found is not None and len(found) == 1:
                out[address] = next(iter(found))
    return list(out.items())


def sender_logins_text(answers: Answers, db: str) -> str:
    entries = sender_logins(answers)
    width = max([len(a) for a, _ in entries] + [24]) + 2
    lines = [
        "# Sender login map written by mailwizard (step \"restrictions\").",
        "# Envelope sender address -> the login that may use it on the submission port (587).",
        "# A logged-in user may send only as the addresses listed here for their login.",
        f"# Postfix reads the indexed copy: run `postmap {map_ref(db, SENDER_LOGINS)}` after "
        "an edit.",
        "",
    ]
    lines += [f"{address:<{width}}{login}" for address, login in entries]
    return "\n".join(lines) + "\n"
