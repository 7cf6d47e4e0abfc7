"""The step health-timer on lab servers configured by mailwizard (Debian 12, issue 14).

With ``health_check: {mail_to: alice@example.test, schedule: "06:30"}`` in the answers:

* systemd as PID 1: ``apply`` writes ``mailwizard-health.{service,timer}``, which
  ``systemd-analyze verify`` accepts; the timer is enabled, active and listed by
  ``systemctl list-timers``; starting the service once runs ``mailwizard check --mail-to``
  from the installed program: the unit's exit status is the check's (a WARNING or CRITICAL
  result leaves the unit successful, only UNKNOWN fails it) and the report, with the same
  state, arrives in alice's Maildir;
  ``rollback --step health-timer`` disables the timer and leaves /etc as after the apply
  without the units and the timer's ``timers.target.wants`` link;
* no systemd: ``apply`` writes ``/etc/cron.d/mailwizard-health``; the command of its line,
  run by ``sh`` as cron would, prints nothing, exits as the check does and mails the
  report; ``rollback --step health-timer`` removes the file (and the directory it made)
  and nothing else.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Tuple

import lab
import mwlab
import pytest

pytestmark = pytest.mark.e2e

TO = f"alice@{mwlab.DOMAIN}"
HEALTH = {"health_check": {"mail_to": TO, "schedule": "06:30"}}
TIMER = "mailwizard-health.timer"
SERVICE = "mailwizard-health.service"
UNIT_FILES = (f"/etc/systemd/system/{SERVICE}", f"/etc/systemd/system/{TIMER}")
WANTS_LINK = f"/etc/systemd/system/timers.target.wants/{TIMER}"
CRON = "/etc/cron.d/mailwizard-health"
PROGRAM = "/usr/local/bin/mailwizard"
"""Where the lab installs the program (a link to the venv's script), as the admin runs it."""


@dataclass
class Applied:
    srv: lab.Server
    out: str
    after: mwlab.Manifest


def reports(maildir: Path) -> List[Path]:
    """The health reports in a Maildir."""
    found = []
    for sub in ("new", "cur"):
        d = maildir / sub
        if d.is_dir():
            found += [f for f in d.iterdir()
                      if "Subject: [mailwizard] " in f.read_text(errors="replace")]
    return found


def wait_for_report(maildir: Path, count: int, timeout: float = 30) -> List[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = reports(maildir)
        if len(found) >= count:
            return found
        time.sleep(0.3)
    raise AssertionError(f"no health report in {maildir} after {timeout} s")


def check_now(srv: lab.Server, maildir: Path) -> Tuple[subprocess.CompletedProcess, str]:
    """What ``mailwizard check`` says on ``srv`` now (the lab has no DNS: UNKNOWN findings
    are likely), and its first line; no report mailed yet."""
    assert not reports(maildir)
    state = srv.run(f"{PROGRAM} check", check=False, timeout=600)
    first = state.stdout.splitlines()[0] if state.stdout else ""
    assert state.returncode in (0, 1, 2, 3) and first.startswith("MAILWIZARD "), state.stdout
    return state, first


def rollback_step(srv: lab.Server) -> str:
    r = srv.run("mailwizard rollback --step health-timer --yes 2>&1", check=False, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:]
    return r.stdout


# --------------------------------------------------------------------------- systemd
@pytest.fixture(scope="module")
def sd(lab_image: lab.Image) -> Iterator[Applied]:
    with mwlab.systemd_server(lab_image, __file__) as srv:
        srv.install_wheels()
        srv.path("/root/answers.yaml").write_text(mwlab.answers_for(srv.ip, overrides=HEALTH))
        r = srv.run(f"{PROGRAM} apply --answers /root/answers.yaml --yes 2>&1", check=False,
                    timeout=1200)
        assert r.returncode == 0, r.stdout[-6000:]
        yield Applied(srv, r.stdout, mwlab.manifest(srv.path("/")))


def test_systemd_units_are_written_verified_and_the_timer_enabled(sd: Applied) -> None:
    srv = sd.srv
    service = srv.path(UNIT_FILES[0]).read_text()
    assert f"ExecStart={PROGRAM} check --mail-to {TO}\n" in service
    assert "OnCalendar=*-*-* 06:30:00\n" in srv.path(UNIT_FILES[1]).read_text()
    r = srv.run(["systemd-analyze", "verify", *UNIT_FILES], check=False, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert mwlab.unit_state(srv, (TIMER,)) == {TIMER: "active/enabled"}
    listed = srv.run(["systemctl", "list-timers", "--all", "--no-pager"], timeout=60).stdout
    line = next((ln for ln in listed.splitlines() if TIMER in ln), "")
    assert line and SERVICE in line, listed
    v = srv.run("mailwizard verify --answers /root/answers.yaml --step health-timer 2>&1",
                check=False, timeout=300)
    assert v.returncode == 0, v.stdout[-3000:]
    assert f"{TIMER} enabled and active" in v.stdout and "systemd-analyze verify" in v.stdout


def test_the_service_runs_the_installed_check_and_mails_the_report(sd: Applied) -> None:
    srv = sd.srv
    maildir = srv.path("/home/alice/Maildir")
    state, first = check_now(srv, maildir)
    r = srv.run(["systemctl", "start", SERVICE], check=False, timeout=600)
    journal = srv.run(["journalctl", "-u", SERVICE, "--no-pager", "-n", "40"],
                      check=False).stdout
    shown = srv.run(["systemctl", "show", "-p", "Result", "-p", "ExecMainStatus", SERVICE],
                    timeout=60).stdout.split()
    # the unit ran the check: its status is the check's; WARNING and CRITICAL are results
    # (mailed), only UNKNOWN fails the unit
    assert f"ExecMainStatus={state.returncode}" in shown, (shown, journal)
    if state.returncode == 3:
        assert r.returncode != 0 and "Result=exit-code" in shown, (shown, journal)
    else:
        assert r.returncode == 0 and "Result=success" in shown, (shown, journal)
    mail = wait_for_report(maildir, 1)[0].read_text(errors="replace")
    assert f"Subject: [mailwizard] {mwlab.HOSTNAME}: " in mail
    assert "Auto-Submitted: auto-generated" in mail
    assert first.split(" - ")[0] in mail, (first, mail[-2000:])  # the same state mailed


def test_rollback_of_the_step_removes_the_timer_and_nothing_else(sd: Applied) -> None:
    srv = sd.srv
    assert srv.path(WANTS_LINK).is_symlink()
    rollback_step(srv)
    now = mwlab.manifest(srv.path("/"))
    expected = {k: v for k, v in sd.after.items() if k not in (*UNIT_FILES, WANTS_LINK)}
    assert now == expected, mwlab.manifest_diff(expected, now)
    assert mwlab.unit_state(srv, (TIMER,)) == {TIMER: "inactive/not-found"}
    listed = srv.run(["systemctl", "list-timers", "--all", "--no-pager"], timeout=60).stdout
    assert TIMER not in listed


# --------------------------------------------------------------------------- cron
@pytest.fixture(scope="module")
def cron(request: pytest.FixtureRequest) -> Iterator[Applied]:
    with mwlab.deployed(request, overrides=HEALTH) as dep:
        yield Applied(dep.srv, dep.apply_out, mwlab.manifest(dep.srv.path("/")))


def test_without_systemd_the_cron_file_is_written(cron: Applied) -> None:
    srv = cron.srv
    assert not srv.path("/run/systemd/system").exists()
    assert not any(srv.path(p).exists() for p in UNIT_FILES)
    text = srv.path(CRON).read_text()
    last = text.splitlines()[-1]
    assert last == f"30 6 * * * root {PROGRAM} check --mail-to {TO} >/dev/null 2>&1", text
    st = srv.path(CRON).stat()
    assert (st.st_mode & 0o777, st.st_uid) == (0o644, 0)


def test_the_cron_line_mails_the_report(cron: Applied) -> None:
    srv = cron.srv
    maildir = srv.path("/home/alice/Maildir")
    state, first = check_now(srv, maildir)
    line = srv.path(CRON).read_text().splitlines()[-1]
    command = line.split(" root ", 1)[1]  # what cron hands to /bin/sh
    r = srv.run(["sh", "-c", command], check=False, timeout=600)
    assert (r.returncode, r.stdout, r.stderr) == (state.returncode, "", "")
    mail = wait_for_report(maildir, 1)[0].read_text(errors="replace")
    assert f"Subject: [mailwizard] {mwlab.HOSTNAME}: " in mail
    assert first.split(" - ")[0] in mail, (first, mail[-2000:])


def test_rollback_of_the_step_removes_the_cron_file_and_nothing_else(cron: Applied) -> None:
    srv = cron.srv
    rollback_step(srv)
    now = mwlab.manifest(srv.path("/"))
    made_dir = "/etc/cron.d" not in now
    gone = {CRON} | ({"/etc/cron.d"} if made_dir else set())
    expected = {k: v for k, v in cron.after.items() if k not in gone}
    assert now == expected, mwlab.manifest_diff(expected, now)
    assert not srv.path(CRON).exists()
