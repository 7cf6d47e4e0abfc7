"""mailwizard on a server whose PID 1 is real systemd.

Scenario: a fresh Debian 12 server (no mail packages, no policy-rc.d: maintainer scripts
start daemons as on a real machine) with systemd running. ``mailwizard apply --yes``
installs the packages, configures them and enables + starts the services through
``systemctl``; Debian's real Postfix unit is ``postfix@-`` (``postfix.service`` is a oneshot
wrapper). The server is probed from outside ``mynetworks``; a second apply must change
nothing; ``mailwizard rollback`` must stop and disable what it started.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Dict, List

import lab
import mwlab
import pytest
from mwlab import DOMAIN, HOSTNAME, Mailbox, host_run, token

pytestmark = pytest.mark.e2e

UNITS = ("postfix", "postfix@-", "dovecot")


@dataclass
class SystemdDeployed:
    srv: lab.Server
    state_before: Dict[str, str]
    apply_rc: int
    apply_out: str
    box: Mailbox
    apply_seconds: float


def unit_state(srv: lab.Server, units=UNITS) -> Dict[str, str]:
    return mwlab.unit_state(srv, tuple(units))


def mail_processes(srv: lab.Server) -> List[str]:
    r = srv.run(["ps", "-e", "-o", "comm="], timeout=30)
    return sorted({c.strip() for c in r.stdout.splitlines()
                   if c.strip() in ("master", "dovecot", "saslauthd")})


def main_pids(srv: lab.Server) -> Dict[str, str]:
    """Pids of the postfix master and dovecot master processes (postfix@- has no MainPID)."""
    out = {comm: srv.run(["pgrep", "-x", comm], check=False, timeout=30).stdout.split()
           for comm in ("master", "dovecot")}
    assert all(len(v) == 1 for v in out.values()), out
    return {k: v[0] for k, v in out.items()}


@pytest.fixture(scope="module")
def sd(lab_image: lab.Image):
    with mwlab.systemd_server(lab_image, __file__) as srv:
        srv.install_wheels()
        srv.path("/root/answers.yaml").write_text(mwlab.answers_for(srv.ip))
        before = unit_state(srv)
        t0 = time.monotonic()
        res = srv.run("mailwizard apply --answers /root/answers.yaml --yes 2>&1", check=False,
                      timeout=1200)
        seconds = time.monotonic() - t0
        cert = srv.path(f"/etc/ssl/certs/{HOSTNAME}.crt")
        box = Mailbox(srv.ip, str(cert), srv.host_ip, srv.host_ip2,
                      {u: srv.path(f"/home/{u}/Maildir") for u in mwlab.USERS})
        yield SystemdDeployed(srv, before, res.returncode, res.stdout, box, seconds)


def test_fresh_systemd_server_has_no_mail_units(sd: SystemdDeployed):
    assert sd.srv.system_state in ("running", "degraded")
    assert all(v.startswith(("inactive/", "unknown/")) and v.endswith("not-found")
               for v in sd.state_before.values()), sd.state_before


def test_apply_installs_and_starts_through_systemd(sd: SystemdDeployed):
    assert sd.apply_rc == 0, sd.apply_out[-6000:]
    assert "All steps applied" in sd.apply_out
    print(f"mailwizard apply (systemd) took {sd.apply_seconds:.1f} s")
    r = sd.srv.run("dpkg-query -W -f '${Status}\\n' postfix dovecot-core dovecot-imapd")
    assert r.stdout.count("install ok installed") == 3
    st = unit_state(sd.srv)
    assert st["postfix@-"].startswith("active/"), st
    assert st["dovecot"].startswith("active/"), st
    assert st["postfix"].endswith("/enabled") and st["dovecot"].endswith("/enabled"), st
    # the daemons run in the units' cgroups: systemd started them, not mailwizard itself
    for unit, comm in (("postfix@-", "master"), ("dovecot", "dovecot")):
        r = sd.srv.run(f"for p in $(pgrep -x {comm}); do grep '^0::' /proc/$p/cgroup; done",
                       timeout=30)
        assert r.stdout and all(line.endswith(f"/{unit}.service")
                                for line in r.stdout.split()), (unit, r.stdout)
    r = sd.srv.run("systemctl --failed --no-legend --plain", timeout=60)
    assert not re.search(r"postfix|dovecot", r.stdout), r.stdout
    # apt started postfix with inet_protocols=all; the answers say ipv4, which a reload does
    # not apply (the master died on it: "fatal: :::submission: Address family ..."), so
    # mailwizard must have restarted it
    r = sd.srv.run("journalctl -b --no-pager -o cat -u postfix@-", timeout=60)
    assert "fatal:" not in r.stdout, r.stdout[-3000:]
    assert not sd.srv.run("ss -Hltn 'sport = :25'", timeout=30).stdout.count("[::]"), \
        "postfix still listens on IPv6"


def test_starttls_on_25_verifies(sd: SystemdDeployed):
    r = host_run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                  f"{sd.box.ip}:25", "-CAfile", sd.box.cafile, "-verify_return_error",
                  "-verify_hostname", HOSTNAME, "-brief"], input="QUIT\n", timeout=30)
    text = r.stdout + r.stderr
    assert r.returncode == 0, text
    assert "Verification: OK" in text


def test_auth_only_after_tls_on_587_and_login_works(sd: SystemdDeployed):
    with sd.box.smtp(587) as s:
        s.ehlo()
        assert "starttls" in s.esmtp_features
        assert "auth" not in s.esmtp_features, s.esmtp_features
        sd.box.starttls(s)
        assert "PLAIN" in s.esmtp_features.get("auth", ""), s.esmtp_features
    t = token()
    sd.box.send_authenticated("alice", f"bob@{DOMAIN}", f"systemd {t}")
    assert "with ESMTPSA" in sd.box.wait_for("bob", t).read_text()


def test_not_an_open_relay(sd: SystemdDeployed):
    r = host_run(["swaks", "--server", sd.box.ip, "--port", "25", "--ehlo",
                  "client.example.org", "--from", "spammer@elsewhere.invalid", "--to",
                  "victim@external.invalid", "--quit-after", "RCPT"])
    assert "554 5.7.1" in r.stdout and "Relay access denied" in r.stdout, r.stdout
    assert r.returncode == 24, r.returncode


def test_imaps_login(sd: SystemdDeployed):
    with sd.box.imaps() as m:
        typ, _ = m.login("bob", mwlab.USERS["bob"])
        assert typ == "OK"
        typ, data = m.select("INBOX")
        assert typ == "OK", data
        m.logout()


def test_mailwizard_verify_passes(sd: SystemdDeployed):
    r = sd.srv.run("mailwizard verify --answers /root/answers.yaml 2>&1", check=False,
                   timeout=300)
    assert r.returncode == 0, r.stdout[-4000:]
    assert "FAIL" not in r.stdout


def test_second_apply_changes_nothing(sd: SystemdDeployed):
    pids = main_pids(sd.srv)
    r = sd.srv.run("mailwizard apply --answers /root/answers.yaml --yes 2>&1", check=False,
                   timeout=600)
    assert r.returncode == 0, r.stdout[-4000:]
    changed = [line for line in r.stdout.splitlines() if line.strip().startswith("+ ")
               and line.rstrip().endswith("(changed)")]
    assert not changed, "\n".join(changed)
    assert re.findall(r"0 changed, \d+ unchanged", r.stdout), r.stdout[-3000:]
    # not even restarted
    assert main_pids(sd.srv) == pids


def test_rollback_stops_and_disables(sd: SystemdDeployed):
    r = sd.srv.run("mailwizard rollback --yes 2>&1", check=False, timeout=900)
    assert r.returncode == 0, r.stdout[-4000:]
    st = unit_state(sd.srv)
    for state in st.values():
        active, enabled = state.split("/")
        assert active != "active", st
        assert enabled not in ("enabled", "enabled-runtime", "static"), st
    assert mail_processes(sd.srv) == []
    # the wants/ links systemctl enable made are gone too
    r = sd.srv.run("ls /etc/systemd/system/multi-user.target.wants/", check=False)
    assert not re.search(r"postfix|dovecot", r.stdout), r.stdout
