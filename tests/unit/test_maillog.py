"""The mail log parser: syslog lines (RFC 3164, rsyslog's RFC 3339, journalctl short-iso),
Postfix deliveries joined by queue id, smtpd and postscreen rejects, SASL and Dovecot login
failures; hostile content escaped; the log sources of a target."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from wizard import maillog as ml
from wizard.errors import UsageError
from wizard.executor import FakeCommand, ScriptedExecutor
from wizard.logsource import read_log, recent_events
from wizard.platforms import get_platform

DATA = Path(__file__).parent / "maildata"
NOW = time.mktime((2026, 12, 2, 12, 0, 0, 0, 0, -1))

# RFC 3164, as rsyslog on EL writes /var/log/maillog (Postfix 2.10/3.5, Dovecot 2.2/2.3)
BSD = (DATA / "maillog-el.log").read_text()

# journalctl -o short-iso (Debian 12, systemd 252: +0000; Debian 13: +00:00), Postfix 3.7/3.10
JOURNAL = (DATA / "journal-short-iso.log").read_text()


def test_rfc3164_lines_joined_by_queue_id():
    events = ml.parse_lines(BSD.splitlines(), now=NOW, since=NOW - 86400)
    kinds = [e.kind for e in events]
    assert kinds == ["delivered", "rejected", "auth-failed", "auth-failed"]
    d, r, sasl, imap = events
    assert (d.queue_id, d.sender, d.recipients, d.relay, d.status) == (
        "3A1B22C0D4", "someone@example.org", ["alice@example.test"], "local", "sent")
    assert d.reason == "delivered to maildir" and d.client == "client.example.org[10.201.1.1]"
    assert d.time == time.mktime((2026, 12, 2, 10, 0, 1, 0, 0, -1))
    assert r.queue_id == "" and r.recipients == ["victim@external.invalid"]
    assert r.sender == "spammer@elsewhere.invalid" and "Relay access denied" in r.reason
    assert r.client == "unknown[10.201.1.3]"
    assert sasl.service == "postfix/submission/smtpd" and "SASL PLAIN" in sasl.reason
    assert imap.user == "bob" and imap.client == "10.201.1.3" and "imap" in imap.reason


def test_journal_short_iso_lines():
    events = ml.parse_lines(JOURNAL.splitlines(), now=NOW)
    by_kind = {}
    for e in events:
        by_kind.setdefault(e.kind, []).append(e)
    (sent,) = by_kind["delivered"]
    (deferred,) = by_kind["deferred"]
    assert sent.queue_id == deferred.queue_id == "4dLqBv0Tm7z3Ck7"
    assert sent.user == "alice" and sent.sender == "alice@example.test"
    assert deferred.recipients == ["x@unreachable.test"] and deferred.relay == "none"
    assert "Connection timed out" in deferred.reason
    (bounced,) = by_kind["bounced"]
    assert bounced.recipients == ["y@example.org"] and "User unknown" in bounced.reason
    assert bounced.relay == "mx.example.org[192.0.2.5]:25"
    screen, milter = by_kind["rejected"]
    assert screen.service == "postfix/postscreen" and "blocked using rbl.lab.test" in \
        screen.reason and screen.recipients == ["alice@example.test"]
    assert milter.queue_id == "7777AAAA01" and "Virus found" in milter.reason
    sasl, imap = by_kind["auth-failed"]
    assert sasl.user == "alice@example.test" and sasl.client == "unknown[10.201.1.3]"
    assert imap.user == "alice" and imap.service == "dovecot imap-login"
    assert sasl.time == datetime(2026, 12, 2, 11, 12, tzinfo=timezone.utc).timestamp()


def test_a_deferred_message_delivered_later_is_delivered():
    lines = [
        "Dec  2 09:00:00 mail postfix/qmgr[1]: ABCDEF12: from=<a@x.test>, size=1, nrcpt=1 "
        "(queue active)",
        "Dec  2 09:00:30 mail postfix/smtp[2]: ABCDEF12: to=<b@y.test>, relay=none, "
        "delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to y.test: timeout)",
        "Dec  2 09:10:00 mail postfix/smtp[3]: ABCDEF12: to=<b@y.test>, relay=y.test[1.2.3.4]"
        ":25, delay=600, delays=0/570/1/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)"]
    (e,) = ml.parse_lines(lines, now=NOW)
    assert (e.kind, e.relay, e.reason) == ("delivered", "y.test[1.2.3.4]:25", "250 2.0.0 Ok")


def test_select_and_counts():
    events = ml.parse_lines((BSD + JOURNAL).splitlines(), now=NOW)
    alice = ml.select(events, "alice@example.test")
    # alice sent the deferred message and received a delivered one
    assert {e.kind for e in alice} == {"delivered", "deferred", "rejected", "auth-failed"}
    assert len(ml.select(events, "alice")) > len(alice)  # the bare login name too
    assert [e.kind for e in ml.select(events, kinds=["deferred"])] == ["deferred"]
    assert ml.select(events, "ALICE@example.test", ["auth-failed"])[0].user == \
        "alice@example.test"
    c = ml.counts(events)
    assert c == {"delivered": 2, "deferred": 1, "bounced": 1, "rejected": 3,
                 "auth-failed": 4}
    assert ml.auth_failures_by_client(events) == [("10.201.1.3", 4)]


def test_hostile_log_content_is_escaped():
    line = ("Dec  2 10:00:00 mail postfix/smtpd[1]: NOQUEUE: reject: RCPT from "
            "evil\x1b]0;pwned\x07[10.0.0.1]: 554 5.7.1 <a\x1b[31m@x>: Relay access denied"
            "\u202e; from=<\x9b2J@evil> to=<a@x> proto=ESMTP helo=<\x1b[2J>")
    (e,) = ml.parse_lines([line], now=NOW)
    for text in (e.client, e.reason, e.sender):
        assert not any(ord(ch) < 32 or 0x7f <= ord(ch) < 0xa0 for ch in text), text
    assert "\\x1b]0;pwned\\x07" in e.client and "\\u202e" in e.reason
    assert e.sender == "\\x9b2J@evil"


def test_other_lines_are_ignored():
    junk = ["", "garbage", "Dec  2 10:00:00 mail sshd[1]: Accepted password for root",
            "Dec  2 10:00:00 mail postfix/anvil[1]: statistics: max connection rate 1/60s",
            "2026-13-45T99:00:00+0000 mail postfix/smtp[1]: ABCDEF12: to=<a@b>, relay=x, "
            "status=sent"]
    assert ml.parse_lines(junk, now=NOW) == []


def test_since_and_address_validation():
    assert ml.parse_since("24h") == 86400 and ml.parse_since("2d") == 172800
    for bad in ("", "24", "h", "-1h", "1y", "24h\n", "0s", "9999d"):
        with pytest.raises(UsageError, match="--since"):
            ml.parse_since(bad)
    assert ml.check_address("alice") == "alice"
    for bad in ("", "a b", "alice\n", "<a@b>", "a@b;rm", "\x1b"):
        with pytest.raises(UsageError, match="--address"):
            ml.check_address(bad)


def test_read_log_from_the_syslog_file_and_maillog_file(tmp_path):
    plat = get_platform("rocky9")
    (tmp_path / "var/log").mkdir(parents=True)
    (tmp_path / "var/log/maillog").write_text(BSD)
    ex = ScriptedExecutor(tmp_path)
    read = read_log(ex, plat, 86400, now=NOW)
    assert read.sources == ["/var/log/maillog"] and len(read.lines) == len(BSD.splitlines())
    (tmp_path / "etc/postfix").mkdir(parents=True)
    (tmp_path / "etc/postfix/main.cf").write_text("maillog_file = /var/log/postfix.log\n")
    (tmp_path / "var/log/postfix.log").write_text(JOURNAL)
    events, read = recent_events(ex, plat, 86400, now=NOW)
    assert read.sources == ["/var/log/postfix.log", "/var/log/maillog"]
    assert ml.counts(events)["deferred"] == 1 and ml.counts(events)["delivered"] == 2
    assert ex.calls == []  # no systemd: no journalctl
    (tmp_path / "etc/postfix/main.cf").write_text("maillog_file = /var/log/maillog\n")
    read = read_log(ex, plat, 86400, now=NOW)
    assert read.sources == ["/var/log/maillog"] and len(read.lines) == len(BSD.splitlines())


def test_read_log_from_the_journal(tmp_path):
    (tmp_path / "run/systemd/system").mkdir(parents=True)
    (tmp_path / "usr/bin").mkdir(parents=True)
    jc = tmp_path / "usr/bin/journalctl"
    jc.write_text("")
    jc.chmod(0o755)
    ex = ScriptedExecutor(tmp_path, {"journalctl": FakeCommand(0, JOURNAL)})
    events, read = recent_events(ex, get_platform("debian12"), 3600 * 2, now=NOW)
    assert read.sources == ["the journal (mail facility)"]
    (call,) = ex.calls
    assert call[:5] == ["journalctl", "-q", "--no-pager", "-o", "short-iso"]
    assert call[-1] == "SYSLOG_FACILITY=2" and call[-2] == "2026-12-02 10:00:00"
    assert ml.counts(events)["rejected"] == 2


def test_read_log_takes_the_newest_rotation_first(tmp_path):
    plat = get_platform("rocky9")
    logs = tmp_path / "var/log"
    logs.mkdir(parents=True)
    (logs / "maillog").write_text("Dec  2 10:00:00 mail postfix/qmgr[1]: x\n")
    (logs / "maillog-20261122").write_text("old\n")
    (logs / "maillog-20261129").write_text("newer\n")
    (logs / "maillog-2026112").write_text("not a rotation\n")
    read = read_log(ScriptedExecutor(tmp_path), plat, 86400, now=NOW)
    assert read.sources == ["/var/log/maillog-20261129", "/var/log/maillog"]
    assert read.lines[0] == "newer" and read.problems == []
    deb = tmp_path / "deb"
    (deb / "var/log").mkdir(parents=True)
    (deb / "var/log/mail.log.1").write_text("one\n")
    read = read_log(ScriptedExecutor(deb), get_platform("debian12"), 86400, now=NOW)
    assert read.sources == ["/var/log/mail.log.1"]
    assert read.problems == ["/var/log/mail.log does not exist"]


def test_window_counts_of_the_last_day():
    now = 1_780_000_000.0
    lines = [
        "2026-05-28T20:00:00+00:00 mail postfix/smtpd[1]: warning: unknown[192.0.2.9]: SASL "
        "LOGIN authentication failed: x",
        "2026-05-28T20:00:01+00:00 mail postfix/smtpd[1]: warning: unknown[192.0.2.9]: SASL "
        "PLAIN authentication failed: ",
        "2026-05-28T20:00:02+00:00 mail postfix/smtpd[2]: NOQUEUE: reject: RCPT from "
        "x[198.51.100.7]: 554 5.7.1 <x@example.org>: Relay access denied; from=<a@b.c> "
        "to=<x@example.org> proto=ESMTP helo=<h>",
        "2026-05-26T20:00:00+00:00 mail postfix/smtpd[1]: warning: unknown[192.0.2.10]: SASL "
        "LOGIN authentication failed: x",
    ]
    events = ml.parse_lines(lines, now=now)
    all_time = ml.window_counts(events)
    assert all_time.auth_failures == {"192.0.2.9": 2, "192.0.2.10": 1}
    day = ml.window_counts(events, since=now - 86400)
    assert day.auth_failures == {"192.0.2.9": 2}
    assert day.rejects == 1
    assert day.reject_reasons == {"554 <x@example.org>: Relay access denied": 1}
    assert ml.window_counts([], since=now) == ml.WindowCounts()


@pytest.mark.parametrize("reason,short", [
    ("554 5.7.1 <x@example.org>: Relay access denied", "554 <x@example.org>: Relay access denied"),
    ("450 4.7.25 Client host rejected: cannot find your hostname",
     "450 Client host rejected: cannot find your hostname"),
    ("550 Mailbox unavailable", "550 Mailbox unavailable"),
    ("odd text " + "x" * 200, ("odd text " + "x" * 200)[:120]),
])
def test_short_reject_reason(reason, short):
    assert ml.short_reject_reason(reason) == short
