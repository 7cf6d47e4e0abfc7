"""The account tools, done on a rehearsal's scratch root: ``useradd``, ``groupadd``,
``usermod -a -G``, ``gpasswd -d``, ``userdel`` and ``groupdel`` edit its ``/etc/passwd`` and
``/etc/group`` (and a new user's home, from ``/etc/skel`` with ``-m``) through the executor,
so nothing outside the scratch root is ever written.

Only what the steps use is understood; anything else answers exit status 2 (bad usage).
"""

from __future__ import annotations

from typing import List, Optional, Set

from .root import Executor

PASSWD, GROUP = "/etc/passwd", "/etc/group"


def _lines(ex: Executor, path: str) -> List[str]:
    return (ex.read_text(path) or "").splitlines()


def _write(ex: Executor, path: str, lines: List[str]) -> None:
    st = ex.stat(path, follow=True)
    mode, uid, gid = (st.mode, st.uid, st.gid) if st is not None else (0o644, 0, 0)
    ex.write_atomic(path, "".join(f"{x}\n" for x in lines).encode(), mode, uid, gid)


def _free_id(used: Set[int], system: bool) -> int:
    if system:
        n = 999
        while n in used:
            n -= 1
        return n
    n = 1000
    while n in used:
        n += 1
    return n


def _copy_tree(ex: Executor, src: str, dest: str, uid: int, gid: int) -> None:
    for name in ex.listdir(src):
        s, d = f"{src}/{name}", f"{dest}/{name}"
        st = ex.stat(s)
        if st is None or st.is_link:
            continue
        if st.is_dir:
            ex.makedirs(d, st.mode, uid, gid)
            _copy_tree(ex, s, d, uid, gid)
        else:
            ex.write_atomic(d, ex.read_bytes(s) or b"", st.mode, uid, gid)


def _remove_tree(ex: Executor, target: str) -> None:
    st = ex.stat(target)
    if st is None:
        return
    if st.is_dir and not st.is_link:
        for name in ex.listdir(target):
            _remove_tree(ex, f"{target}/{name}")
    ex.remove(target)


def _useradd(ex: Executor, args: List[str]) -> int:
    system = "-r" in args
    home = "-m" in args
    shell = "/bin/sh"
    if "-s" in args and args.index("-s") + 1 < len(args):
        shell = args[args.index("-s") + 1]
    name = args[-1]
    if name in ex.users():
        return 9  # useradd: the user exists
    uid = _free_id({u[0] for u in ex.users().values()}, system)
    groups = ex.groups()
    if name in groups:
        return 9
    gid = uid if uid not in {g[0] for g in groups.values()} else _free_id(
        {g[0] for g in groups.values()}, system)
    _write(ex, PASSWD, _lines(ex, PASSWD) + [f"{name}:x:{uid}:{gid}::/home/{name}:{shell}"])
    _write(ex, GROUP, _lines(ex, GROUP) + [f"{name}:x:{gid}:"])
    if home:
        ex.makedirs(f"/home/{name}", 0o700, uid, gid)
        _copy_tree(ex, "/etc/skel", f"/home/{name}", uid, gid)
    return 0


def _set_member(ex: Executor, group: str, user: str, add: bool) -> int:
    lines = _lines(ex, GROUP)
    for i, line in enumerate(lines):
        f = line.split(":")
        if f[0] == group and len(f) >= 3:
            members = [m for m in (f[3].split(",") if len(f) > 3 else []) if m]
            if add and user not in members:
                members.append(user)
            elif not add:
                if user not in members:
                    return 3
                members.remove(user)
            lines[i] = ":".join(f[:3] + [",".join(members)])
            _write(ex, GROUP, lines)
            return 0
    return 6  # no such group


def _userdel(ex: Executor, args: List[str]) -> int:
    name = args[-1]
    users = ex.users()
    if name not in users:
        return 6
    uid, gid, home = users[name]
    _write(ex, PASSWD, [x for x in _lines(ex, PASSWD) if x.split(":", 1)[0] != name])
    own = ex.groups().get(name)
    if own is not None and own[0] == gid and not own[1]:
        _write(ex, GROUP, [x for x in _lines(ex, GROUP) if x.split(":", 1)[0] != name])
    if "-r" in args and home.startswith("/home/"):
        _remove_tree(ex, home)
    return 0


def _groupadd(ex: Executor, args: List[str]) -> int:
    name = args[-1]
    groups = ex.groups()
    if name in groups:
        return 9
    gid = _free_id({g[0] for g in groups.values()}, "-r" in args)
    _write(ex, GROUP, _lines(ex, GROUP) + [f"{name}:x:{gid}:"])
    return 0


def _groupdel(ex: Executor, args: List[str]) -> int:
    name = args[-1]
    if name not in ex.groups():
        return 6
    _write(ex, GROUP, [x for x in _lines(ex, GROUP) if x.split(":", 1)[0] != name])
    return 0


def account_tool(ex: Executor, argv: List[str]) -> int:
    """Do what the account tool ``argv`` would do to the root of ``ex``; its exit status."""
    prog, args = argv[0], argv[1:]
    if not args:
        return 2
    result: Optional[int] = None
    if prog == "useradd":
        result = _useradd(ex, args)
    elif prog == "groupadd":
        result = _groupadd(ex, args)
    elif prog == "usermod" and args[:2] == ["-a", "-G"] and len(args) == 4:
        result = _set_member(ex, args[2], args[3], add=True)
    elif prog == "gpasswd" and args[0] == "-d" and len(args) == 3:
        result = _set_member(ex, args[2], args[1], add=False)
    elif prog == "userdel":
        result = _userdel(ex, args)
    elif prog == "groupdel":
        result = _groupdel(ex, args)
    return 2 if result is None else result
