"""Hand edits after mailwizard set up a Debian 12 lab server, to main.cf and to a Dovecot
conf.d file: a re-run keeps each, names it with its stock, mailwizard and current values, and
its checks say so without failing; ``apply --overwrite-edits`` sets mailwizard's value
back."""

from __future__ import annotations

import mwlab
import pytest
from mwlab import Deployed

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dep(request: pytest.FixtureRequest):
    with mwlab.deployed(request, "bookworm", record="drift_apply") as d:
        yield d


def postconf(dep: Deployed, name: str) -> str:
    return dep.srv.run(f"postconf -h {name}").stdout.strip()


def test_a_re_run_keeps_a_hand_edit_of_main_cf(dep: Deployed) -> None:
    assert postconf(dep, "smtpd_helo_required") == "yes"
    dep.srv.run("postconf -e 'smtpd_helo_required = no'")
    r = dep.srv.run("mailwizard apply --yes 2>&1", check=False, timeout=900)
    assert r.returncode == 0, r.stdout[-5000:]
    assert "kept 1 hand edit(s): smtpd_helo_required" in r.stdout, r.stdout[-5000:]
    assert "mailwizard 'yes', now 'no'" in r.stdout
    assert postconf(dep, "smtpd_helo_required") == "no"
    r = dep.srv.run("mailwizard apply --overwrite-edits --yes 2>&1", check=False, timeout=900)
    assert r.returncode == 0, r.stdout[-5000:]
    assert postconf(dep, "smtpd_helo_required") == "yes"


SSL_CONF = "/etc/dovecot/conf.d/10-ssl.conf"


def doveconf(dep: Deployed, name: str) -> str:
    return dep.srv.run(f"doveconf -h {name}").stdout.strip()


def test_a_re_run_keeps_a_hand_edit_of_a_dovecot_setting(dep: Deployed) -> None:
    assert doveconf(dep, "ssl_min_protocol") == "TLSv1.2"
    dep.srv.run("sed -i 's/^ssl_min_protocol = TLSv1.2$/ssl_min_protocol = TLSv1.3/' "
                + SSL_CONF)
    assert doveconf(dep, "ssl_min_protocol") == "TLSv1.3"
    # check names the file and the setting
    r = dep.srv.run("mailwizard check --answers /root/answers.yaml 2>&1", check=False,
                    timeout=600)
    assert f"{SSL_CONF} edited since apply" in r.stdout, r.stdout[-5000:]
    assert "mailwizard's settings changed: ssl_min_protocol" in r.stdout, r.stdout[-5000:]
    # the plan and the re-run keep it, with the three values
    r = dep.srv.run("mailwizard plan --answers /root/answers.yaml 2>&1", check=False,
                    timeout=600)
    assert f"{SSL_CONF}: kept 1 hand edit(s): ssl_min_protocol" in r.stdout, r.stdout[-5000:]
    r = dep.srv.run("mailwizard apply --yes 2>&1", check=False, timeout=900)
    assert r.returncode == 0, r.stdout[-5000:]
    assert f"{SSL_CONF}: kept 1 hand edit(s): ssl_min_protocol" in r.stdout, r.stdout[-5000:]
    # Debian's 10-ssl.conf has the setting only as a comment
    assert ("ssl_min_protocol: not in the stock file, mailwizard 'TLSv1.2', now 'TLSv1.3'"
            in r.stdout), r.stdout[-5000:]
    assert doveconf(dep, "ssl_min_protocol") == "TLSv1.3"
    r = dep.srv.run("mailwizard verify --answers /root/answers.yaml --step tls-dovecot 2>&1",
                    check=False, timeout=600)
    [line] = [x for x in r.stdout.splitlines() if "dovecot ssl_min_protocol" in x]
    assert "INFO" in line and "FAIL" not in line, r.stdout[-3000:]
    # --overwrite-edits puts mailwizard's value back
    r = dep.srv.run("mailwizard apply --overwrite-edits --yes 2>&1", check=False, timeout=900)
    assert r.returncode == 0, r.stdout[-5000:]
    assert doveconf(dep, "ssl_min_protocol") == "TLSv1.2"


MASTER_CF = "/etc/postfix/master.cf"


def test_a_re_run_keeps_a_hand_edit_of_a_master_cf_service(dep: Deployed) -> None:
    """An override added by hand to the submission service: Postfix uses it, the re-run
    keeps the entry whole and says so, --overwrite-edits writes mailwizard's entry back."""
    dep.srv.run("sed -i '/^  -o syslog_name=postfix\\/submission$/a\\"
                "  -o smtpd_client_connection_rate_limit=30' " + MASTER_CF)
    limit = "postconf -P submission/inet/smtpd_client_connection_rate_limit"
    assert dep.srv.run(limit).stdout.strip().endswith("= 30")
    r = dep.srv.run("mailwizard apply --yes 2>&1", check=False, timeout=900)
    assert r.returncode == 0, r.stdout[-5000:]
    assert f"{MASTER_CF}: kept 1 hand edit(s): submission/inet" in r.stdout, r.stdout[-5000:]
    assert dep.srv.run(limit).stdout.strip().endswith("= 30")
    r = dep.srv.run("mailwizard verify --answers /root/answers.yaml --step tls-postfix 2>&1",
                    check=False, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:]  # the entry still holds what 587 needs
    r = dep.srv.run("mailwizard apply --overwrite-edits --yes 2>&1", check=False, timeout=900)
    assert r.returncode == 0, r.stdout[-5000:]
    assert dep.srv.run(limit, check=False).stdout.strip() == ""
