"""mailwizard check: states and exit codes, the text and JSON report against the schema,
mail only on change, the parts of a run on a temporary root, and the verb's UNKNOWNs."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from schema_check import validate

from wizard import cli
from wizard.executor import FakeCommand, ScriptedExecutor
from wizard.health import collect, notify
from wizard.health.command import schema_path
from wizard.health.model import CRITICAL, EXIT_CODES, OK, UNKNOWN, WARNING, Finding, Report, worst
from wizard.platforms import get_platform

SCHEMA = json.loads(Path(schema_path()).read_text())


def report(*states: str) -> Report:
    r = Report("mail.example.com")
    for i, s in enumerate(states):
        r.findings.append(Finding("queue" if i % 2 else "services", f"thing {i}", s,
                                  f"detail {i}", "do this"))
    return r


@pytest.mark.parametrize("states,expected", [
    ((), OK), ((OK, OK), OK), ((OK, WARNING), WARNING), ((WARNING, CRITICAL, OK), CRITICAL),
    ((OK, UNKNOWN), UNKNOWN), ((UNKNOWN, WARNING), WARNING), ((CRITICAL, UNKNOWN), CRITICAL),
])
def test_overall_state_and_exit_code(states, expected):
    r = report(*states)
    assert r.state == worst(list(states)) == expected
    assert r.exit_code == {OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3}[expected]
    assert EXIT_CODES == {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}


def test_text_report_first_line_and_worst_first():
    r = report(OK, WARNING, CRITICAL, OK)
    lines = r.text().splitlines()
    assert lines[0].startswith("MAILWIZARD CRITICAL - 1 critical, 1 warning (thing 2: "
                               "detail 2; thing 1: detail 1); 2 ok | critical=1 warning=1 ")
    order = [ln for ln in lines if ln.endswith(":") and ln.isupper()]
    assert order == ["CRITICAL:", "WARNING:", "OK:"]
    assert "      -> do this" in lines  # hints under problems only
    assert report(OK).text().splitlines()[0].startswith("MAILWIZARD OK - all fine; 1 ok")


def test_json_report_validates_against_the_schema():
    doc = report(OK, WARNING, UNKNOWN, CRITICAL).to_json()
    assert validate(doc, SCHEMA) == []
    assert doc["findings"][0]["state"] == CRITICAL
    # the validator really checks: a wrong document is refused
    bad = dict(doc, state="FINE")
    assert validate(bad, SCHEMA)
    assert validate(dict(doc, extra=1), SCHEMA)
    broken = json.loads(json.dumps(doc))
    broken["findings"][0]["group"] = "elsewhere"
    assert validate(broken, SCHEMA)


# --------------------------------------------------------------------------- mail
@pytest.mark.parametrize("addr", ["admin@example.com", "a.b+health@mail.example.org",
                                  "postmaster@xn--bcher-kva.example"])
def test_good_addresses(addr):
    assert notify.address_error(addr) is None


@pytest.mark.parametrize("addr", ["", "admin", "@example.com", "admin@", "-oQ/tmp@x.com",
                                  "a b@example.com", "a@example.com\nBcc: x@y.z",
                                  "a@example", "a..b@example.com", ".a@example.com",
                                  "a@-x.com", "a@example.123", "ädmin@example.com",
                                  "a@b@example.com", "a,b@example.com", "a;id@example.com",
                                  "x" * 250 + "@example.com", "a@example.com\x00"])
def test_bad_addresses(addr):
    assert notify.address_error(addr)


def test_mail_only_when_the_result_changed(tmp_path):
    sent = []

    def send(argv, text):
        sent.append((argv, text))
        return 0

    state = tmp_path / "state"
    first = report(OK, WARNING)
    assert notify.mail_if_changed(first, "admin@example.com", state, send) == \
        "report mailed to admin@example.com"
    argv, text = sent[0]
    assert argv == ["/usr/sbin/sendmail", "-oi", "--", "admin@example.com"]
    assert text.startswith("To: admin@example.com\nSubject: [mailwizard] mail.example.com: "
                           "WARNING\n")
    assert "MAILWIZARD WARNING" in text
    assert oct(os.stat(state / notify.STATE_FILE).st_mode & 0o777) == "0o600"
    again = report(OK, WARNING)
    again.findings[1] = Finding("queue", "thing 1", WARNING, "another detail (older)")
    assert "nothing mailed" in notify.mail_if_changed(again, "admin@example.com", state, send)
    assert len(sent) == 1
    notify.mail_if_changed(report(OK, CRITICAL), "admin@example.com", state, send)
    notify.mail_if_changed(report(OK, OK), "admin@example.com", state, send)
    assert len(sent) == 3
    saved = (state / notify.STATE_FILE).read_text()
    assert "detail" not in saved  # names and states only


def test_failed_send_is_tried_again_and_bad_address_refused(tmp_path):
    calls = []

    def fail(argv, text):
        calls.append(argv)
        return 75

    state = tmp_path / "state"
    assert "failed" in notify.mail_if_changed(report(WARNING), "a@example.com", state, fail)
    assert not (state / notify.STATE_FILE).exists()
    assert "failed" in notify.mail_if_changed(report(WARNING), "a@example.com", state, fail)
    assert len(calls) == 2
    with pytest.raises(ValueError):
        notify.mail_if_changed(report(WARNING), "-t@example.com", state, fail)
    assert len(calls) == 2


# --------------------------------------------------------------------------- parts of a run
def run_on(root: Path, script, state_dir=None, **kw) -> collect.HealthRun:
    from fake_target import DEMO_ANSWERS

    ex = ScriptedExecutor(root, script)
    return collect.HealthRun(ex, get_platform("debian12"), DEMO_ANSWERS,
                             state_dir or root / "var/lib/mailwizard", now=1_780_000_000, **kw)


def test_queue_part_reads_postqueue_json(tmp_path):
    line = json.dumps({"queue_name": "deferred", "queue_id": "4ABCD12345",
                       "arrival_time": 1_780_000_000 - 600,
                       "recipients": [{"address": "x@y.example", "delay_reason": "timeout"}]})
    run = run_on(tmp_path, {"postqueue -j": FakeCommand(0, line + "\n")},
                 thresholds=collect.Thresholds(age_warn=60, age_crit=300))
    f = {x.name: x for x in run.queue()}
    assert f["oldest queued message"].state == CRITICAL
    assert "10 min" in f["oldest queued message"].detail
    down = run_on(tmp_path, {"postqueue -j": FakeCommand(69, "", "postqueue: fatal: "
                                                         "Queue report unavailable")})
    assert [x.state for x in down.queue()] == [UNKNOWN]


def test_log_part_uses_the_journal_under_systemd_else_the_file(tmp_path):
    (tmp_path / "var/log").mkdir(parents=True)
    burst = ("2026-05-28T20:00:00+00:00 mail postfix/smtpd[1]: warning: unknown[192.0.2.9]: "
             "SASL LOGIN authentication failed: x\n" * 25)
    (tmp_path / "var/log/mail.log").write_text(burst)
    run = run_on(tmp_path, {})
    f = {x.name: x for x in run.log()}
    assert f["failed logins in 24 h"].state == WARNING
    assert run.log_read().sources == ["/var/log/mail.log"]
    (tmp_path / "var/log/mail.log").rename(tmp_path / "var/log/mail.log.1")
    f = {x.name: x for x in run_on(tmp_path, {}).log()}  # the rotation is read too
    assert f["failed logins in 24 h"].state == WARNING
    (tmp_path / "var/log/mail.log.1").unlink()
    assert [(x.state, x.detail) for x in run_on(tmp_path, {}).log()] == [
        (OK, "not checked: no journal and no /var/log/mail.log")]
    (tmp_path / "var/log/mail.log").write_text(burst)
    (tmp_path / "run/systemd/system").mkdir(parents=True)
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/journalctl").write_text("#!/bin/sh\n")
    (tmp_path / "usr/bin/journalctl").chmod(0o755)
    run2 = run_on(tmp_path, {"journalctl": FakeCommand(0, "")})
    assert {x.name: x.state for x in run2.log()}["failed logins in 24 h"] == OK
    assert run2.ex.calls[0][:1] == ["journalctl"]


def test_disk_part_states(tmp_path):
    (tmp_path / "var/spool/postfix").mkdir(parents=True)
    (tmp_path / "home").mkdir()
    run = run_on(tmp_path, {})
    from wizard.health import disk

    def low(path):
        return (1 if "spool" in path else 2), 3, 100

    f = disk.disk_findings(run.ex, [("/var/spool/postfix", "queue"), ("/home", "homes"),
                                    ("/nowhere", "x")], 10, 5, stat=low)
    assert [x.state for x in f] == [CRITICAL, CRITICAL]
    real = run.disk()
    assert real and all(x.group == "disk" for x in real)


def test_a_part_that_breaks_is_unknown_not_a_crash(tmp_path):
    run = run_on(tmp_path, {})

    def queue():
        raise RuntimeError("boom")

    f = collect.HealthRun.safely(queue)
    assert [(x.group, x.state) for x in f] == [("queue", UNKNOWN)]
    assert "boom" in f[0].detail
    assert run.state_dir == tmp_path / "var/lib/mailwizard"


def test_verify_results_map_to_states():
    from wizard.checks import failed, info, not_checked, passed

    f = collect.verify_findings({"postfix": [passed("a"), failed("b", "down", "start it"),
                                             info("c"), not_checked("d"),
                                             info("DNS MX: x MX")]})
    assert [(x.name, x.state) for x in f] == [("postfix: a", OK), ("postfix: b", CRITICAL),
                                              ("postfix: c", OK)]
    assert f[1].hint == "start it"


# --------------------------------------------------------------------------- the verb
def check(argv, capsys):
    code = cli.main(["check", *argv])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("argv,why", [
    (["--mail-to=-oX@example.com"], "--mail-to"),
    (["--queue-age", "10x"], "is not a duration"),
    (["--crit-days", "30"], "--crit-days"),
    (["--warn-days", "ten"], "is not a whole number"),
    (["--auth-burst", "0"], "--auth-burst"),
    (["--disk-free", "5,10"], "critical threshold"),
    (["--queue-size", "1,2,3"], "WARN or WARN,CRIT"),
    (["--queue-age", "1h,10m"], "critical threshold"),
    (["--dry-run"], "no --dry-run"),
    (["--platform", "rocky9"], "needs this system"),
])
def test_verb_bad_options_are_unknown(argv, why, capsys, tmp_path):
    code, out = check(["--root", str(tmp_path), "--answers", "demo", *argv], capsys)
    assert code == 3
    assert out.startswith("MAILWIZARD UNKNOWN - ") and why in out


def test_verb_unknown_as_json_validates(capsys, tmp_path):
    code, out = check(["--root", str(tmp_path), "--json", "--warn-days", "1",
                       "--crit-days", "2"], capsys)
    doc = json.loads(out)
    assert code == 3 and doc["state"] == UNKNOWN
    assert validate(doc, SCHEMA) == []


def test_verb_is_listed():
    assert "check" in cli.entry_points()
    help_text = io.StringIO()
    cli.build_parser().print_help(help_text)
    assert "--mail-to" in help_text.getvalue()


def test_the_parser_does_not_load_the_health_run():
    """``mailwizard`` builds its parser (with check's options) at every start; the checks'
    modules (certificates, DNS, the run) load only when ``check`` runs."""
    import subprocess
    import sys

    code = "import sys, wizard.cli; wizard.cli.build_parser(); "
    out = subprocess.run([sys.executable, "-c", code +
                          "print('wizard.health.collect' in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
