"""``mailwizard user|alias ...`` on a lab server configured by mailwizard (Debian 12).

* ``user add carol`` (password on standard input) makes a working mailbox: carol logs in
  over IMAPS and mail sent to carol@ by SMTP lands in her Maildir; ``mailwizard apply``
  with the session's answers then changes nothing; ``rollback --step user-add-N`` puts /etc
  and /home back byte for byte and the login stops working;
* ``alias add`` routes mail, for a local alias (/etc/aliases) and for an address of a virtual
  alias domain (/etc/postfix/virtual); both roll back byte for byte, newest first;
* ``user passwd bob`` changes bob's IMAP login; its rollback brings the old password back.
"""

from __future__ import annotations

import imaplib
import re
import shlex

import mwlab
import pytest
from mwlab import Deployed

pytestmark = pytest.mark.e2e

CAROL_PW = "Carol-S3cret-pass"


@pytest.fixture(scope="module")
def dep(request: pytest.FixtureRequest):
    with mwlab.deployed(request, "bookworm", record="users_apply") as d:
        yield d


def mw(dep: Deployed, command: str, stdin: str = "") -> str:
    """``mailwizard COMMAND`` in the server (exit 0 required); ``stdin`` piped in."""
    feed = f"printf '%s\\n' {shlex.quote(stdin)} | " if stdin else ""
    r = dep.srv.run(f"{feed}mailwizard {command} 2>&1", check=False, timeout=600)
    assert r.returncode == 0, r.stdout[-5000:]
    return r.stdout


def state(dep: Deployed) -> mwlab.Manifest:
    root = dep.srv.path("/")
    return {**mwlab.manifest(root, "etc"), **mwlab.manifest(root, "home")}


def step_id(out: str) -> str:
    m = re.search(r"recorded as step (\S+)\.", out)
    assert m, out[-3000:]
    return m.group(1)


def deliver(dep: Deployed, to: str) -> str:
    """A message to ``to`` through the submission port (alice logged in); its token."""
    tok = mwlab.token()
    dep.box.send_authenticated("alice", to, subject=tok, body=f"{tok}\n")
    return tok


def rcpt_code(dep: Deployed, to: str) -> int:
    """The server's reply code to RCPT TO ``to`` (alice logged in on 587)."""
    with dep.box.smtp(587) as s:
        s.ehlo()
        dep.box.starttls(s)
        s.login("alice", mwlab.USERS["alice"])
        s.mail(f"alice@{mwlab.DOMAIN}")
        code, _msg = s.rcpt(to)
        s.rset()
        return code


def imap_login(dep: Deployed, user: str, password: str) -> bool:
    with dep.box.imaps() as m:
        try:
            m.login(user, password)
        except imaplib.IMAP4.error:
            return False
        m.logout()
        return True


def test_user_add_makes_a_mailbox_and_rolls_back(dep: Deployed) -> None:
    before = state(dep)
    out = mw(dep, "user add carol --password-stdin --yes", stdin=CAROL_PW)
    sid = step_id(out)
    assert CAROL_PW not in out
    assert imap_login(dep, "carol", CAROL_PW)
    dep.box.maildirs["carol"] = dep.srv.path("/home/carol/Maildir")
    tok = deliver(dep, f"carol@{mwlab.DOMAIN}")
    dep.box.wait_for("carol", tok)
    # the password is in no file of the session
    r = dep.srv.run(f"grep -rl {shlex.quote(CAROL_PW)} /var/lib/mailwizard || true")
    assert r.stdout.strip() == ""
    # the session's answers include carol: a full apply has nothing left to do
    mwlab.check_converged(mw(dep, "apply --yes"))
    mw(dep, f"rollback --step {sid} --yes")
    diff = mwlab.manifest_diff(before, state(dep))
    assert not diff, "\n".join(diff)
    assert not imap_login(dep, "carol", CAROL_PW)
    assert rcpt_code(dep, f"carol@{mwlab.DOMAIN}") >= 500


def test_alias_add_routes_mail_and_rolls_back(dep: Deployed) -> None:
    before = state(dep)
    local = step_id(mw(dep, "alias add helpdesk bob --yes"))
    virtual = step_id(mw(dep, "alias add desk@example.net alice --yes"))
    dep.box.wait_for("bob", deliver(dep, f"helpdesk@{mwlab.DOMAIN}"))
    dep.box.wait_for("alice", deliver(dep, "desk@example.net"))
    mwlab.check_converged(mw(dep, "apply --yes"))
    mw(dep, f"rollback --step {virtual} --yes")
    mw(dep, f"rollback --step {local} --yes")
    # the messages delivered meanwhile are in the Maildirs: compare /etc only
    now = state(dep)
    diff = mwlab.manifest_diff({k: v for k, v in before.items() if k.startswith("/etc")},
                               {k: v for k, v in now.items() if k.startswith("/etc")})
    assert not diff, "\n".join(diff)
    assert rcpt_code(dep, f"helpdesk@{mwlab.DOMAIN}") >= 500  # unknown again


def test_user_passwd_changes_the_imap_login(dep: Deployed) -> None:
    before = mwlab.manifest(dep.srv.path("/"), "etc")
    old, new = mwlab.USERS["bob"], "Bob-new-S3cret"
    sid = step_id(mw(dep, "user passwd bob --password-stdin --yes", stdin=new))
    assert imap_login(dep, "bob", new) and not imap_login(dep, "bob", old)
    mw(dep, f"rollback --step {sid} --yes")
    assert imap_login(dep, "bob", old) and not imap_login(dep, "bob", new)
    diff = mwlab.manifest_diff(before, mwlab.manifest(dep.srv.path("/"), "etc"))
    assert not diff, "\n".join(diff)


def test_user_remove_keeps_the_mail_and_rolls_back(dep: Deployed) -> None:
    before = state(dep)
    pw = "Dave-S3cret-pass"
    added = step_id(mw(dep, "user add dave --password-stdin --yes", stdin=pw))
    dep.box.maildirs["dave"] = dep.srv.path("/home/dave/Maildir")
    with dep.box.imaps() as m:  # a session of dave's is open while the account goes
        m.login("dave", pw)
        msg = dep.box.wait_for("dave", deliver(dep, f"dave@{mwlab.DOMAIN}"))
        out = mw(dep, "user remove dave --yes")
        assert "its Maildir stay" in out or "Maildir)" in out, out[-3000:]
    removed = step_id(out)
    assert msg.is_file()  # the mail stays
    assert not imap_login(dep, "dave", pw)
    mw(dep, f"rollback --step {removed} --yes")
    assert imap_login(dep, "dave", pw)
    mw(dep, f"rollback --step {added} --yes")
    diff = mwlab.manifest_diff(before, state(dep))
    assert not diff, "\n".join(diff)
