"""mailwizard on a real fresh server: installs Postfix + Dovecot from the (offline) Debian
archive, configures everything, starts the services without systemd, and is probed from
outside ``mynetworks`` with clients nobody here wrote (swaks, openssl s_client) and stdlib
smtplib/imaplib/poplib.

Scenario: a fresh Debian 12 server without any mail package, Dovecot SASL, SysV/direct
service path. The module fixture installs mailwizard the way the README tells a user to
(a venv and pip from the wheelhouse) and runs ``mailwizard apply --yes`` once; the tests then
probe the result, re-apply, verify and finally roll everything back.
"""

from __future__ import annotations

import re
import smtplib
from pathlib import Path

import lab
import mwlab
import pytest
from mwlab import DOMAIN, Deployed, deploy, token

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dep(lab_image: lab.Image):
    srv = lab.Server(lab_image)
    try:
        srv.boot()
        srv.attach_debs()
        yield deploy(srv, "dovecot")
    finally:
        srv.halt()


def test_apply_installs_configures_and_verifies(dep: Deployed):
    assert dep.apply_rc == 0, dep.apply_out[-6000:]
    assert "All steps applied" in dep.apply_out
    assert re.search(r"\d+ passed, 0 failed", dep.apply_out), dep.apply_out[-3000:]
    # the mail packages really came from the package manager during apply
    r = dep.srv.run("dpkg-query -W -f '${Status}' postfix dovecot-core dovecot-imapd")
    assert r.stdout.count("install ok installed") == 3
    print(f"mailwizard apply took {dep.apply_seconds:.1f} s")


def test_ehlo_25_offers_starttls_but_no_auth_before_it(dep: Deployed):
    mwlab.check_starttls_and_no_auth_before_tls(dep.box)


def test_submission_with_swaks_auth_plain_delivers_to_maildir(dep: Deployed):
    mwlab.check_swaks_submission_delivers(dep.box, "alice")


def test_submission_refuses_mail_without_tls_and_without_auth(dep: Deployed):
    with dep.box.smtp(587) as s:
        s.ehlo()
        code, msg = s.mail(f"alice@{DOMAIN}")
        assert code == 530 and b"STARTTLS" in msg, (code, msg)
    with dep.box.smtp(587) as s:
        s.ehlo()
        dep.box.starttls(s)
        code, msg = s.mail(f"alice@{DOMAIN}")
        if code < 400:
            code, msg = s.rcpt(f"alice@{DOMAIN}")
        assert code >= 500, (code, msg)


def test_not_an_open_relay(dep: Deployed):
    mwlab.check_not_an_open_relay(dep.box)


def test_aliases_deliver_to_the_right_maildirs(dep: Deployed):
    t = token()
    # inbound over port 25 (a sender in our own domain: this server has no DNS for others;
    # a listed address: smtpd_reject_unlisted_sender refuses unknown ones of our domains)
    with dep.box.smtp(25) as s:
        s.ehlo()
        dep.box.starttls(s)
        for rcpt, tag in ((f"root@{DOMAIN}", "root"), (f"info@{DOMAIN}", "info")):
            s.sendmail(f"sales@{DOMAIN}", [rcpt],
                       f"Subject: {tag} {t}\r\n\r\nalias test {tag}\r\n")
    dep.box.send_authenticated("alice", "contact@example.net", f"virtual {t}")
    dep.box.wait_for("alice", f"root {t}")      # root -> admin_user alice
    dep.box.wait_for("alice", f"info {t}")      # info -> alice, bob
    dep.box.wait_for("bob", f"info {t}")
    dep.box.wait_for("bob", f"virtual {t}")     # contact@example.net -> bob


def test_openssl_verifies_certificate_and_hostname_tls12_plus(dep: Deployed):
    mwlab.check_openssl_starttls_verifies(dep.box)


def test_imaps_and_pop3s_read_the_message(dep: Deployed):
    mwlab.check_imaps_reads(dep.box, "bob")
    p = dep.box.pop3s()
    try:
        p.user("bob")
        p.pass_(mwlab.USERS["bob"])
        count, _size = p.stat()
        assert count >= 1
    finally:
        p.quit()


def test_imap_143_refuses_plaintext_login_and_vrfy_is_off(dep: Deployed):
    import imaplib

    m = imaplib.IMAP4(dep.box.ip, 143, timeout=15)
    try:
        assert "LOGINDISABLED" in m.capabilities, m.capabilities
        with pytest.raises(imaplib.IMAP4.error):
            m.login("alice", mwlab.USERS["alice"])
    finally:
        m.shutdown()
    with dep.box.smtp(25) as s:
        s.ehlo()
        code, msg = s.verify("alice")
        assert code == 502, (code, msg)


def test_wrong_password_is_refused(dep: Deployed):
    with dep.box.smtp(587, source=dep.box.client_ip2) as s:
        s.ehlo()
        dep.box.starttls(s)
        s.user, s.password = "alice", "not-the-password"
        with pytest.raises(smtplib.SMTPAuthenticationError) as ei:
            s.auth("PLAIN", s.auth_plain)
        assert ei.value.smtp_code == 535


def test_mailwizard_verify_passes_inside(dep: Deployed):
    r = dep.srv.run("mailwizard verify --answers /root/answers.yaml 2>&1", check=False,
                    timeout=300)
    assert r.returncode == 0, r.stdout[-4000:]
    assert "FAIL" not in r.stdout


def test_second_apply_changes_nothing(dep: Deployed):
    r = dep.srv.run("mailwizard apply --answers /root/answers.yaml --yes 2>&1", check=False,
                    timeout=600)
    assert r.returncode == 0, r.stdout[-4000:]
    changed = mwlab.changed_lines(r.stdout)
    assert not changed, "\n".join(changed)
    assert re.findall(r"0 changed, \d+ unchanged", r.stdout)


def test_rollback_removes_what_was_installed(dep: Deployed):
    """Last: roll everything back. The packages this run installed are purged (with the
    dependencies they pulled in), what their installation left under /etc is removed, and
    every file mailwizard wrote is restored: /etc is as it was before apply, byte for byte,
    with the same modes and owners."""
    r = dep.srv.run("mailwizard rollback --yes 2>&1", check=False, timeout=900)
    assert r.returncode == 0, r.stdout[-4000:]
    after = mwlab.manifest(dep.srv.path("/"))
    diff = mwlab.manifest_diff(dep.before, after)
    assert not diff, "\n".join(diff[:50])
    r = dep.srv.run("dpkg-query -W -f '${Status}\\n' postfix 2>&1", check=False)
    assert "install ok installed" not in r.stdout
    assert not Path(dep.srv.path("/etc/postfix/main.cf")).exists()
