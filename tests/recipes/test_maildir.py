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
