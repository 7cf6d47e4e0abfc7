"""``mailwizard queue`` and ``mailwizard log`` on lab servers configured by mailwizard.

Two servers, so both log sources are proven:

* ``maillog_file``: the plain lab server (no init, no syslog daemon): Postfix's own log file
  (``maillog_file = /var/log/mail.log`` through postlogd, Postfix 3.4+), which is how a
  syslog-less server keeps a mail log;
* ``systemd``: systemd as PID 1, the journal (mail facility) read with journalctl.

On each: a message to an unreachable lab address (``[10.201.N.99]``, nobody answers there)
is deferred and ``queue`` lists it with the connect error as its reason; ``queue show``
prints its envelope and headers and not its body; ``hold``, ``release`` and ``delete`` move
and remove it (``delete`` without ``--yes`` and without a terminal refuses, exit 4); a
queue id that is not one is refused with exit 2. ``log`` shows the delivery of a message
sent to alice, the relay refusal of an unauthenticated sender and a failed AUTH on 587.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any, Callable, Dict, Iterator, List

import lab
import mwlab
import pytest
from mwlab import DOMAIN, Deployed

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["maillog_file", "systemd"])
def dep(request: pytest.FixtureRequest, lab_image: lab.Image) -> Iterator[Deployed]:
    if request.param == "systemd":
        with mwlab.systemd_server(lab_image, __file__) as srv:
            d = mwlab.deploy(srv, record="queue_log_apply_systemd")
            assert d.apply_rc == 0, d.apply_out[-6000:]
            yield d
        return
    with mwlab.deployed(request, record="queue_log_apply") as d:
        # no syslog daemon in this server: Postfix writes its own log (postlogd)
        d.srv.run("postconf -e maillog_file=/var/log/mail.log && postfix reload 2>&1")
        deadline = time.monotonic() + 20
        while not d.srv.path("/var/log/mail.log").exists():
            assert time.monotonic() < deadline, "postlogd wrote no /var/log/mail.log"
            time.sleep(0.2)
        yield d


def mw(dep: Deployed, args: str, timeout: float = 120) -> Any:
    return dep.srv.run(f"mailwizard {args} </dev/null", check=False, timeout=timeout)


def queue_json(dep: Deployed) -> List[Dict[str, Any]]:
    r = mw(dep, "queue --json")
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)["messages"]  # type: ignore[no-any-return]


def listing(dep: Deployed) -> List[Dict[str, Any]]:
    """``postqueue -p`` (the listing Postfix 2.10 offers instead of ``-j``) of this real
    Postfix, parsed by mailwizard's fallback parser inside the server."""
    code = ("import json, sys; from wizard.mailqueue import parse_listing; "
            "print(json.dumps([m.to_dict() for m in parse_listing(sys.stdin.read())]))")
    r = dep.srv.run(f"postqueue -p | /opt/mw/bin/python -c '{code}'")
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def wait_queue(dep: Deployed, pred: Callable[[List[Dict[str, Any]]], bool], what: str,
               timeout: float = 90) -> List[Dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        msgs = queue_json(dep)
        if pred(msgs):
            return msgs
        assert time.monotonic() < deadline, f"{what}: {msgs}"
        time.sleep(1)


def log_json(dep: Deployed, args: str) -> Dict[str, Any]:
    r = mw(dep, f"log --json {args}")
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def wait_log(dep: Deployed, args: str, pred: Callable[[Dict[str, Any]], bool], what: str,
             timeout: float = 30) -> List[Dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        events = [e for e in log_json(dep, args)["events"] if pred(e)]
        if events:
            return events
        assert time.monotonic() < deadline, f"{what}: {log_json(dep, args)}"
        time.sleep(0.5)


def test_a_message_to_an_unreachable_host_is_deferred_and_listed(dep: Deployed):
    srv = dep.srv
    nowhere = f"nobody@[{srv.ip.rsplit('.', 1)[0]}.99]"
    t = mwlab.token()
    srv.run(f"printf 'Subject: stuck {t}\\n\\nbody-{t}\\n' | "
            f"sendmail -f alice@{DOMAIN} '{nowhere}'")

    def deferred(msgs: List[Dict[str, Any]]) -> bool:
        return any(m["queue"] == "deferred" and m["recipients"][0]["reason"] for m in msgs)

    (m,) = wait_queue(dep, deferred, "the message to nowhere was never deferred")
    assert m["sender"] == f"alice@{DOMAIN}"
    assert m["recipients"][0]["address"] == nowhere
    reason = m["recipients"][0]["reason"]
    assert f"connect to {srv.ip.rsplit('.', 1)[0]}.99" in reason, reason
    (p,) = listing(dep)  # the fallback parser reads the same message from postqueue -p
    assert (p["queue_id"], p["queue"], p["sender"], p["size"]) == (
        m["queue_id"], "deferred", m["sender"], m["size"]), (p, m)
    assert p["recipients"][0]["address"] == nowhere
    assert p["recipients"][0]["reason"].startswith("connect to"), p
    assert abs(p["arrival"] - m["arrival"]) <= 1, (p, m)
    text = mw(dep, "queue")
    assert text.returncode == 0 and m["queue_id"] in text.stdout, text.stdout
    assert "reason: connect to" in text.stdout and "1 message(s) (1 deferred)" in text.stdout
    qid = m["queue_id"]

    show = mw(dep, f"queue show {qid}")
    assert show.returncode == 0, show.stdout + show.stderr
    assert "message_size:" in show.stdout and f"Subject: stuck {t}" in show.stdout
    assert f"body-{t}" not in show.stdout
    body = mw(dep, f"queue show {qid} --body")
    assert f"body-{t}" in body.stdout

    assert mw(dep, f"queue hold {qid}").returncode == 0
    wait_queue(dep, lambda ms: [x["queue"] for x in ms] == ["hold"], "not on hold")
    assert [x["queue"] for x in listing(dep)] == ["hold"]  # the "!" mark of postqueue -p
    assert mw(dep, f"queue release {qid}").returncode == 0
    wait_queue(dep, lambda ms: [x["queue"] for x in ms] in (["deferred"], ["active"]),
               "not released")

    refused = mw(dep, f"queue delete {qid}")
    assert refused.returncode == 4 and "--yes" in refused.stdout, refused.stdout
    assert [x["queue_id"] for x in queue_json(dep)] == [qid]
    bad = mw(dep, "queue delete 'ALL'")
    assert bad.returncode == 2 and "not a Postfix queue id" in bad.stderr, bad.stderr
    gone = mw(dep, f"queue delete {qid} --yes")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert queue_json(dep) == []
    assert mw(dep, "queue").stdout.strip() == "The mail queue is empty."

    events = wait_log(dep, f"--address alice@{DOMAIN} --kind deferred",
                      lambda e: e["queue_id"] == qid, "the deferral is not in the log")
    assert nowhere in events[0]["recipients"] and "connect to" in events[0]["reason"]


def test_log_shows_a_delivery_to_alice(dep: Deployed):
    t = mwlab.token()
    with dep.box.smtp(25) as s:
        s.ehlo()
        s.sendmail(f"bob@{DOMAIN}", [f"alice@{DOMAIN}"],
                   f"From: bob@{DOMAIN}\r\nSubject: log {t}\r\n\r\nhi\r\n")
    dep.box.wait_for("alice", t)
    events = wait_log(dep, f"--address alice@{DOMAIN} --kind delivered",
                      lambda e: e["sender"] == f"bob@{DOMAIN}",
                      "the delivery to alice is not in the log")
    e = events[-1]
    assert e["recipients"] == [f"alice@{DOMAIN}"] and e["status"] == "sent"
    assert e["client"].endswith(f"[{dep.srv.host_ip}]"), e
    text = mw(dep, f"log --address alice@{DOMAIN} --kind delivered")
    assert f"bob@{DOMAIN} -> alice@{DOMAIN}" in text.stdout, text.stdout
    assert "Read: " in text.stdout


def test_log_shows_a_relay_refusal_and_a_failed_auth(dep: Deployed):
    mwlab.check_not_an_open_relay(dep.box)
    wait_log(dep, "--kind rejected",
             lambda e: "victim@external.invalid" in e["recipients"]
             and "Relay access denied" in e["reason"], "the relay refusal is not in the log")
    # one wrong AUTH PLAIN on 587 from the second client address (Dovecot's per-IP delay
    # must not slow the other probes)
    with dep.box.smtp(587, source=dep.srv.host_ip2) as s:
        s.ehlo()
        dep.box.starttls(s)
        token = base64.b64encode(b"\0alice\0wrong-password").decode()
        code, _ = s.docmd("AUTH", f"PLAIN {token}")
        assert code == 535, code
    events = wait_log(dep, "--kind auth-failed",
                      lambda e: e["client"].endswith(f"[{dep.srv.host_ip2}]"),
                      "the failed AUTH is not in the log")
    assert "SASL PLAIN" in events[0]["reason"], events
    text = mw(dep, "log --kind auth-failed --kind rejected")
    assert "Relay access denied" in text.stdout and "auth-failed" in text.stdout, text.stdout
