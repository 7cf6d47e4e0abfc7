"""mailwizard on a real fresh Debian 13 (trixie) server: Postfix 3.10, Dovecot 2.4, Python
3.13.  Until this module, Debian 13 was only covered by running trixie's validators on
generated files (``test_real_config.py``); here the whole path runs for real.

Scenario (as ``test_mailwizard.py`` on Debian 12): a fresh trixie minbase server without any
mail package; the module fixture installs mailwizard the README way (a venv and pip from the
wheelhouse built for cp313 / glibc 2.41) and runs ``mailwizard apply --yes`` once with the
Dovecot SASL backend; the tests then probe the result from the host with real clients
(swaks, openssl s_client, imaplib), verify, re-apply and finally roll everything back.
"""

from __future__ import annotations

import re
import time

import lab
import mwlab
import pytest
from mwlab import Deployed, deploy

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dep(trixie_image: lab.Image):
    srv = lab.track_module_server(lab.Server(trixie_image))
    try:
        srv.boot()
        srv.attach_debs()
        yield deploy(srv, "dovecot", record="trixie_apply")
    finally:
        srv.halt()


def test_fresh_server_is_trixie_without_mail_packages(trixie_image: lab.Image):
    with lab.Server(trixie_image) as srv:
        r = srv.run("cat /etc/debian_version; python3 -c 'import sys; print(sys.version)'; "
                    "dpkg-query -W -f '${Status}\\n' postfix dovecot-core 2>&1 || true")
        lines = r.stdout.splitlines()
        assert lines[0].startswith("13"), r.stdout
        assert lines[1].startswith("3.13"), r.stdout
        assert "install ok installed" not in r.stdout, r.stdout


def test_apply_installs_postfix_310_and_dovecot_24(dep: Deployed):
    assert dep.apply_rc == 0, dep.apply_out[-6000:]
    assert "All steps applied" in dep.apply_out
    assert re.search(r"\d+ passed, 0 failed", dep.apply_out), dep.apply_out[-3000:]
    r = dep.srv.run("dpkg-query -W -f '${Package} ${Version} ${Status}\\n' "
                    "postfix dovecot-core dovecot-imapd")
    assert r.stdout.count("install ok installed") == 3, r.stdout
    versions = dict(line.split()[:2] for line in r.stdout.splitlines())
    assert versions["postfix"].startswith("3.10"), versions
    assert versions["dovecot-core"].startswith("1:2.4"), versions
    print(f"mailwizard apply on trixie took {dep.apply_seconds:.1f} s")


def test_doveconf_shows_24_syntax(dep: Deployed):
    r = dep.srv.run("doveconf -n 2>&1")
    assert re.search(r"^dovecot_config_version = 2\.4", r.stdout, re.M), r.stdout[:3000]
    assert re.search(r"^dovecot_storage_version = ", r.stdout, re.M), r.stdout[:3000]


def test_ehlo_25_offers_starttls_but_no_auth_before_it(dep: Deployed):
    mwlab.check_starttls_and_no_auth_before_tls(dep.box)


def test_submission_auth_plain_delivers_to_maildir_new(dep: Deployed):
    mwlab.check_swaks_submission_delivers(dep.box, "alice")


def test_not_an_open_relay(dep: Deployed):
    mwlab.check_not_an_open_relay(dep.box)


def test_openssl_verifies_certificate_tls12_plus(dep: Deployed):
    mwlab.check_openssl_starttls_verifies(dep.box)


def test_imaps_login_and_read(dep: Deployed):
    mwlab.check_imaps_reads(dep.box, "bob")


def test_mailwizard_verify_passes(dep: Deployed):
    r = mwlab.mailwizard(dep.srv, "verify", "trixie_verify", 300)
    assert "FAIL" not in r.stdout


def test_second_apply_changes_nothing(dep: Deployed):
    r = mwlab.mailwizard(dep.srv, "apply --yes", "trixie_reapply", 600)
    mwlab.check_converged(r.stdout)


def test_rollback_restores_etc_byte_for_byte(dep: Deployed):
    """Last: /etc is as it was before apply (content, mode, owner), the packages are gone."""
    t0 = time.monotonic()
    r = dep.srv.run("mailwizard rollback --yes 2>&1", check=False, timeout=900)
    lab._record("trixie_rollback", time.monotonic() - t0)
    assert r.returncode == 0, r.stdout[-4000:]
    diff = mwlab.manifest_diff(dep.before, mwlab.manifest(dep.srv.path("/")))
    assert not diff, "\n".join(diff[:50])
    r = dep.srv.run("dpkg-query -W -f '${Status}\\n' postfix 2>&1", check=False)
    assert "install ok installed" not in r.stdout
    assert not dep.srv.path("/etc/postfix/main.cf").exists()
