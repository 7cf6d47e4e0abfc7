"""mailwizard check: its findings from the shared parsers (postqueue -j, log formats),
block-list filters, durations."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from wizard import maillog, mailqueue
from wizard.errors import UsageError
from wizard.health import logscan, network, queue
from wizard.health.command import duration
from wizard.health.model import CRITICAL, OK, UNKNOWN, WARNING

NOW = 1_780_000_000  # a fixed "now" (2026-05-28)


def qline(qid: str, queue_name: str, age: int, reason: str = "") -> str:
    return json.dumps({"queue_name": queue_name, "queue_id": qid, "arrival_time": NOW - age,
                       "message_size": 500, "forced_expire": False,
                       "sender": "root@mail.example.com",
                       "recipients": [{"address": "bob@unreachable.example",
                                       **({"delay_reason": reason} if reason else {})}]})


def test_postqueue_json_parsed_and_hostile_lines_skipped():
    text = "\n".join([
        qline("4ABCD12345", "deferred", 7200, "connect to unreachable.example[10.9.9.9]:25: "
              "Connection timed out"),
        qline("5BCDE23456", "active", 30),
        "not json",
        json.dumps({"queue_id": "x; rm -rf /", "queue_name": "deferred", "arrival_time": 1}),
        json.dumps({"queue_id": "6CDEF34567", "queue_name": "deferred", "arrival_time": True}),
        json.dumps([1, 2]),
        "",
    ])
    msgs, problems = mailqueue.parse_json(text)
    assert [m.queue_id for m in msgs] == ["4ABCD12345", "5BCDE23456"]
    assert len(problems) == 4
    s = mailqueue.summarise(msgs, NOW)
    assert s.oldest_id == "4ABCD12345" and s.oldest_queue == "deferred"
    assert s.reasons == [("connect to unreachable.example[10.9.9.9]:25: Connection "
                          "timed out", 1)]
    f = queue.queue_findings(s, size_warn=5, size_crit=10, age_warn=3600, age_crit=10800,
                             skipped=len(problems))
    assert [(x.state, x.detail) for x in f if x.name == "queue listing"] == [
        (UNKNOWN, "4 line(s) of postqueue -j could not be read")]


def summary_of(text: str) -> mailqueue.QueueSummary:
    msgs, problems = mailqueue.parse_json(text)
    assert problems == []
    return mailqueue.summarise(msgs, NOW)


def test_queue_thresholds_age_and_size():
    st = summary_of(qline("4ABCD12345", "deferred", 7200, "timed out"))
    f = {x.name: x for x in queue.queue_findings(st, size_warn=5, size_crit=10,
                                                 age_warn=3600, age_crit=10800)}
    assert f["queue size"].state == OK and f["queue size"].detail == "1 message(s), 1 deferred"
    assert f["oldest queued message"].state == WARNING
    assert f["oldest queued message"].detail == "4ABCD12345 (deferred) waiting 2 h"
    assert f["deferred reason"].state == WARNING and "timed out" in f["deferred reason"].detail
    assert "queue listing" not in f
    f2 = {x.name: x for x in queue.queue_findings(st, size_warn=1, size_crit=1,
                                                  age_warn=60, age_crit=120)}
    assert f2["queue size"].state == CRITICAL
    assert f2["oldest queued message"].state == CRITICAL
    empty = queue.queue_findings(mailqueue.summarise([], NOW), size_warn=1, size_crit=2,
                                 age_warn=1, age_crit=2)
    assert {x.state for x in empty} == {OK}
    unknown = queue.queue_findings(None, size_warn=1, size_crit=2, age_warn=1,
                                   age_crit=2, why_unknown="postqueue -j failed")
    assert [x.state for x in unknown] == [UNKNOWN]


def test_control_characters_in_queue_fields_never_reach_output():
    line = json.dumps({"queue_name": "deferred", "queue_id": "7ABCDEF123", "arrival_time": NOW,
                       "sender": "a\nb", "recipients": [{"address": "x\x1b[2Jy",
                                                         "delay_reason": "bad\r\nthing"}]})
    (m,), _ = mailqueue.parse_json(line)
    assert "\n" not in m.sender and "\x1b" not in m.recipients[0].address
    reason = mailqueue.summarise([m], NOW).reasons[0][0]
    assert reason.startswith("bad") and reason.endswith("thing")
    assert all(" " <= ch <= "~" for ch in reason), reason
    f = queue.queue_findings(mailqueue.summarise([m], NOW), size_warn=5, size_crit=10,
                             age_warn=60, age_crit=120)
    assert all(" " <= ch <= "~" for x in f for ch in x.detail + x.hint)


AWARE_NOW = dt.datetime(2026, 12, 2, 17, 0, 0, tzinfo=dt.timezone.utc)
T_NOW = AWARE_NOW.timestamp()

LOGS = Path(__file__).with_name("health_logs")
JOURNAL = (LOGS / "journal-short-iso.txt").read_text()

MAILLOG = (LOGS / "maillog-classic.txt").read_text()

RSYSLOG = ("2026-12-02T16:59:00.123456+00:00 mail postfix/smtpd[1]: warning: unknown[2001:db8::5]"
           ": SASL LOGIN authentication failed: x\n")


def day_counts(text: str, now: float = T_NOW) -> maillog.WindowCounts:
    """The counts of ``mailwizard check``: the last 24 h of the log, as its log part does."""
    return maillog.window_counts(maillog.parse_lines(text.splitlines(), now=now,
                                                     since=now - logscan.WINDOW))


def test_journal_short_iso_lines():
    s = day_counts(JOURNAL)
    assert s.auth_failures == {"203.0.113.9": 3}  # the one of 2 days ago is outside
    assert s.rejects == 1
    assert list(s.reject_reasons) == ["554 <x@example.org>: Relay access denied"]


def test_classic_maillog_lines_and_rsyslog_iso():
    s = day_counts(MAILLOG + RSYSLOG)
    assert s.auth_failures == {"192.0.2.44": 2, "2001:db8::5": 1}
    assert s.rejects == 1


def test_classic_date_in_the_future_is_last_year():
    jan = dt.datetime(2027, 1, 1, 0, 30, tzinfo=dt.timezone.utc).timestamp()
    (e,) = maillog.parse_lines(["Dec 31 23:50:00 mail postfix/smtpd[1]: warning: x[192.0.2.1]"
                                ": SASL LOGIN authentication failed: x"], now=jan)
    assert dt.datetime.fromtimestamp(e.time).year == 2026


def test_auth_burst_warns_and_names_the_address():
    s = day_counts(JOURNAL)
    f = {x.name: x for x in logscan.log_findings(s, "the journal", auth_warn=3)}
    assert f["failed logins in 24 h"].state == WARNING
    assert "203.0.113.9 (3)" in f["failed logins in 24 h"].detail
    assert f["rejects in 24 h"].state == OK and "1 rejected" in f["rejects in 24 h"].detail
    calm = {x.name: x for x in logscan.log_findings(s, "the journal", auth_warn=4)}
    assert calm["failed logins in 24 h"].state == OK
    none = logscan.log_findings(None, "/var/log/mail.log", auth_warn=3)
    assert [(x.state, x.detail) for x in none] == [
        (OK, "not checked: no journal and no /var/log/mail.log")]


@pytest.mark.parametrize("code,flt,listed", [
    ("127.0.0.2", "", True),
    ("127.255.255.254", "", False),
    ("127.0.0.2", "127.0.0.[2..11]", True),
    ("127.0.0.12", "127.0.0.[2..11]", False),
    ("127.255.255.254", "127.0.0.[2..11]", False),
    ("127.0.0.4", "127.0.0.[2;4]", True),
    ("127.0.0.3", "127.0.0.[2;4]", False),
    ("127.0.1.2", "127.0.0.2", False),
    ("garbage", "", False),
])
def test_rbl_reply_filters(code, flt, listed):
    assert network.rbl_code_matches(code, flt) is listed


def test_rbl_findings_listed_refused_and_clean():
    answers = {"2.113.0.203.rbl.example.": ["127.0.0.2"],
               "2.113.0.203.refusing.example.": ["127.255.255.254"]}

    def lookup(name):
        if name.endswith("broken.example."):
            return None, "Timeout"
        return answers.get(name, []), ""

    f = network.rbl_findings(["203.0.113.2", "2001:db8::1"],
                             ["rbl.example", "refusing.example", "clean.example",
                              "broken.example"], lookup)
    states = {x.name: x.state for x in f}
    assert states == {"203.0.113.2 on rbl.example": CRITICAL,
                      "203.0.113.2 on refusing.example": UNKNOWN,
                      "203.0.113.2 on clean.example": OK,
                      "203.0.113.2 on broken.example": UNKNOWN}
    assert network.rbl_query_name("203.0.113.2", "rbl.example") == "2.113.0.203.rbl.example."
    assert network.rbl_findings([], ["rbl.example"], lookup)[0].state == OK


@pytest.mark.parametrize("text,seconds", [("90", 90), ("90s", 90), ("30m", 1800),
                                          ("4h", 14400), ("2d", 172800)])
def test_durations(text, seconds):
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1w", "-5m", "5 m m", "1e3", "٣m", "5m\n"])
def test_bad_durations_refused(text):
    with pytest.raises(UsageError):
        duration(text)
