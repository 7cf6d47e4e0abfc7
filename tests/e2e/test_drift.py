"""A hand edit to main.cf after mailwizard set it up (Debian 12 lab server): a re-run keeps
it, names it with its stock, mailwizard and current values, and its checks say so without
failing; ``apply --overwrite-edits`` sets mailwizard's value back."""

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
