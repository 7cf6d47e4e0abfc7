"""Cyrus SASL on Debian's chrooted smtpd, and an exact rollback.

Scenario: an admin already installed the mail packages (Debian's "Internet Site" Postfix,
Dovecot, sasl2-bin) but nothing runs yet. ``mailwizard apply`` with the Cyrus backend moves
saslauthd's socket into Postfix's chroot (``/var/spool/postfix/var/run/saslauthd``), so the
chrooted smtpd authenticates real system users through saslauthd and PAM. Then
``mailwizard rollback`` must leave ``/etc`` exactly as it was before apply (paths, modes,
owners, content) and stop every daemon it started.
"""

from __future__ import annotations

import smtplib
import time
from dataclasses import dataclass
from typing import List

import lab
import mwlab
import pytest
from mwlab import DOMAIN, HOSTNAME, Mailbox, host_run, token

pytestmark = pytest.mark.e2e

PREINSTALL = ("postfix", "dovecot-core", "dovecot-imapd", "dovecot-pop3d", "sasl2-bin",
              "libsasl2-modules", "openssl", "ca-certificates")
PRESEED = ("postfix postfix/main_mailer_type select Internet Site\n"
           f"postfix postfix/mailname string {HOSTNAME}\n")
SASL_MUX = "/var/spool/postfix/var/run/saslauthd/mux"
DAEMONS = ("master", "dovecot", "saslauthd")       # process names (comm) of the daemons


@dataclass
class CyrusDeployed:
    srv: lab.Server
    before: mwlab.Manifest
    running_before: List[str]
    apply_rc: int
    apply_out: str
    box: Mailbox
    timings: dict


def daemons(srv: lab.Server) -> List[str]:
    """The mail daemons running on the server (by process name)."""
    r = srv.run(["ps", "-e", "-o", "comm="], timeout=30)
    return sorted({c.strip() for c in r.stdout.splitlines() if c.strip() in DAEMONS})


@pytest.fixture(scope="module")
def cy(lab_image: lab.Image):
    srv = lab.track_module_server(lab.Server(lab_image))
    timings = {}
    try:
        srv.boot()
        srv.attach_debs()
        t0 = time.monotonic()
        srv.run("set -e; apt-get update -q; debconf-set-selections",
                input=PRESEED, timeout=300)
        srv.run(["apt-get", "install", "-y", "-q", *PREINSTALL],
                env={"DEBIAN_FRONTEND": "noninteractive"}, timeout=900)
        timings["preinstall"] = time.monotonic() - t0
        srv.install_wheels()
        srv.path("/root/answers.yaml").write_text(mwlab.answers_for(srv.ip, backend="cyrus"))
        before = mwlab.manifest(srv.path("/"))
        running_before = daemons(srv)
        t0 = time.monotonic()
        res = srv.run("mailwizard apply --answers /root/answers.yaml --yes 2>&1", check=False,
                      timeout=1200)
        timings["apply"] = time.monotonic() - t0
        cert = srv.path(f"/etc/ssl/certs/{HOSTNAME}.crt")
        box = Mailbox(srv.ip, str(cert), srv.host_ip, srv.host_ip2,
                      {u: srv.path(f"/home/{u}/Maildir") for u in mwlab.USERS})
        yield CyrusDeployed(srv, before, running_before, res.returncode, res.stdout, box,
                            timings)
    finally:
        srv.halt()


def test_preinstalled_internet_site_and_nothing_running(cy: CyrusDeployed):
    r = cy.srv.run("dpkg-query -W -f '${Package} ${Status}\\n' " + " ".join(PREINSTALL))
    assert r.stdout.count("install ok installed") == len(PREINSTALL), r.stdout
    # the admin's Debian postfix came with its own main.cf (Internet Site) and mailname
    assert ("file" == cy.before["/etc/postfix/main.cf"][0]
            and cy.before["/etc/mailname"][0] == "file")
    assert cy.running_before == [], cy.running_before


def test_apply_with_cyrus_backend(cy: CyrusDeployed):
    assert cy.apply_rc == 0, cy.apply_out[-6000:]
    assert "All steps applied" in cy.apply_out
    print(f"preinstall {cy.timings['preinstall']:.1f} s, apply {cy.timings['apply']:.1f} s")
    r = cy.srv.run("postconf -h smtpd_sasl_type smtpd_sasl_path cyrus_sasl_config_path")
    assert r.stdout.split() == ["cyrus", "smtpd", "/etc/postfix/sasl"], r.stdout
    # Debian runs smtpd chrooted: saslauthd's socket must be inside the chroot
    r = cy.srv.run("postconf -F smtp/inet/chroot submission/inet/chroot")
    assert [line.split(" = ")[1] for line in r.stdout.splitlines()] == ["y", "y"], r.stdout
    assert cy.srv.path(SASL_MUX).is_socket()
    assert "saslauthd" in daemons(cy.srv)
    r = cy.srv.run(["testsaslauthd", "-u", "alice", "-p", mwlab.USERS["alice"], "-s", "smtp",
                    "-f", SASL_MUX], check=False, timeout=30)
    assert r.returncode == 0 and "OK" in r.stdout, r.stdout + r.stderr
    # apply really changed /etc (so the rollback test below has something to undo)
    changed = {d.split(":")[0] for d in mwlab.manifest_diff(cy.before,
                                                            mwlab.manifest(cy.srv.path("/")))}
    for p in ("/etc/postfix/main.cf", "/etc/postfix/master.cf", "/etc/default/saslauthd",
              "/etc/postfix/sasl/smtpd.conf", "/etc/passwd", "/etc/group",
              f"/etc/ssl/private/{HOSTNAME}.key"):
        assert p in changed, sorted(changed)


def test_submission_auth_plain_through_saslauthd_delivers(cy: CyrusDeployed):
    t = token()
    r = host_run(["swaks", "--server", cy.box.ip, "--port", "587", "--tls",
                  "--tls-verify", "--tls-ca-path", cy.box.cafile, "--auth", "PLAIN",
                  "--auth-user", "bob", "--auth-password", mwlab.USERS["bob"],
                  "--from", f"bob@{DOMAIN}", "--to", f"alice@{DOMAIN}",
                  "--header", f"Subject: cyrus {t}", "--body", "via saslauthd"], timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "235 2.7.0 Authentication successful" in r.stdout
    f = cy.box.wait_for("alice", t)
    assert "via saslauthd" in f.read_text()
    # an authenticated TLS submission (RFC 3848), checked by the only SASL backend there is:
    # Dovecot's auth socket for Postfix does not exist in this setup
    assert "with ESMTPSA" in f.read_text()
    assert not cy.srv.path("/var/spool/postfix/private/auth").exists()


def test_no_auth_before_tls_and_no_auth_on_25(cy: CyrusDeployed):
    with cy.box.smtp(587) as s:
        s.ehlo()
        assert "auth" not in s.esmtp_features and "starttls" in s.esmtp_features
        cy.box.starttls(s)
        assert "PLAIN" in s.esmtp_features.get("auth", ""), s.esmtp_features
    with cy.box.smtp(25) as s:
        s.ehlo()
        cy.box.starttls(s)
        assert "auth" not in s.esmtp_features, s.esmtp_features


def test_not_an_open_relay(cy: CyrusDeployed):
    r = host_run(["swaks", "--server", cy.box.ip, "--port", "25", "--ehlo",
                  "client.example.org", "--from", "spammer@elsewhere.invalid", "--to",
                  "victim@external.invalid", "--quit-after", "RCPT"])
    assert "554 5.7.1" in r.stdout and "Relay access denied" in r.stdout, r.stdout
    assert r.returncode == 24, r.returncode


def test_imaps_login(cy: CyrusDeployed):
    t = token()
    cy.box.send_authenticated("alice", f"alice@{DOMAIN}", f"imap {t}")
    cy.box.wait_for("alice", t)
    with cy.box.imaps() as m:
        typ, _ = m.login("alice", mwlab.USERS["alice"])
        assert typ == "OK"
        typ, data = m.select("INBOX")
        assert typ == "OK" and int(data[0]) >= 1, data
        m.logout()


def test_wrong_password_is_refused(cy: CyrusDeployed):
    with cy.box.smtp(587, source=cy.box.client_ip2) as s:
        s.ehlo()
        cy.box.starttls(s)
        s.user, s.password = "alice", "not-the-password"
        with pytest.raises(smtplib.SMTPAuthenticationError) as ei:
            s.auth("PLAIN", s.auth_plain)
        assert ei.value.smtp_code == 535


def test_rollback_restores_etc_exactly_and_stops_daemons(cy: CyrusDeployed):
    """Last. No allow-list: every path, mode, owner and byte under /etc is as before."""
    t0 = time.monotonic()
    r = cy.srv.run("mailwizard rollback --yes 2>&1", check=False, timeout=900)
    print(f"rollback {time.monotonic() - t0:.1f} s")
    assert r.returncode == 0, r.stdout[-4000:]
    after = mwlab.manifest(cy.srv.path("/"))
    diff = mwlab.manifest_diff(cy.before, after)
    assert not diff, "\n".join(diff[:60])
    # nothing ran before apply, so nothing runs after the rollback
    assert daemons(cy.srv) == cy.running_before
    assert not cy.srv.path(SASL_MUX).exists()
    # the admin's packages stay: mailwizard did not install them
    r = cy.srv.run("dpkg-query -W -f '${Status}\\n' " + " ".join(PREINSTALL))
    assert r.stdout.count("install ok installed") == len(PREINSTALL), r.stdout
