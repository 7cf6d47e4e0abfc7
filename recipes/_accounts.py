"""Account helpers: where a user's home is and which group is theirs (new or existing)."""

from __future__ import annotations

from typing import List, Mapping, Tuple


def user_home(name: str, users: Mapping[str, Tuple[int, int, str]]) -> str:
    """Home directory of ``name``: from the passwd table when the account exists, else the
    ``/home/<name>`` that ``useradd -m`` gives a new account."""
    if name in users and users[name][2]:
        return users[name][2]
    return f"/home/{name}"


def primary_group(name: str, users: Mapping[str, Tuple[int, int, str]],
                  groups: Mapping[str, Tuple[int, List[str]]]) -> str:
    """Name of the primary group of ``name`` (a new account gets a group of its own name)."""
    if name in users:
        gid = users[name][1]
        for gname, (g, _members) in groups.items():
            if g == gid:
                return gname
    return name
