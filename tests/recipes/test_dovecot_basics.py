"""Step 4 (dovecot-basics): mail location and protocols in each Dovecot dialect."""

from __future__ import annotations

from pathlib import Path

import pytest
from recipe_plans import PLATFORMS, dry_plan, edited

from wizard import changes as ch
from wizard import confedit
from wizard.platforms import get_platform


@pytest.mark.parametrize("pid", PLATFORMS)
def test_dovecot_basics(tmp_path: Path, pid: str) -> None:
    p = get_platform(pid)
    plan = dry_plan(tmp_path, pid)["dovecot-basics"]
    paths = [c.path for c in plan.changes if isinstance(c, ch.DovecotSettings)]
    mail = confedit.read_dovecot_conf(edited(pid, plan, "/etc/dovecot/conf.d/10-mail.conf"))
    if pid == "debian13":
        assert mail["mail_driver"] == "maildir" and mail["mail_path"] == "~/Maildir"
        assert "mail_location" not in mail
        assert "mail_inbox_path" not in mail  # stock points INBOX at /var/mail (mbox)
    else:
        assert mail["mail_location"] == "maildir:~/Maildir"
        assert "mail_driver" not in mail
    if p.is_el:
        main = confedit.read_dovecot_conf(edited(pid, plan, "/etc/dovecot/dovecot.conf"))
        assert main["protocols"] == "imap pop3"
    else:
        # Debian/Ubuntu: the dovecot-imapd/pop3d packages bring the protocols
        assert "/etc/dovecot/dovecot.conf" not in paths
    # no obsolete 1.x settings anywhere
    for c in plan.changes:
        assert isinstance(c, ch.DovecotSettings)
        assert not {"login_process_size", "pop3_uidl_format"} & set(c.settings)
        assert "imaps" not in " ".join(v or "" for v in c.settings.values())
