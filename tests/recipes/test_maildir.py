"""Step 5 (maildir): the skeleton, the accounts and their Maildirs."""

from __future__ import annotations

from pathlib import Path

import pytest
from recipe_plans import PLATFORMS, dry_plan

from wizard import changes as ch
from wizard.platforms import get_platform


@pytest.mark.parametrize("pid", PLATFORMS)
def test_maildir_plan(tmp_path: Path, pid: str) -> None:
    p = get_platform(pid)
    plan = dry_plan(tmp_path, pid)["maildir"]
    dirs = [c for c in plan.changes if isinstance(c, ch.Directory)]
    assert {d.path for d in dirs} >= {
        "/etc/skel/Maildir", "/etc/skel/Maildir/cur", "/etc/skel/Maildir/new",
        "/etc/skel/Maildir/tmp", "/home/alice/Maildir/tmp", "/home/bob/Maildir/new"}
    assert all(d.mode == 0o700 for d in dirs)
    assert {(d.owner, d.group) for d in dirs if "alice" in d.path} == {("alice", "alice")}
    users = [c for c in plan.changes if isinstance(c, ch.UserGroup)]
    assert [u.user for u in users] == ["alice", "bob"]
    # mail-only accounts: nologin; the demo gives no passwords, so none is promised and the
    # plan says so in a visible step
    assert {u.shell for u in users} == {p.nologin}
    assert not any(u.set_password for u in users)
    notes = [c for c in plan.changes if isinstance(c, ch.Note)]
    assert [n.title for n in notes] == ["password not set for alice", "password not set for bob"]
    # skeleton before the accounts (useradd -m copies it), accounts before their Maildirs
    kinds = [type(c).__name__ for c in plan.changes]
    assert kinds.index("UserGroup") > kinds.index("Directory")
    assert plan.changes.index(users[-1]) < plan.changes.index(
        next(d for d in dirs if d.path.startswith("/home/")))
    relabel = [c for c in plan.changes if isinstance(c, ch.Command)]
    if p.is_el:  # a dry run assumes SELinux enforcing on EL
        assert relabel and relabel[0].argv[:2] == ["restorecon", "-R"]
        assert relabel[0].after_files
    else:
        assert relabel == []


def test_verify_shows_shell_and_password_of_new_accounts(tmp_path: Path) -> None:
    from recipes.maildir import MaildirRecipe
    from wizard.executor import ScriptedExecutor

    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text(
        "alice:x:1000:1000::/home/alice:/usr/sbin/nologin\n"
        "bob:x:1001:1001::/home/bob:/bin/bash\n")
    (tmp_path / "etc/shadow").write_text("alice:$y$j9T$abc$def:20000:0:99999:7:::\n"
                                         "bob:!:20000:0:99999:7:::\n")
    ex = ScriptedExecutor(tmp_path)
    alice = {r.name: r for r in MaildirRecipe._account_checks(ex, "alice", "/usr/sbin/nologin")}
    assert alice["alice's shell"].ok and alice["alice has a password"].ok
    bob = {r.name: r for r in MaildirRecipe._account_checks(ex, "bob", "/usr/sbin/nologin")}
    assert bob["bob's shell"].ok is False and "usermod -s" in bob["bob's shell"].explanation
    assert bob["bob has a password"].ok is None  # said, not failed: passwd is the admin's
    assert "passwd bob" in bob["bob has a password"].explanation
