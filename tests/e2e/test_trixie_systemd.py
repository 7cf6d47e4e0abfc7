"""Cyrus saslauthd on a real Debian 13 (trixie) server whose PID 1 is systemd.

Debian 13's sasl2-bin replaced the init script by a native ``saslauthd.service`` that ignores
the socket directory set in ``/etc/default/saslauthd``; on debian13 with systemd, mailwizard
writes ``/etc/systemd/system/saslauthd.service.d/mailwizard.conf`` (``Type=forking``, the pid
file and ``ExecStart=... -m /var/spool/postfix/var/run/saslauthd``) so the socket is where
Debian's chrooted smtpd looks for it.  Until this module that drop-in had never run for real.

Scenario: a fresh trixie server (no mail packages) booted with systemd; the module fixture
installs mailwizard from the wheelhouse and runs ``mailwizard apply --yes`` once with the
Cyrus backend.  The tests check the units and the drop-in through systemctl, then probe
from the host with real clients (swaks), run ``mailwizard verify`` and finally
``mailwizard rollback`` (``/etc`` byte for byte as before apply, services stopped/disabled).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Dict

import lab
import mwlab
import pytest
from mwlab import Deployed, deploy

pytestmark = pytest.mark.e2e

UNITS = ("postfix", "dovecot", "saslauthd")
SASL_RUN = "/var/spool/postfix/var/run/saslauthd"
SASL_MUX = f"{SASL_RUN}/mux"
DROPIN = "/etc/systemd/system/saslauthd.service.d/mailwizard.conf"
DAEMONS = ("master", "dovecot", "saslauthd")


@dataclass
class TrixieSystemd:
    dep: Deployed
    state_before: Dict[str, str]


def unit_state(srv: lab.Server) -> Dict[str, str]:
    return mwlab.unit_state(srv, tuple(UNITS))


def daemons(srv: lab.Server):  # type: ignore[no-untyped-def]
    r = srv.run(["ps", "-e", "-o", "comm="], timeout=30)
    return sorted({c.strip() for c in r.stdout.splitlines() if c.strip() in DAEMONS})


def show(srv: lab.Server, unit: str, *props: str) -> Dict[str, str]:
    r = srv.run(["systemctl", "show", unit, *[f"--property={p}" for p in props]], timeout=60)
    return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)


@pytest.fixture(scope="module")
def ts(trixie_image: lab.Image):
    with mwlab.systemd_server(trixie_image, __file__) as srv:
        before = unit_state(srv)
        yield TrixieSystemd(deploy(srv, "cyrus", record="trixie_systemd_apply"), before)


def test_fresh_trixie_systemd_server_has_no_mail_units(ts: TrixieSystemd):
    srv = ts.dep.srv
    assert srv.system_state in ("running", "degraded")
    assert srv.run("cat /etc/debian_version").stdout.startswith("13")
    assert srv.run("readlink /proc/1/exe").stdout.strip().endswith("systemd")
    assert all(v.endswith("/not-found") for v in ts.state_before.values()), ts.state_before


def test_apply_with_cyrus_backend(ts: TrixieSystemd):
    dep = ts.dep
    assert dep.apply_rc == 0, dep.apply_out[-6000:]
    assert "All steps applied" in dep.apply_out
    assert re.search(r"\d+ passed, 0 failed", dep.apply_out), dep.apply_out[-3000:]
    print(f"mailwizard apply (trixie, systemd, cyrus) took {dep.apply_seconds:.1f} s")
    r = dep.srv.run("postconf -h smtpd_sasl_type smtpd_sasl_path cyrus_sasl_config_path")
    assert r.stdout.split() == ["cyrus", "smtpd", "/etc/postfix/sasl"], r.stdout


def test_units_active_and_enabled(ts: TrixieSystemd):
    srv = ts.dep.srv
    st = unit_state(srv)
    assert st == {u: "active/enabled" for u in UNITS}, st
    # Debian 13's postfix.service is the main instance itself (Debian 12's was a oneshot
    # wrapper around postfix@-, which stays inactive here): the master runs in its cgroup
    assert show(srv, "postfix@-", "ActiveState")["ActiveState"] == "inactive"
    for unit, comm in (("postfix", "master"), ("dovecot", "dovecot")):
        r = srv.run(f"for p in $(pgrep -x {comm}); do grep '^0::' /proc/$p/cgroup; done",
                    timeout=30)
        assert r.stdout and all(line.endswith(f"/{unit}.service")
                                for line in r.stdout.split()), (unit, r.stdout)
    # the restart loaded the new master.cf and inet_protocols: 587 listens, IPv4 only
    r = srv.run("ss -Hltn", timeout=30)
    assert re.search(r":587\b", r.stdout), r.stdout
    assert not re.search(r"\[::\]:(25|587)\b", r.stdout), r.stdout
    r = srv.run("systemctl --failed --no-legend --plain", timeout=60)
    assert not re.search(r"postfix|dovecot|saslauthd", r.stdout), r.stdout


def test_saslauthd_dropin_in_effect(ts: TrixieSystemd):
    srv = ts.dep.srv
    assert srv.path(DROPIN).is_file()
    props = show(srv, "saslauthd", "Type", "PIDFile", "ExecStart", "DropInPaths", "MainPID",
                 "NeedDaemonReload")
    assert DROPIN in props["DropInPaths"].split(), props
    assert props["NeedDaemonReload"] == "no", props
    assert props["Type"] == "forking", props
    assert props["PIDFile"] == f"{SASL_RUN}/saslauthd.pid", props
    # the drop-in's ExecStart= reset the unit's own: exactly one, with the chroot socket dir
    assert props["ExecStart"].count("path=") == 1, props["ExecStart"]
    assert f"-m {SASL_RUN}" in props["ExecStart"], props["ExecStart"]
    cat = srv.run(["systemctl", "cat", "saslauthd"], timeout=60).stdout
    assert f"# {DROPIN}" in cat, cat
    # the running daemon is the unit's main process and uses the chroot socket directory
    pid = props["MainPID"]
    assert pid != "0", props
    cmdline = srv.path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert b"-m" in cmdline and cmdline[cmdline.index(b"-m") + 1] == SASL_RUN.encode(), cmdline
    assert srv.path(f"{SASL_RUN}/saslauthd.pid").read_text().strip() == pid
    r = srv.run(f"grep '^0::' /proc/{pid}/cgroup", timeout=30)
    assert r.stdout.strip().endswith("/saslauthd.service"), r.stdout


def test_saslauthd_socket_in_postfix_chroot(ts: TrixieSystemd):
    srv = ts.dep.srv
    assert srv.path(SASL_MUX).is_socket()
    r = srv.run(["stat", "-c", "%a %U %G", SASL_RUN], timeout=30)
    assert r.stdout.split() == ["710", "root", "sasl"], r.stdout
    r = srv.run("postconf -F smtp/inet/chroot submission/inet/chroot")
    assert [line.split(" = ")[1] for line in r.stdout.splitlines()] == ["y", "y"], r.stdout
    r = srv.run(["testsaslauthd", "-u", "alice", "-p", mwlab.USERS["alice"], "-s", "smtp",
                 "-f", SASL_MUX], check=False, timeout=30)
    assert r.returncode == 0 and "OK" in r.stdout, r.stdout + r.stderr


def test_ehlo_25_offers_starttls_but_no_auth_before_it(ts: TrixieSystemd):
    mwlab.check_starttls_and_no_auth_before_tls(ts.dep.box)


def test_submission_auth_plain_delivers_to_maildir_new(ts: TrixieSystemd):
    f = mwlab.check_swaks_submission_delivers(ts.dep.box, "alice")
    assert "with ESMTPSA" in f.read_text()
    # checked by saslauthd: Dovecot's auth socket for Postfix does not exist in this setup
    assert not ts.dep.srv.path("/var/spool/postfix/private/auth").exists()


def test_not_an_open_relay(ts: TrixieSystemd):
    mwlab.check_not_an_open_relay(ts.dep.box)


def test_mailwizard_verify_passes(ts: TrixieSystemd):
    r = mwlab.mailwizard(ts.dep.srv, "verify", "trixie_systemd_verify", 300)
    assert "FAIL" not in r.stdout
    assert SASL_MUX in r.stdout, r.stdout[-3000:]


def test_second_apply_changes_nothing_and_restarts_nothing(ts: TrixieSystemd):
    """Converged: every step unchanged, and no daemon restarted (same main PIDs)."""
    srv = ts.dep.srv
    units = ("postfix", "dovecot", "saslauthd")
    pids = {u: show(srv, u, "MainPID")["MainPID"] for u in units}
    assert all(p != "0" for p in pids.values()), pids
    r = mwlab.mailwizard(srv, "apply --yes", "trixie_systemd_reapply", 600)
    mwlab.check_converged(r.stdout)
    assert {u: show(srv, u, "MainPID")["MainPID"] for u in units} == pids


def test_rollback_restores_etc_and_stops_services(ts: TrixieSystemd):
    """Last. No allow-list: every path, mode, owner and byte under /etc is as before."""
    srv = ts.dep.srv
    t0 = time.monotonic()
    r = srv.run("mailwizard rollback --yes 2>&1", check=False, timeout=900)
    lab._record("trixie_systemd_rollback", time.monotonic() - t0)
    assert r.returncode == 0, r.stdout[-4000:]
    diff = mwlab.manifest_diff(ts.dep.before, mwlab.manifest(srv.path("/")))
    assert not diff, "\n".join(diff[:60])
    st = unit_state(srv)
    for state in st.values():
        active, enabled = state.split("/")
        assert active != "active", st
        assert enabled not in ("enabled", "enabled-runtime", "static"), st
    assert daemons(srv) == []
    assert not srv.path(SASL_MUX).exists()
    r = srv.run("ls /etc/systemd/system/multi-user.target.wants/", check=False)
    assert not re.search(r"postfix|dovecot|saslauthd", r.stdout), r.stdout
