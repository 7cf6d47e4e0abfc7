"""Changes to mail accounts after the install: a new password, a removed account.

Both back up the account databases first (:func:`~.accounts.save_account_files`, 0600 in the
session's backup store; the copies of ``/etc/shadow`` are purged once nothing is left to roll
back) and undo by putting those exact bytes back, so ``mailwizard rollback`` of the change
leaves ``/etc`` byte for byte as it was. A file changed by someone else since is left alone
unless ``force``.

:class:`RemoveUser` keeps the home (and its Maildir) unless told to delete the mail; then a
tar copy of the home goes into the backup store first, so a rollback brings the mail back.
"""

from __future__ import annotations

import io
import os
import shlex
import tarfile
import time
from typing import Any, Dict, List, Mapping, Optional

from ..errors import CommandFailed, ExecutorError
from ..executor import Executor, sha256
from .accounts import ACCOUNT_FILES, save_account_files
from .base import Change, ChangeContext, Preview, Record, ShellForm, View, quote_argv


def _account_hashes(ctx: ChangeContext) -> Dict[str, Optional[str]]:
    """sha256 of every account file (and its ``-`` copy) as it is now (None: absent)."""
    out: Dict[str, Optional[str]] = {}
    for base in ACCOUNT_FILES:
        for p in (base, base + "-"):
            data = ctx.executor.read_bytes(p)
            out[p] = None if data is None else sha256(data)
    return out


def restore_account_files(ctx: ChangeContext, saved: Mapping[str, Optional[Mapping[str, Any]]],
                          after: Mapping[str, Optional[str]], force: bool) -> List[str]:
    """Put every account file back as ``saved`` holds it, where it is still as the change
    left it (``after``); a file edited since is left alone (a warning) unless ``force``."""
    ex = ctx.executor
    warnings: List[str] = []
    for path, old in saved.items():
        data = ex.read_bytes(path)
        now = None if data is None else sha256(data)
        if old is not None and now == old["sha"]:
            continue  # already as before
        if old is None and now is None:
            continue
        if path in after and now != after[path] and not force:
            warnings.append(f"{path} changed since; left as it is (--force restores it)")
            continue
        if old is None:
            ex.remove(path)
        else:
            ex.write_atomic(path, ctx.backups.load(old["backup"]), old["mode"], old["uid"],
                            old["gid"])
    return warnings


def _one_line(user: str, secret: str) -> str:
    line = f"{user}:{secret}"
    if any(c in line for c in "\n\r\x00") or ":" in user:
        # validated long before: reaching this is a bug; never hand chpasswd a second line
        raise ExecutorError(f"refusing to set the password of {user!r}: it would not be one "
                            "chpasswd line")
    return line + "\n"


class SetPassword(Change):
    """Give an existing account a new password (``chpasswd``, the password on its input,
    never on a command line); undo puts ``/etc/shadow`` back byte for byte."""

    kind = "account"

    def __init__(self, user: str) -> None:
        self.user = user

    def describe(self) -> str:
        return f"set a new password for {self.user}"

    def preview(self, view: View) -> Preview:
        return Preview(self.kind, self.describe(),
                       commands=[f"chpasswd   # {shlex.quote(self.user)}:NEW-PASSWORD on its "
                                 "input (the password is never shown or stored)"],
                       note="the old password stops working")

    def prepare(self, ctx: ChangeContext) -> Optional[Record]:
        if self.user not in ctx.executor.users():
            raise ExecutorError(f"there is no account {self.user} on this server")
        return {"user": self.user}

    def commit(self, ctx: ChangeContext, rec: Record) -> None:
        pw = ctx.secrets.get(self.user)
        if pw is None:
            raise ExecutorError(f"no new password for {self.user} in this run")
        if "accounts_before" not in rec:
            rec["accounts_before"] = save_account_files(ctx)
            ctx.persist()
        ctx.executor.run(["chpasswd"], input=_one_line(self.user, pw.reveal()), check=True,
                         quiet=True, timeout=60)
        rec["accounts_after"] = _account_hashes(ctx)

    @classmethod
    def undo_record(cls, ctx: ChangeContext, rec: Record, force: bool = False) -> List[str]:
        return restore_account_files(ctx, rec.get("accounts_before") or {},
                                     rec.get("accounts_after") or {}, force)

    def shell_form(self, preview: Preview) -> ShellForm:
        user = shlex.quote(self.user)
        return ShellForm(ask=(f"passwd {user}",),
                         ask_why=f"Give {self.user} the new password: passwd asks for it "
                                 "twice.")


USERDEL_BUSY = 8
"""userdel's exit status for an account one of whose processes still runs."""


class RemoveUser(Change):
    """Delete a mail account (``userdel``). Its home and Maildir stay unless
    ``delete_mail``; then the home is copied (tar, 0600) into the backup store before
    ``userdel -r``, and a rollback brings it back with the account."""

    kind = "account"
    busy_wait = 10.0
    """Seconds userdel is tried again while the account is busy: ``doveadm kick`` returns
    before the kicked IMAP processes have exited."""

    def __init__(self, user: str, home: str, delete_mail: bool = False) -> None:
        self.user = user
        self.home = home
        self.delete_mail = delete_mail

    def describe(self) -> str:
        if self.delete_mail:
            return f"remove user {self.user} and delete {self.home} with its mail"
        return f"remove user {self.user} (keep {self.home} and its Maildir)"

    def _argv(self) -> List[str]:
        return ["userdel", *(["-r"] if self.delete_mail else []), self.user]

    def preview(self, view: View) -> Preview:
        exists = view.user_exists(self.user)
        view.users.discard(self.user)
        note = (f"the mail in {self.home}/Maildir is deleted (a copy is kept for rollback)"
                if self.delete_mail else
                f"{self.home} and the mail in it stay: remove them yourself, or use "
                "--delete-mail")
        return Preview(self.kind, self.describe(), commands=[quote_argv(self._argv())],
                       changed=exists, note=note if exists else "no such account")

    def prepare(self, ctx: ChangeContext) -> Optional[Record]:
        if self.user not in ctx.executor.users():
            return None
        return {"user": self.user, "home": self.home, "delete_mail": self.delete_mail}

    def commit(self, ctx: ChangeContext, rec: Record) -> None:
        ex = ctx.executor
        if "accounts_before" not in rec:
            rec["accounts_before"] = save_account_files(ctx)
            if self.delete_mail and ex.stat(self.home) is not None:
                rec["home_copy"] = ctx.backups.save(f"{ctx.key}-home.tar",
                                                    _tar_of(str(ex.path(self.home))))
            ctx.persist()
        if self.user in ex.users():
            if ex.which("doveadm"):
                # userdel refuses an account with running processes: its IMAP sessions
                ex.run(["doveadm", "kick", self.user], quiet=True, timeout=60)
            self._userdel(ex)
        rec["accounts_after"] = _account_hashes(ctx)

    def _userdel(self, ex: Executor) -> None:
        """userdel, again while it says the account is busy (status 8) for up to
        :attr:`busy_wait` s: the sessions ``doveadm kick`` ended may not have exited yet
        (seen on a loaded machine: "user dave is currently used by process 4467")."""
        deadline = time.monotonic() + self.busy_wait
        pause = 0.1
        while True:
            res = ex.run(self._argv(), timeout=120)
            if res.returncode != USERDEL_BUSY or time.monotonic() >= deadline:
                break
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
        if not res.ok:
            raise CommandFailed(self._argv(), res.returncode, res.output)

    @classmethod
    def took_effect(cls, ctx: ChangeContext, rec: Record) -> Optional[bool]:
        return rec["user"] not in ctx.executor.users()

    @classmethod
    def undo_record(cls, ctx: ChangeContext, rec: Record, force: bool = False) -> List[str]:
        warnings = restore_account_files(ctx, rec.get("accounts_before") or {},
                                         rec.get("accounts_after") or {}, force)
        ex = ctx.executor
        if rec.get("home_copy"):
            if ex.stat(rec["home"]) is not None and not force:
                warnings.append(f"{rec['home']} exists again: the saved copy was not "
                                "unpacked over it")
            else:
                _untar(ctx.backups.load(rec["home_copy"]), str(ex.path(rec["home"])))
        return warnings

    @classmethod
    def settle(cls, ctx: ChangeContext, rec: Record) -> None:
        return None

    def shell_form(self, preview: Preview) -> ShellForm:
        return ShellForm(do=tuple(preview.commands), guard=(
            f"! id -u {shlex.quote(self.user)} >/dev/null 2>&1"),
            guard_why=f"only when {self.user} exists", notes=(preview.note,))


def _tar_of(host_dir: str) -> bytes:
    """The directory as a tar (owners, modes and times kept; links stored as links)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(host_dir, arcname=".", recursive=True)
    return buf.getvalue()


def _untar(data: bytes, host_dir: str) -> None:
    """Unpack a copy made by :func:`_tar_of` at ``host_dir`` (numeric owners; members that
    would leave the directory are refused)."""
    base = os.path.realpath(host_dir)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        members = tar.getmembers()
        for m in members:
            dest = os.path.realpath(os.path.join(base, m.name))
            if dest != base and not dest.startswith(base + os.sep):
                raise ExecutorError(f"the saved copy of {host_dir} holds {m.name!r}, outside it")
            if m.isdev():
                raise ExecutorError(f"the saved copy of {host_dir} holds a device: {m.name!r}")
        os.makedirs(base, exist_ok=True)
        extra: Dict[str, Any] = {}
        if hasattr(tarfile, "fully_trusted_filter"):  # 3.12+: keep owners and modes as saved
            extra["filter"] = "fully_trusted"
        tar.extractall(base, members=members, numeric_owner=True, **extra)
