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
import time
from dataclasses import dataclass
from pathlib import Path

import lab
import mwlab
import pytest
from mwlab import DOMAIN, HOSTNAME, Mailbox, host_run, token

pytestmark = pytest.mark.e2e


@dataclass
class Deployed:
    srv: lab.Server
    apply_rc: int
    apply_out: str
    before: mwlab.Manifest
    box: Mailbox
    apply_seconds: float


def deploy(srv: lab.Server, backend: str) -> Deployed:
    srv.install_wheels()
    srv.path("/root/answers.yaml").write_text(mwlab.answers_for(srv.ip, backend=backend))
    before = mwlab.manifest(srv.path("/"))
    t0 = time.monotonic()
    res = srv.run("mailwizard apply --answers /root/answers.yaml --yes 2>&1", check=False,
                  timeout=1200)
    seconds = time.monotonic() - t0
    cert = srv.path(f"/etc/ssl/certs/{HOSTNAME}.crt")
    box = Mailbox(srv.ip, str(cert), srv.host_ip, srv.host_ip2,
                  {u: srv.path(f"/home/{u}/Maildir") for u in mwlab.USERS})
    return Deployed(srv, res.returncode, res.stdout, before, box, seconds)


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
    r = host_run(["swaks", "--server", dep.box.ip, "--port", "25", "--quit-after", "EHLO",
                  "--ehlo", "client.example.org"])
    assert "250-STARTTLS" in r.stdout or "250 STARTTLS" in r.stdout, r.stdout
    assert "AUTH" not in r.stdout.split("EHLO client.example.org", 1)[1], r.stdout
    with dep.box.smtp(587) as s:
        s.ehlo()
        assert "auth" not in s.esmtp_features
        assert "starttls" in s.esmtp_features


def test_submission_with_swaks_auth_plain_delivers_to_maildir(dep: Deployed):
    t = token()
    r = host_run(["swaks", "--server", dep.box.ip, "--port", "587", "--tls",
                  "--tls-verify", "--tls-ca-path", dep.box.cafile, "--auth", "PLAIN",
                  "--auth-user", "alice", "--auth-password", mwlab.USERS["alice"],
                  "--from", f"alice@{DOMAIN}", "--to", f"alice@{DOMAIN}",
                  "--header", f"Subject: swaks {t}", "--body", "delivered by swaks"],
                 timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "235 2.7.0 Authentication successful" in r.stdout
    f = dep.box.wait_for("alice", t)
    assert "/new/" in str(f)


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
    r = host_run(["swaks", "--server", dep.box.ip, "--port", "25", "--ehlo",
                  "client.example.org", "--from", "spammer@elsewhere.invalid", "--to",
                  "victim@external.invalid", "--quit-after", "RCPT"])
    assert "554 5.7.1" in r.stdout and "Relay access denied" in r.stdout, r.stdout
    assert r.returncode == 24, r.returncode


def test_aliases_deliver_to_the_right_maildirs(dep: Deployed):
    t = token()
    # inbound over port 25 (a sender in our own domain: the lab has no DNS for others)
    with dep.box.smtp(25) as s:
        s.ehlo()
        dep.box.starttls(s)
        for rcpt, tag in ((f"root@{DOMAIN}", "root"), (f"info@{DOMAIN}", "info")):
            s.sendmail(f"someone@{DOMAIN}", [rcpt],
                       f"Subject: {tag} {t}\r\n\r\nalias test {tag}\r\n")
    dep.box.send_authenticated("alice", "contact@example.net", f"virtual {t}")
    dep.box.wait_for("alice", f"root {t}")      # root -> admin_user alice
    dep.box.wait_for("alice", f"info {t}")      # info -> alice, bob
    dep.box.wait_for("bob", f"info {t}")
    dep.box.wait_for("bob", f"virtual {t}")     # contact@example.net -> bob


def test_openssl_verifies_certificate_and_hostname_tls12_plus(dep: Deployed):
    r = host_run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                  f"{dep.box.ip}:25", "-CAfile", dep.box.cafile, "-verify_return_error",
                  "-verify_hostname", HOSTNAME, "-brief"], input="QUIT\n", timeout=30)
    text = r.stdout + r.stderr
    assert r.returncode == 0, text
    assert "Verification: OK" in text
    m = re.search(r"Protocol version: TLSv1\.(\d)", text)
    assert m and int(m.group(1)) >= 2, text
    bad = host_run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                    f"{dep.box.ip}:25", "-CAfile", dep.box.cafile, "-verify_return_error",
                    "-verify_hostname", "wrong.example.test", "-brief"], input="QUIT\n",
                   timeout=30)
    assert bad.returncode != 0
    old = host_run(["openssl", "s_client", "-connect", f"{dep.box.ip}:993", "-tls1_1",
                    "-brief"], input="", timeout=30)
    assert old.returncode != 0, "TLS 1.1 must be refused"


def test_imaps_and_pop3s_read_the_message(dep: Deployed):
    t = token()
    dep.box.send_authenticated("bob", f"bob@{DOMAIN}", f"imap {t}", "read me over IMAP\n")
    dep.box.wait_for("bob", t)
    with dep.box.imaps() as m:
        m.login("bob", mwlab.USERS["bob"])
        m.select("INBOX")
        typ, data = m.search(None, "SUBJECT", f'"imap {t}"')
        assert typ == "OK" and data[0], data
        typ, msg = m.fetch(data[0].split()[0], "(RFC822)")
        assert b"read me over IMAP" in msg[0][1]  # type: ignore[index]
        m.logout()
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
    changed = [line for line in r.stdout.splitlines() if line.strip().startswith("+ ")
               and line.rstrip().endswith("(changed)")]
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
