"""Step 5: mail users and their ~/Maildir (plus /etc/skel/Maildir for accounts made later)."""

from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

from wizard import checks
from wizard.answers import Answers
from wizard.changes import Change, Command, Directory, Note, UserGroup
from wizard.checks import CheckResult
from wizard.errors import RecipeError
from wizard.executor import Executor
from wizard.platforms import Platform
from wizard.recipe import ForFamily, PlanContext, Recipe, VerifyContext

from ._accounts import primary_group, user_home

SKEL = "/etc/skel/Maildir"
SUBDIRS = ("cur", "new", "tmp")
MODE = 0o700


def _shells(text: Optional[str]) -> Optional[Set[str]]:
    """The login shells /etc/shells lists (None: no such file, nothing to check against)."""
    if text is None:
        return None
    return {line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")}


def _field(text: Optional[str], name: str, index: int) -> Optional[str]:
    """Field ``index`` of ``name``'s line in a colon-separated account file (None: no line)."""
    for line in (text or "").splitlines():
        parts = line.split(":")
        if parts[0] == name and len(parts) > index:
            return parts[index]
    return None


def maildir_paths(base: str) -> List[str]:
    """``base`` and its cur/new/tmp, parents first."""
    return [base] + [f"{base}/{s}" for s in SUBDIRS]


class MaildirRecipe(Recipe):
    id = "maildir"
    title = "Mail users and Maildirs"
    guide = "Guide 000, part 1 section 3.3 'Create users mailboxes'"
    summary = (
        "Creates the mail users the answers ask for and gives every mail user a private "
        "~/Maildir with its cur, new and tmp folders, readable by that user only. A Maildir "
        "is also put in /etc/skel, so accounts added later get one automatically. New "
        "accounts are mail-only by default: their shell is nologin, so they can read and send "
        "mail but not log in by SSH (an answer can give one of them a shell listed in "
        "/etc/shells). A new account gets the password the answers give; without one the "
        "plan says so and the account cannot log in until you run passwd. Accounts that "
        "already exist are left as they are, passwords and shells included.")
    outdated = (
        "The guide creates mail users with a normal login shell; a mail user rarely needs "
        "one, and a shell turns every guessed mail password into an SSH login. mailwizard "
        "gives new accounts nologin unless the answers ask for a shell.",
        "The guide makes only ~/Maildir and relies on Postfix to add cur/new/tmp on first "
        "delivery; Dovecot then shows an empty, broken INBOX to users who have had no mail "
        "yet. We create all four directories up front.",
        "'chmod -R 700' after 'chown' leaves a window where the folder is open; mailwizard "
        "creates each directory with its owner and mode 0700 directly.",
        ForFamily("el",
        "On SELinux systems (EL, enforcing) directories made by an installer can carry the "
        "wrong label, so the Maildirs are relabelled with restorecon."),
    )
    touches = ("/etc/skel/Maildir", "~user/Maildir for each mail user", "/etc/passwd (new users)")

    def _accounts(self, ctx: PlanContext) -> Tuple[Dict[str, Tuple[int, int, str]],
                                                  Dict[str, Tuple[int, List[str]]]]:
        users = dict(ctx.facts.users)
        users.update(ctx.view.executor.users())
        groups = dict(ctx.facts.groups)
        groups.update(ctx.view.executor.groups())
        return users, groups

    def plan(self, ctx: PlanContext) -> List[Change]:
        users, groups = self._accounts(ctx)
        changes: List[Change] = [Directory(d, MODE, "root", "root") for d in maildir_paths(SKEL)]
        # accounts come after the skeleton, so useradd -m copies the Maildir into the new home
        shells = _shells(ctx.view.read_text("/etc/shells"))
        for i, u in enumerate(ctx.answers.users):
            if not u.create:
                continue
            if u.shell and shells is not None and u.shell not in shells:
                raise RecipeError(f"users[{i}].shell: {u.shell} is not a login shell listed "
                                  "in /etc/shells on this server")
            changes.append(UserGroup(user=u.name, create_home=True,
                                     shell=u.shell or ctx.platform.nologin,
                                     set_password=u.password is not None))
            if u.password is None and u.name not in users:
                changes.append(Note(
                    f"password not set for {u.name}",
                    f"The answers give {u.name} no password, so the new account has none and "
                    f"cannot log in yet. Set one with: passwd {u.name}"))
        made: List[str] = []
        for u in ctx.answers.users:
            if u.name not in users and not u.create and not ctx.facts.dry_run:
                raise RecipeError(f"user {u.name} does not exist and the answers say "
                                  "create: false; create it first or set create: true")
            home = user_home(u.name, users)
            group = primary_group(u.name, users, groups)
            for d in maildir_paths(f"{home}/Maildir"):
                changes.append(Directory(d, MODE, u.name, group))
                made.append(d)
        if ctx.platform.is_el and ctx.facts.selinux_enforcing:
            bases = [SKEL] + [d for d in made if d.endswith("/Maildir")]
            changes.append(Command(
                ["restorecon", "-R", *bases], after_files=maildir_paths(SKEL) + made,
                description="restore the SELinux labels of the Maildirs"))
        return changes

    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        ex = ctx.executor
        users = ex.users()
        out: List[CheckResult] = []
        for d in maildir_paths(SKEL):
            out.append(checks.file_mode(ex, d, MODE, "root"))
        for u in ctx.answers.users:
            if u.name not in users:
                out.append(checks.failed(f"user {u.name}", "no such account"))
                continue
            for d in maildir_paths(f"{user_home(u.name, users)}/Maildir"):
                out.append(checks.file_mode(ex, d, MODE, u.name))
            if u.create:
                out += self._account_checks(ex, u.name, u.shell or ctx.platform.nologin)
        return out

    @staticmethod
    def _account_checks(ex: Executor, name: str, shell: str) -> List[CheckResult]:
        """The new account's shell (nologin: mail only) and whether it has a password yet."""
        out: List[CheckResult] = []
        passwd = _field(ex.read_text("/etc/passwd"), name, 6)
        if passwd is not None:
            ok = passwd == shell
            out.append(CheckResult(f"{name}'s shell", ok, passwd,
                                   "" if ok else f"usermod -s {shell} {name}"))
        pw = _field(ex.read_text("/etc/shadow"), name, 1)
        if pw is not None:
            has = bool(pw) and not pw.startswith(("!", "*"))
            out.append(CheckResult(f"{name} has a password", True if has else None,
                                   "set" if has else "not set yet: the account cannot log in",
                                   "" if has else f"passwd {name}"))
        return out

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        cmds = [f"ls -ld ~{u.name}/Maildir ~{u.name}/Maildir/{{cur,new,tmp}}"
                for u in answers.users]
        cmds.append("ls -ld /etc/skel/Maildir/{cur,new,tmp}")
        if platform.is_el:
            cmds.append("ls -Zd " + " ".join(f"~{u.name}/Maildir" for u in answers.users)
                        + "   # expect mail_home_rw_t")
        return cmds
