"""Outbound mail through a smarthost: two lab servers on one network (lab_net.py), both
configured by ``mailwizard apply``, both resolving through the lab DNS (Debian 12 and 13).

* ``smart``: the lab's usual answers (users alice and bob, ``contact@example.net`` -> bob);
  its 587 requires STARTTLS and SASL, as on any mailwizard server;
* ``sender``: the same answers without the example.net domain, plus the relay answers
  ``relayhost: [smarthost.lab.test]:587`` with ``smart``'s alice as its SASL login.

alice submits on ``sender``'s 587 a message to ``contact@example.net``; ``sender`` is not the
destination, so it goes to the relay host: over TLS, logged in, and ``smart`` delivers it to
its bob.  The smarthost's Received header shows the sender's link address, TLS and a
SASL login ("with ESMTPSA"); the lab servers have no syslog, so headers are the evidence.
"""

from __future__ import annotations

import re
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


@pytest.fixture(scope="module", params=["bookworm", "trixie"])
def pair(request: pytest.FixtureRequest, lab_dns: labdns.LabDNS):
    suite = request.param
    image = request.getfixturevalue("lab_image" if suite == "bookworm" else "trixie_image")
    smart = lab.track_module_server(lab.Server(image))
    sender = lab.track_module_server(lab.Server(image))
    try:
        for srv in (smart, sender):
            srv.boot()
            srv.attach_debs()
            lab_dns.attach(srv)
        ia, ib = lab_net.link(sender, smart)
        lab_dns.add(SMARTHOST, "A", ib, replace=True)
        d_smart = deploy(smart, "dovecot", record=f"relay_apply_smarthost_{suite}")
        assert d_smart.apply_rc == 0, d_smart.apply_out[-6000:]
        d_sender = deploy(sender, "dovecot", record=f"relay_apply_sender_{suite}", overrides={
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


def received_headers(text: str) -> list:
    """The Received: headers of a message, unfolded, topmost first."""
    head = text.split("\n\n", 1)[0]
    unfolded = re.sub(r"\n[ \t]+", " ", head)
    return [line for line in unfolded.splitlines() if line.startswith("Received:")]


def test_outbound_mail_goes_through_the_smarthost_with_tls_and_sasl(pair: Pair):
    t = mwlab.token()
    pair.sender.box.send_authenticated("alice", "contact@example.net", f"relay {t}",
                                       "through the smarthost\n")
    f = pair.smart.box.wait_for("bob", t, timeout=60)
    received = received_headers(f.read_text(errors="replace"))
    # the smarthost's own Received line (topmost): from the sender's link address, over TLS
    # (smtpd_tls_received_header), and "ESMTPSA": ESMTP with TLS and a SASL login (RFC 3848)
    top = received[0]
    assert f"[{pair.sender_link_ip}]" in top, received
    assert re.search(r"\(using TLSv1\.[23] with cipher", top), received
    assert "with ESMTPSA id" in top, received
    # below it, the sender's line: alice's own submission from the host
    assert any(f"[{pair.sender.box.client_ip}]" in r and "with ESMTPSA" in r
               for r in received[1:]), received
    # nothing left behind on the sender
    q = pair.sender.srv.run("postqueue -j").stdout.strip()
    assert q == "", q


def test_the_smarthost_refuses_the_same_relay_without_login(pair: Pair):
    """The smarthost is not open: without SASL its 587 refuses, its 25 does not relay."""
    box = pair.smart.box
    with box.smtp(587) as s:
        s.ehlo()
        box.starttls(s)
        code, _ = s.mail(f"alice@{DOMAIN}")
        rcode, msg = s.rcpt("contact@elsewhere.invalid")
    assert rcode in (530, 554), (rcode, msg)
