"""Logs and queue (guides 000, 004): the checks the services step adds to verify, and the
runbook section that says where the log is and how to read the queue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from recipe_plans import DEMO, PLATFORMS

from recipes._logs import (
    LOG_CHECK,
    QUEUE_CHECK,
    mail_log_check,
    queue_check,
)
from wizard.executor import FakeCommand, ScriptedExecutor
from wizard.platforms import get_platform
from wizard.runbook.sections import logs_and_queue


def _jq(n: int) -> str:
    return "".join(json.dumps({"queue_name": "deferred", "queue_id": f"8F5061A00{i:02X}",
                               "recipients": []}) + "\n" for i in range(n))


def test_queue_check(tmp_path: Path) -> None:
    ex = ScriptedExecutor(tmp_path, {"postqueue -j": FakeCommand(0, _jq(2))})
    r = queue_check(ex, running=True)
    assert r.name == QUEUE_CHECK and r.ok and "2 message(s)" in r.detail
    assert queue_check(ScriptedExecutor(tmp_path, {"postqueue -j": FakeCommand(0, "")}),
                       running=True).detail == "the queue is empty"
    bad = ScriptedExecutor(tmp_path, {"postqueue -j": FakeCommand(0, "garbage\n")})
    assert queue_check(bad, running=True).ok is False
    half = ScriptedExecutor(tmp_path, {"postqueue -j": FakeCommand(0, _jq(1) + "Mail queue "
                                                                   "is empty\n")})
    r = queue_check(half, running=True)
    assert r.ok is False and r.detail == "line 2 is not JSON"
    # an entry whose queue id is not one is no message (the queue parser's rule)
    odd = ScriptedExecutor(tmp_path, {"postqueue -j": FakeCommand(
        0, json.dumps({"queue_id": "x; rm", "queue_name": "deferred"}) + "\n")})
    assert queue_check(odd, running=True).detail == "line 1 is not a queue entry"
    down = ScriptedExecutor(tmp_path, {"postqueue -j": FakeCommand(69, "", "fatal")})
    assert queue_check(down, running=True).ok is False
    assert queue_check(ex, running=False).ok is None
    # EL7's Postfix 2.10 has no -j: postqueue -p, its listing parsed
    listing = ("-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
               "8F5061A005C     1234 Tue Dec  1 10:00:00  alice@example.com\n"
               "(connect to dead.example[192.0.2.1]:25: Connection refused)\n"
               "                                         bob@dead.example\n\n"
               "-- 1 Kbytes in 1 Request.\n")
    el7 = ScriptedExecutor(tmp_path, {
        "postqueue -j": FakeCommand(64, "", "postqueue: invalid option -- 'j'"),
        "postqueue -p": FakeCommand(0, listing)})
    r = queue_check(el7, running=True)
    assert r.ok and r.detail == "1 message(s) queued", r
    assert el7.calls == [["postqueue", "-j"], ["postqueue", "-p"]]


def test_mail_log_file_or_journal(tmp_path: Path) -> None:
    el = get_platform("rocky9")
    log = tmp_path / "var/log/maillog"
    log.parent.mkdir(parents=True)
    log.write_text("Dec  2 postfix/master[1]: daemon started\n")
    r = mail_log_check(ScriptedExecutor(tmp_path), el, "systemd")
    assert r.name == LOG_CHECK and r.ok and "/var/log/maillog" in r.detail
    deb = get_platform("debian12")  # no /var/log/mail.log without rsyslog: the journal
    (tmp_path / "usr/bin").mkdir(parents=True)
    jc = tmp_path / "usr/bin/journalctl"
    jc.write_text("#!/bin/sh\n")
    jc.chmod(0o755)
    ok = ScriptedExecutor(tmp_path, {"journalctl": FakeCommand(0, "postfix/master: up\n")})
    assert mail_log_check(ok, deb, "systemd").ok
    empty = ScriptedExecutor(tmp_path, {"journalctl": FakeCommand(0, "")})
    assert mail_log_check(empty, deb, "systemd").ok is False
    assert mail_log_check(empty, deb, "sysv").ok is None  # no syslog at all: said, not failed


@pytest.mark.parametrize("pid", PLATFORMS)
def test_runbook_section_logs_and_queue(pid: str) -> None:
    p = get_platform(pid)
    text = "\n".join(logs_and_queue(p))
    assert "## Logs and the mail queue" in text
    assert f"tail -f {p.mail_log}" in text and f"journalctl -f -u {p.postfix_unit}" in text
    assert "mailq" in text and "postqueue -j" in text
    if pid == "centos7":
        assert "pflogsumm" not in text
    else:
        assert "| pflogsumm -d yesterday" in text
        assert ("pflogsumm" if p.is_debian else "postfix-perl-scripts") in text
    assert DEMO.hostname not in text  # nothing from the answers: no quoting needed
