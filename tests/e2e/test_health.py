"""``mailwizard check`` on a lab server configured by mailwizard, Debian 12 and Debian 13
(trixie: Postfix 3.10, Dovecot 2.4; the same tests, ``[trixie]``), with the lab's DNS holding
the records mailwizard asks for (issue 14).

The server gets ``dns.public_addresses: [its address]`` and the lab RBL; the test publishes
every record ``mailwizard dns`` expects (computed on the host from the server's answers and
DKIM key, like an admin copying the zone lines).  Then, one at a time and each undone after:

* healthy: exit 0, first line ``MAILWIZARD OK - ``; ``--json`` validates against
  ``wizard/health/schema.json``;
* Dovecot stopped (``doveadm stop``): exit 2, the IMAPS port and the Dovecot checks critical;
* the certificate re-issued with 10 days left: exit 1, each TLS port's certificate a warning;
* a message to an unreachable lab host (an address nothing listens on) deferred in the queue,
  checked with ``--queue-age 1s,2s``: exit 2, the oldest message critical and the deferred
  reason named;
* two records removed from the lab DNS: exit 1, both named ``missing`` with the line to
  publish;
* a hand edit of main.cf (a setting mailwizard set, and one it did not): exit 1, the file and
  both settings named; with the file restored, OK again.
"""

from __future__ import annotations

import base64
import json
import smtplib
import time
import warnings
from pathlib import Path
from typing import Dict, Iterator, Tuple

import lab
import lab_dns as labdns
import mwlab
import pytest
from cryptography.hazmat.primitives import serialization
from schema_check import validate

from wizard.answers import load_answers
from wizard.checks import peer_certificate, smtp_capabilities
from wizard.dnsrecords.gather import target_dns_plan
from wizard.executor import Executor

pytestmark = pytest.mark.e2e

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "wizard/health/schema.json")
                    .read_text())
DEAD_HOST = "dead.lab.test"
CERT = f"/etc/ssl/certs/{mwlab.HOSTNAME}.crt"
KEY = f"/etc/ssl/private/{mwlab.HOSTNAME}.key"


def dkim_record(srv, selector: str) -> str:
    pem = srv.path(f"/etc/opendkim/keys/{selector}.private").read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def publish_expected(srv, dns: labdns.LabDNS) -> Tuple[str, ...]:
    """Publish the records mailwizard expects in the lab DNS; returns their names."""
    answers = load_answers(srv.path("/root/answers.yaml"))
    plan = target_dns_plan(Executor(srv.path("/")), answers)
    names = []
    for r in plan.records:
        if r.type == "PTR":  # the lab serves the PTR record already
            continue
        if r.purpose == "DKIM":  # the public half of the key the dkim step made
            selector = r.name.split(".", 1)[0]
            dns.add_txt(r.name, dkim_record(srv, selector))
        elif not r.known:
            raise AssertionError(f"{r.name} {r.type}: {r.value}")
        elif r.type == "TXT":
            dns.add_txt(r.name, r.value)
        else:
            dns.add(r.name, r.type, r.value, replace=True)
        names.append(r.name)
    return tuple(names)


@pytest.fixture(scope="module", params=["bookworm", "trixie"])
def dep(request: pytest.FixtureRequest, lab_dns: labdns.LabDNS) -> Iterator[mwlab.Deployed]:
    suite = request.param
    record = "health_apply" if suite == "bookworm" else f"health_apply_{suite}"
    with mwlab.lab_server(request, suite, lab_dns) as srv:
        d = mwlab.deploy(srv, record=record, overrides={
            "dns": {"public_addresses": [srv.ip]},
            "restrictions": {"rbl": [labdns.RBL_ZONE]}})
        assert d.apply_rc == 0, d.apply_out[-6000:]
        published = publish_expected(srv, lab_dns)
        # an MX host nothing listens on: the host end of the server's link, port 25 closed
        lab_dns.add(DEAD_HOST, "A", srv.host_ip, replace=True)
        try:
            yield d
        finally:
            lab_dns.remove(DEAD_HOST)
            for name in published:
                if name.rstrip(".") not in (mwlab.HOSTNAME, "example.test", "example.net"):
                    lab_dns.remove(name)


def check(srv, *options: str) -> Tuple[int, str]:
    t0 = time.monotonic()
    r = srv.run("mailwizard check --answers /root/answers.yaml " + " ".join(options)
                + " 2>&1", check=False, timeout=600)
    lab._record("health_check", time.monotonic() - t0)
    return r.returncode, r.stdout


def reload_and_wait(srv, timeout: float = 90) -> None:
    """Reload Postfix and Dovecot, then wait until ports 25 and 587 answer EHLO and 993 a TLS
    handshake (from the host), so the check that follows sees the reloaded daemons, not the
    reload.  How long that took is recorded (``reload_ready`` in the lab timings)."""
    srv.run("postfix reload 2>&1 && doveadm reload")
    t0 = time.monotonic()
    probes = {25: lambda: smtp_capabilities(srv.ip, 25, timeout=5),
              587: lambda: smtp_capabilities(srv.ip, 587, timeout=5),
              993: lambda: peer_certificate(srv.ip, 993, timeout=5)}
    waiting: Dict[int, str] = {}
    while probes:
        for port, probe in list(probes.items()):
            try:
                probe()
                del probes[port]
            except (OSError, smtplib.SMTPException) as exc:
                waiting[port] = str(exc)
        assert not probes or time.monotonic() - t0 < timeout, \
            f"not answering {timeout:.0f} s after the reload: {waiting}"
        if probes:
            time.sleep(0.2)
    took = time.monotonic() - t0
    lab._record("reload_ready", took)
    if took > 5:  # passes, but says why in the run's warnings summary
        sink = srv.dir / "syslog.log"
        tail = sink.read_text(errors="replace").splitlines()[-40:] if sink.exists() else []
        warnings.warn(f"ports answered {took:.1f} s after the reload; the server's log:\n"
                      + "\n".join(tail), stacklevel=2)


def findings(srv, *options: str) -> Tuple[int, Dict[str, Dict[str, str]], dict]:
    code, out = check(srv, "--json", *options)
    doc = json.loads(out)
    assert validate(doc, SCHEMA) == [], out[-3000:]
    return code, {f["name"]: f for f in doc["findings"]}, doc


def test_healthy_server_is_ok_and_json_validates(dep: mwlab.Deployed) -> None:
    code, out = check(dep.srv)
    assert code == 0, out[:5000]
    assert out.startswith("MAILWIZARD OK - all fine; "), out[:400]
    code, by_name, doc = findings(dep.srv)
    assert code == 0 and doc["state"] == "OK" and doc["exit_code"] == 0
    groups = {f["group"] for f in doc["findings"]}
    assert groups == {"services", "certificates", "dns", "queue", "log", "disk", "drift"}
    assert by_name[f"{dep.srv.ip} on {labdns.RBL_ZONE}"]["state"] == "OK"
    ptr = [n for n in by_name if n.startswith("reverse DNS")]
    assert ptr and all(by_name[n]["state"] == "OK" for n in ptr), ptr


def test_mail_to_sends_only_when_the_result_changed(dep: mwlab.Deployed) -> None:
    srv = dep.srv
    to = f"alice@{mwlab.DOMAIN}"
    code, out = check(srv, "--mail-to", to)
    assert code == 0 and f"report mailed to {to}" in out, out[-2000:]
    mail = dep.box.wait_for("alice", f"[mailwizard] {mwlab.HOSTNAME}: OK")
    assert "MAILWIZARD OK - all fine" in mail.read_text()
    code, out = check(srv, "--mail-to", to)
    assert code == 0 and f"unchanged since the last report: nothing mailed to {to}" in out
    state = srv.path("/var/lib/mailwizard/health-last.json")
    assert oct(state.stat().st_mode & 0o777) == "0o600"
    assert json.loads(state.read_text())["state"] == "OK"
    code, out = check(srv, "--mail-to", "'alice@example.test -oQ/tmp'")
    assert code == 3 and out.startswith("MAILWIZARD UNKNOWN - "), out


def test_dovecot_stopped_is_critical(dep: mwlab.Deployed) -> None:
    srv = dep.srv
    srv.run("doveadm stop")
    try:
        code, by_name, doc = findings(srv)
        assert code == 2 and doc["state"] == "CRITICAL"
        assert by_name["port 993 (IMAPS)"]["state"] == "CRITICAL"
        assert by_name["certificate on port 993"]["state"] == "CRITICAL"
        assert any("dovecot" in n.lower() and f["state"] == "CRITICAL"
                   for n, f in by_name.items() if f["group"] == "services"), doc["summary"]
    finally:
        srv.run("dovecot </dev/null >/dev/null 2>&1")
    assert check(srv)[0] == 0


def test_certificate_with_ten_days_left_warns(dep: mwlab.Deployed) -> None:
    srv = dep.srv
    saved = {p: srv.path(p).read_bytes() for p in (CERT, KEY)}
    # the same names and key type as the certificate step's: only the dates differ
    srv.run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
            f"-days 10 -subj /CN={mwlab.HOSTNAME} "
            f"-addext subjectAltName=DNS:{mwlab.HOSTNAME},IP:{srv.ip} "
            f"-keyout {KEY} -out {CERT} 2>&1")
    reload_and_wait(srv)
    try:
        code, by_name, doc = findings(srv)
        assert code == 1 and doc["state"] == "WARNING", doc["summary"]
        for port in (25, 587, 993):
            f = by_name[f"certificate on port {port}"]
            assert f["state"] == "WARNING" and "days left" in f["detail"], f
            assert int(f["detail"].split("(")[1].split()[0]) in (9, 10), f
        # the certificate files are not what mailwizard wrote: drift names them
        assert by_name[f"{CERT} edited since apply"]["state"] == "WARNING"
    finally:
        for p, data in saved.items():
            srv.path(p).write_bytes(data)
        reload_and_wait(srv)
    assert check(srv)[0] == 0


def test_old_deferred_message_is_critical(dep: mwlab.Deployed) -> None:
    srv = dep.srv
    srv.run(f"printf 'Subject: health\\n\\nqueued\\n' | sendmail -oi someone@{DEAD_HOST}")
    try:
        deadline = time.monotonic() + 60
        while True:  # deferred once the delivery attempt failed (connection refused)
            q = srv.run("postqueue -j").stdout
            msgs = [json.loads(line) for line in q.splitlines() if line.strip()]
            if any(m["queue_name"] == "deferred"
                   and any(r.get("delay_reason") for r in m["recipients"]) for m in msgs):
                break
            assert time.monotonic() < deadline, q
            time.sleep(0.5)
        time.sleep(2.1)
        code, by_name, doc = findings(srv, "--queue-age", "1s,2s")
        assert code == 2 and doc["state"] == "CRITICAL", doc["summary"]
        oldest = by_name["oldest queued message"]
        assert oldest["state"] == "CRITICAL" and "(deferred)" in oldest["detail"], oldest
        reason = by_name["deferred reason"]
        assert DEAD_HOST in reason["detail"] or srv.host_ip in reason["detail"], reason
        # the default threshold (4 h) only sees the deferred reason: a warning
        assert check(srv)[0] == 1
    finally:
        srv.run("postsuper -d ALL 2>&1")


def test_missing_dns_records_are_named(dep: mwlab.Deployed, lab_dns: labdns.LabDNS) -> None:
    srv = dep.srv
    dmarc = lab_dns.txt(f"_dmarc.{mwlab.DOMAIN}")
    spf = lab_dns.txt(mwlab.DOMAIN)
    lab_dns.remove(f"_dmarc.{mwlab.DOMAIN}", "TXT")
    lab_dns.remove(mwlab.DOMAIN, "TXT")
    try:
        code, out = check(srv)
        assert code == 1, out[-4000:]
        assert out.startswith("MAILWIZARD WARNING - 2 warning"), out[:600]
        assert f"DNS DMARC _dmarc.{mwlab.DOMAIN} TXT: missing" in out, out
        assert f"DNS SPF {mwlab.DOMAIN} TXT: missing" in out, out
        assert "-> publish: " in out
    finally:
        lab_dns.add_txt(f"_dmarc.{mwlab.DOMAIN}", dmarc[0])
        lab_dns.add_txt(mwlab.DOMAIN, spf[0])
    assert check(srv)[0] == 0


def test_hand_edit_of_main_cf_is_reported(dep: mwlab.Deployed) -> None:
    srv = dep.srv
    main = srv.path("/etc/postfix/main.cf")
    saved = main.read_bytes()
    text = saved.decode()
    assert "\nsmtpd_helo_required = yes\n" in text
    try:
        # a setting mailwizard does not manage: drift only (a warning)
        main.write_text(text + "message_size_limit = 20480000\n")
        code, by_name, doc = findings(srv)
        assert code == 1, doc["summary"]
        f = by_name["/etc/postfix/main.cf edited since apply"]
        assert f["state"] == "WARNING"
        assert f["detail"].endswith("other settings changed: message_size_limit"), f
        assert "20480000" not in f["detail"]
        # and one it set: named as such, and the step's own check fails (critical)
        main.write_text(text.replace("\nsmtpd_helo_required = yes\n",
                                     "\nsmtpd_helo_required = no\n")
                        + "message_size_limit = 20480000\n")
        code, by_name, doc = findings(srv)
        assert code == 2, doc["summary"]
        f = by_name["/etc/postfix/main.cf edited since apply"]
        assert "mailwizard's settings changed: smtpd_helo_required; other settings changed: " \
               "message_size_limit" in f["detail"], f
        assert any("smtpd_helo_required" in n + g["detail"] and g["state"] == "CRITICAL"
                   for n, g in by_name.items() if g["group"] == "services"), doc["summary"]
    finally:
        main.write_bytes(saved)
    assert check(srv)[0] == 0
