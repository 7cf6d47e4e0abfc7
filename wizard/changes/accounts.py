"""Accounts: users and groups, and the backups of the account files that keep a rollback exact."""

from __future__ import annotations

import shlex
from typing import Any, Dict, List, Mapping, Optional

from ..errors import ExecutorError
from ..executor import sha256
from .base import Change, ChangeContext, Preview, Record, ShellForm, View, quote_argv


# --------------------------------------------------------------------------- accounts
class UserGroup(Change):
    """Create a group and/or a user, or add a user to a group (useradd, groupadd, usermod).

    Exactly one form: ``UserGroup(group=G)``, ``UserGroup(user=U, create_home=True)`` or
    ``UserGroup(user=U, member_of=G)``. Undo deletes what this run created.
    """

    kind = "account"

    def __init__(self, user: str = "", group: str = "", member_of: str = "",
                 create_home: bool = True, shell: str = "/bin/bash", system: bool = False,
                 set_password: bool = False) -> None:
        self.user = user
        self.group = group
        self.member_of = member_of
        self.create_home = create_home
        self.shell = shell
        self.system = system
        self.set_password = set_password

    def describe(self) -> str:
        if self.member_of:
            return f"add user {self.user} to group {self.member_of}"
        if self.user:
            return f"create user {self.user}"
        return f"create group {self.group}"

    def _commands(self) -> List[List[str]]:
        if self.member_of:
            return [["usermod", "-a", "-G", self.member_of, self.user]]
        if self.user:
            cmd = ["useradd"]
            if self.system:
                cmd.append("-r")
            if self.create_home:
                cmd.append("-m")
            cmd += ["-s", self.shell, self.user]
            return [cmd]
        return [["groupadd"] + (["-r"] if self.system else []) + [self.group]]

    def preview(self, view: View) -> Preview:
        cmds = [quote_argv(c) for c in self._commands()]
        if self.set_password:
            cmds.append(f"passwd {shlex.quote(self.user)}   # mailwizard sets the password "
                        "from the answers")
        changed = True
        if self.member_of:
            groups = view.executor.groups()
            changed = self.user not in groups.get(self.member_of, (0, []))[1]
        elif self.user:
            changed = not view.user_exists(self.user)
            view.users.add(self.user)
        else:
            changed = not view.group_exists(self.group)
            view.groups.add(self.group)
        return Preview(self.kind, self.describe(), commands=cmds, changed=changed,
                       note="" if changed else "exists already")

    def prepare(self, ctx: ChangeContext) -> Optional[Record]:
        ex = ctx.executor
        if self.member_of:
            groups = ex.groups()
            if self.member_of in groups and self.user in groups[self.member_of][1]:
                return None
            return self._rec("member")
        if self.user:
            return None if self.user in ex.users() else self._rec("user")
        return None if self.group in ex.groups() else self._rec("group")

    def _rec(self, form: str) -> Record:
        return {"form": form, "user": self.user, "group": self.group,
                "member_of": self.member_of, "create_home": self.create_home}

    def commit(self, ctx: ChangeContext, rec: Record) -> None:
        ex = ctx.executor
        if "accounts_before" not in rec:
            rec["accounts_before"] = save_account_files(ctx)
            ctx.persist()
        done = (self.member_of and self.user in ex.groups().get(self.member_of, (0, []))[1]) or (
            not self.member_of and self.user and self.user in ex.users()) or (
            not self.member_of and not self.user and self.group in ex.groups())
        if not done:
            for cmd in self._commands():
                ex.run(cmd, check=True, timeout=120)
        if self.user and not self.member_of and self.set_password:
            pw = ctx.secrets.get(self.user)
            if pw is None:
                # the plan promised a password: never skip it silently
                raise ExecutorError(f"the password for {self.user} is not in this run's "
                                    f"answers; set it with: passwd {self.user}")
            line = f"{self.user}:{pw.reveal()}"
            if any(c in line for c in "\n\r\x00") or ":" in self.user:
                # answers are validated long before; reaching this is a bug: refuse
                # rather than hand chpasswd a second line (another account's password)
                raise ExecutorError(f"refusing to set the password of {self.user!r}: "
                                    "it would not be one chpasswd line")
            ex.run(["chpasswd"], input=line + "\n", check=True, quiet=True, timeout=60)
            rec["password_set"] = True

    @classmethod
    def took_effect(cls, ctx: ChangeContext, rec: Record) -> Optional[bool]:
        ex = ctx.executor
        if rec["form"] == "member":
            return rec["user"] in ex.groups().get(rec["member_of"], (0, []))[1]
        if rec["form"] == "user":
            return rec["user"] in ex.users()
        return rec["group"] in ex.groups()

    @classmethod
    def undo_record(cls, ctx: ChangeContext, rec: Record, force: bool = False) -> List[str]:
        ex = ctx.executor
        if rec["form"] == "member":
            cmd = ["gpasswd", "-d", rec["user"], rec["member_of"]]
        elif rec["form"] == "user":
            cmd = (["userdel", "-r", rec["user"]] if rec["create_home"]
                   else ["userdel", rec["user"]])
        else:
            cmd = ["groupdel", rec["group"]]
        res = ex.run(cmd, timeout=120)
        if not res.ok:
            return [f"`{quote_argv(cmd)}` failed: {res.output}"]
        restore_account_backups(ctx, rec.get("accounts_before") or {})
        return []


    def shell_form(self, preview: Preview) -> ShellForm:
        """useradd/groupadd/usermod behind a test that the account is not there yet; the
        password with ``passwd`` (asks a person; never from the answers here)."""
        plain = tuple(c for c in preview.commands if not c.startswith("passwd "))
        user, group = shlex.quote(self.user), shlex.quote(self.group)
        if self.member_of:
            guard = f"id -nG {user} | tr ' ' '\\n' | grep -qx {shlex.quote(self.member_of)}"
            guard_why = f"only when {self.user} is not in {self.member_of} yet"
            check = f"id -nG {user}"
            undo = quote_argv(["gpasswd", "-d", self.user, self.member_of])
        elif self.user:
            guard = f"id -u {user} >/dev/null 2>&1"
            guard_why = f"only when the user {self.user} does not exist yet"
            check = f"id {user}"
            undo = quote_argv(["userdel", *(["-r"] if self.create_home else []), self.user]) + (
                "   # removes the mailbox too")
        else:
            guard = f"getent group {group} >/dev/null"
            guard_why = f"only when the group {self.group} does not exist yet"
            check = f"getent group {group}"
            undo = quote_argv(["groupdel", self.group])
        ask = ask_why = ""
        if self.user and not self.member_of:
            ask = f"passwd {user}"
            ask_why = (f"Give {self.user} a password: passwd asks for it twice. Mail clients "
                       "log in with this user name and password (mailwizard sets it when the "
                       "answers give one, and never prints it).")
        return ShellForm(do=plain, guard=guard if plain else "", guard_why=guard_why,
                         why="" if preview.changed else (
                             (preview.note or "Nothing to do on this system.")
                             + " (The guard skips it.)"),
                         undo=(undo,) if preview.changed else (), check=(check,),
                         ask=(ask,) if ask else (), ask_why=ask_why)


ACCOUNT_FILES = ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/subuid",
                 "/etc/subgid")
"""The account databases useradd/userdel rewrite, each with a ``-`` backup copy."""


def save_account_files(ctx: ChangeContext) -> Dict[str, Optional[Dict[str, Any]]]:
    """Back up the account files (into the 0700 backup store, never the journal)."""
    ex = ctx.executor
    saved: Dict[str, Optional[Dict[str, Any]]] = {}
    for base in ACCOUNT_FILES:
        for p in (base, base + "-"):
            data = ex.read_bytes(p)
            st = ex.stat(p)
            if data is None or st is None:
                saved[p] = None
                continue
            saved[p] = {"backup": ctx.backups.save(f"{ctx.key}-{p}", data), "mode": st.mode,
                        "uid": st.uid, "gid": st.gid, "sha": sha256(data)}
    return saved


def _account_names(data: Optional[bytes]) -> List[str]:
    return [line.split(b":", 1)[0].decode("utf-8", "replace")
            for line in (data or b"").splitlines() if b":" in line]


def accounts_added(ctx: ChangeContext,
                    saved: Mapping[str, Optional[Mapping[str, Any]]]) -> Dict[str, List[str]]:
    """Names of the accounts/groups a package install added, per account file."""
    out: Dict[str, List[str]] = {}
    for base in ACCOUNT_FILES:
        old = saved.get(base)
        old_names = set(_account_names(ctx.backups.load(old["backup"]))) if old else set()
        new = [n for n in _account_names(ctx.executor.read_bytes(base)) if n not in old_names]
        if new:
            out[base] = new
    return out


def remove_added_accounts(ctx: ChangeContext, rec: Record) -> List[str]:
    """After purging packages: drop the system accounts their scripts created. Where the
    file is then exactly as before the install, put back its old bytes and backup copy."""
    ex = ctx.executor
    saved = rec.get("accounts_before") or {}
    added: Dict[str, List[str]] = rec.get("accounts_added") or {}
    warnings = []
    for base in ACCOUNT_FILES:
        cur = ex.read_bytes(base)
        old = saved.get(base)
        names = set(added.get(base, []))
        if cur is None or old is None:
            continue
        kept = [line for line in cur.splitlines(keepends=True)
                if line.split(b":", 1)[0].decode("utf-8", "replace") not in names]
        stripped = b"".join(kept)
        old_bytes = ctx.backups.load(old["backup"])
        st = ex.stat(base)
        if stripped == old_bytes:
            if cur != old_bytes:
                ex.write_atomic(base, old_bytes, old["mode"], old["uid"], old["gid"])
            restore_account_backups(ctx, {base: old, base + "-": saved.get(base + "-")})
        elif names and st is not None:
            ex.write_atomic(base, stripped, st.mode, st.uid, st.gid)
            warnings.append(f"{base}: removed {', '.join(sorted(names))}; other changes since "
                            "the install were kept")
    return warnings


def restore_account_backups(ctx: ChangeContext,
                             saved: Mapping[str, Optional[Mapping[str, Any]]]) -> None:
    """After userdel/groupdel: where the database is back to its old content, put its ``-``
    backup copy back too (the tools rewrote it), so a rollback leaves /etc as it was."""
    ex = ctx.executor
    for base in ACCOUNT_FILES:
        if base not in saved:
            continue
        old = saved[base]
        cur = ex.read_bytes(base)
        if (old is None) != (cur is None) or (old is not None and sha256(cur) != old["sha"]):
            continue  # changed otherwise since: leave its backup alone
        bk = saved.get(base + "-")
        if bk is None:
            ex.remove(base + "-")
        else:
            ex.write_atomic(base + "-", ctx.backups.load(bk["backup"]), bk["mode"], bk["uid"],
                            bk["gid"])
