"""Outbound mail through a smarthost: two lab servers on one network (lab_net.py), both
configured by ``mailwizard apply``, both resolving through the lab DNS.

* ``smart``: the lab's usual answers (users alice and bob, ``contact@example.net`` -> bob);
  its 587 requires STARTTLS and SASL, as on any mailwizard server;
* ``sender``: the same answers without the example.net domain, plus the relay answers
  ``relayhost: [smarthost.lab.test]:587`` with ``smart``'s alice as its SASL login.

alice submits on ``sender``'s 587 a message to ``contact@example.net``; ``sender`` is not the
destination, so it goes to the relay host: over TLS, logged in, and ``smart`` delivers it to
its bob.  The logs of both sides show the TLS session and the SASL login.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import lab
import lab_dns as labdns
import lab_net
import mwlab
import pytest
from mwlab import DOMAIN, Deployed, deploy

pytestmark = pytest.mark.e2e

SMARTHOST = "smarthost.lab.test"


@dataclass
class Pair:
    sender: Deployed
    smart: Deployed
    sender_link_ip: str
    smart_link_ip: str


@pytest.fixture(scope="module")
def pair(lab_image: lab.Image, lab_dns: labdns.LabDNS):
    smart = lab.track_module_server(lab.Server(lab_image))
    sender = lab.track_module_server(lab.Server(lab_image))
    try:
        for srv in (smart, sender):
            srv.boot()
            srv.attach_debs()
            lab_dns.attach(srv)
        ia, ib = lab_net.link(sender, smart)
        lab_dns.add(SMARTHOST, "A", ib, replace=True)
        d_smart = deploy(smart, "dovecot", record="relay_apply_smarthost")
        assert d_smart.apply_rc == 0, d_smart.apply_out[-6000:]
        d_sender = deploy(sender, "dovecot", record="relay_apply_sender", overrides={
            "virtual_alias_domains": [], "virtual_aliases": {},
            "steps": {"firewall": True, "postgrey": False, "virtual-aliases": False},
            "relayhost": f"[{SMARTHOST}]:587", "relay_user": "alice",
            "relay_password": mwlab.USERS["alice"]})
        yield Pair(d_sender, d_smart, ia, ib)
    finally:
        for srv in (sender, smart):
            lab_dns.detach(srv)
            srv.halt()


def test_the_sender_applies_with_the_relay_answers(pair: Pair):
    d = pair.sender
    assert d.apply_rc == 0, d.apply_out[-6000:]
    conf = dict(line.split(" = ", 1) for line in d.srv.run("postconf -n").stdout.splitlines()
                if " = " in line)
    assert conf.get("relayhost") == f"[{SMARTHOST}]:587", conf.get("relayhost")
    assert conf.get("smtp_sasl_auth_enable") == "yes", conf
    assert conf.get("smtp_tls_security_level") == "encrypt", conf
    maps = conf.get("smtp_sasl_password_maps", "")
    assert maps, conf
    path = maps.split(":", 1)[1]
    mode = d.srv.run(["stat", "-c", "%a %U", path]).stdout.split()
    assert mode == ["600", "root"], (path, mode)


def test_outbound_mail_goes_through_the_smarthost_with_tls_and_sasl(pair: Pair):
    t = mwlab.token()
    pair.sender.box.send_authenticated("alice", "contact@example.net", f"relay {t}",
                                       "through the smarthost\n")
    f = pair.smart.box.wait_for("bob", t, timeout=60)
    text = f.read_text(errors="replace")
    assert f"relay {t}" in text
    # the smarthost saw the sender's link address log in over TLS
    smart_log = pair.smart.srv.path("/var/log/postfix.log").read_text(errors="replace")
    assert re.search(rf"client=\S*\[{re.escape(pair.sender_link_ip)}\], sasl_method=\w+, "
                     r"sasl_username=alice", smart_log), smart_log[-3000:]
    assert re.search(rf"TLS connection established from \S*\[{re.escape(pair.sender_link_ip)}"
                     r"\]", smart_log), smart_log[-3000:]
    # the sender handed it to the relay host, not to example.net's MX
    deadline = time.monotonic() + 20
    while True:
        log = pair.sender.srv.path("/var/log/postfix.log").read_text(errors="replace")
        if re.search(rf"to=<contact@example\.net>, relay={re.escape(SMARTHOST)}\["
                     rf"{re.escape(pair.smart_link_ip)}\]:587, .*status=sent", log):
            break
        assert time.monotonic() < deadline, log[-3000:]
        time.sleep(0.5)
    assert re.search(rf"TLS connection established to {re.escape(SMARTHOST)}\[", log), \
        log[-3000:]


def test_the_smarthost_refuses_the_same_relay_without_login(pair: Pair):
    """The smarthost is not open: without SASL its 587 refuses, its 25 does not relay."""
    box = pair.smart.box
    with box.smtp(587) as s:
        s.ehlo()
        box.starttls(s)
        code, _ = s.mail(f"alice@{DOMAIN}")
        rcode, msg = s.rcpt("contact@elsewhere.invalid")
    assert rcode in (530, 554), (rcode, msg)
