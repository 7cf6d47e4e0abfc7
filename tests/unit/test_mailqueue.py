"""The mail queue parsers (postqueue -j of Postfix 3.7 and 3.10, postqueue -p of 2.10), the
queue id validation and the action commands."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from wizard import mailqueue as mq
from wizard.errors import UsageError
from wizard.executor import FakeCommand, ScriptedExecutor

DATA = Path(__file__).parent / "maildata"
# postqueue -j of Postfix 3.7 (Debian 12) and 3.10 (Debian 13: long queue ids, a message on
# hold with two recipients); postqueue -p of Postfix 2.10 (CentOS 7: no -j there)
PQ37 = (DATA / "postqueue-j-3.7.jsonl").read_text()
PQ310 = (DATA / "postqueue-j-3.10.jsonl").read_text()
MAILQ_210 = (DATA / "postqueue-p-2.10.txt").read_text()


def test_postqueue_json_37():
    msgs, problems = mq.parse_json(PQ37)
    assert problems == []
    d, a = msgs
    assert (d.queue_id, d.queue, d.size, d.sender) == ("8F5061A005C", "deferred", 3255,
                                                        "alice@example.test")
    assert d.recipients[0].address == "bob@unreachable.test"
    assert "Connection timed out" in d.reason
    assert d.age(1764669600 + 90) == 90
    assert a.queue == "active" and a.sender == "" and a.reason == ""


def test_postqueue_json_310_long_ids_and_hold():
    (m,), problems = mq.parse_json(PQ310)
    assert problems == []
    assert m.queue_id == "4dLqBv0Tm7z3Ck7" and m.queue == "hold"
    assert [r.address for r in m.recipients] == ["a@example.org", "b@example.org"]
    assert m.recipients[1].reason == ""
    assert m.to_dict(1764670060)["age_seconds"] == 60


def test_postqueue_json_refuses_garbage_and_bad_ids():
    bad = ('not json\n{"queue_id": "../../etc", "queue_name": "deferred"}\n[1]\n'
           '{"queue_id": "ABCDEF1", "queue_name": "weird", "recipients": "x"}\n')
    msgs, problems = mq.parse_json(bad)
    assert len(problems) == 3
    assert [m.queue_id for m in msgs] == ["ABCDEF1"] and msgs[0].queue == "unknown"


def test_hostile_text_is_escaped():
    line = json.dumps({"queue_name": "deferred", "queue_id": "ABCDEF12", "arrival_time": 1,
                       "message_size": 1, "sender": "evil\x1b[2J@x\u202e",
                       "recipients": [{"address": "a@b", "delay_reason": "bad\r\n\x07"}]})
    (m,), _ = mq.parse_json(line)
    assert "\x1b" not in m.sender and "\\x1b[2J" in m.sender and "\\u202e" in m.sender
    assert m.reason == "bad\\x0d\\x0a\\x07"


def test_postqueue_p_of_postfix_210():
    now = time.mktime((2026, 12, 1, 12, 0, 0, 0, 0, -1))
    msgs = mq.parse_listing(MAILQ_210, now=now)
    assert [(m.queue_id, m.queue) for m in msgs] == [
        ("2FB9F1A0084", "active"), ("8F5061A005C", "deferred"), ("A1B2C3D4E5", "hold")]
    active, deferred, held = msgs
    assert active.size == 1081 and active.sender == "root@mail.example.test"
    assert active.age(now) == 7200
    assert deferred.sender == "" and deferred.reason.startswith("connect to unreachable")
    assert [r.address for r in held.recipients] == ["x@example.org", "y@example.org"]
    assert held.age(now) == 12 * 3600 + 1


def test_postqueue_p_date_without_year_is_last_year_in_january():
    now = time.mktime((2027, 1, 1, 0, 30, 0, 0, 0, -1))
    (m, *_) = mq.parse_listing(MAILQ_210, now=now)
    assert 30 * 86400 < m.age(now) < 31 * 86400  # Dec 1 10:00 of 2026


def test_empty_listing():
    assert mq.parse_listing("Mail queue is empty\n") == []
    assert mq.parse_json("") == ([], [])


@pytest.mark.parametrize("qid", ["8F5061A005C", "ABCDEF", "4dLqBv0Tm7z3Ck7",
                                 "3Pf2Jk2Xq9zBG9V"])
def test_queue_ids_accepted(qid):
    assert mq.check_queue_id(qid) == qid


@pytest.mark.parametrize("qid", ["", "ALL", "abcdef", "8F5061A005C\n", "-d", "8F50 61",
                                 "../x", "ABCDE", "4dLqBv0Tm7zz", "4dLqBv0Tm7z3Ck7\x00",
                                 "4aLqBv0Tm7z3Ck7", "8F5061A005Cé"])
def test_queue_ids_refused(qid):
    assert not mq.is_queue_id(qid)
    with pytest.raises(UsageError, match="queue id"):
        mq.check_queue_id(qid)


def test_action_argv():
    assert mq.action_argv("flush") == ["postqueue", "-f"]
    assert mq.action_argv("flush", "ABCDEF1") == ["postqueue", "-i", "ABCDEF1"]
    assert mq.action_argv("hold", "ABCDEF1") == ["postsuper", "-h", "ABCDEF1"]
    assert mq.action_argv("release", "ABCDEF1") == ["postsuper", "-H", "ABCDEF1"]
    assert mq.action_argv("delete", "ABCDEF1") == ["postsuper", "-d", "ABCDEF1"]
    assert mq.action_argv("delete", all_deferred=True) == ["postsuper", "-d", "ALL",
                                                           "deferred"]
    assert mq.action_argv("hold", all_messages=True) == ["postsuper", "-h", "ALL"]
    assert mq.action_argv("release", all_messages=True) == ["postsuper", "-H", "ALL"]
    for bad in (lambda: mq.action_argv("delete"), lambda: mq.action_argv("delete", "ALL"),
                lambda: mq.action_argv("delete", all_messages=True),
                lambda: mq.action_argv("release", all_deferred=True),
                lambda: mq.action_argv("hold", "ABCDEF1", all_messages=True),
                lambda: mq.action_argv("requeue", "ABCDEF1")):
        with pytest.raises(UsageError):
            bad()
    assert mq.show_argv("ABCDEF1") == ["postcat", "-e", "-h", "-q", "ABCDEF1"]
    with pytest.raises(UsageError):
        mq.show_argv("-b")


def test_read_queue_falls_back_to_listing(tmp_path):
    ex = ScriptedExecutor(tmp_path, {
        "postqueue -j": FakeCommand(64, "", "postqueue: invalid option -- 'j'\n"
                                            "usage: postqueue -f | postqueue -p"),
        "postqueue -p": FakeCommand(0, MAILQ_210)})
    msgs = mq.read_queue(ex)
    assert [m.queue_id for m in msgs] == ["2FB9F1A0084", "8F5061A005C", "A1B2C3D4E5"]
    assert ex.calls == [["postqueue", "-j"], ["postqueue", "-p"]]


def test_read_queue_failure_and_summary(tmp_path):
    ex = ScriptedExecutor(tmp_path, {"postqueue -j": FakeCommand(
        69, "", "postqueue: fatal: Queue report unavailable - mail system is down")})
    with pytest.raises(mq.QueueUnreadable, match="mail system is down"):
        mq.read_queue(ex)
    ex = ScriptedExecutor(tmp_path, {"postqueue -j": FakeCommand(0, PQ37 + PQ310)})
    msgs = mq.read_queue(ex)
    s = mq.summarise(msgs, now=1764673200)
    assert s.total == 3 and s.by_queue == {"deferred": 1, "active": 1, "hold": 1}
    assert s.oldest_id == "8F5061A005C" and s.oldest_age == 3600
    assert len(s.reasons) == 2 and s.reasons[0][1] == 1
