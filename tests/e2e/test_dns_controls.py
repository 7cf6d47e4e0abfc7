"""mailwizard's DNS-based controls, proven against the lab's DNS (lab_dns.py) on Debian 12
and 13.

A fresh server is attached to the lab DNS (its resolv.conf points there before Postfix
starts) and configured by ``mailwizard apply`` with the lab's block list as its only RBL
(``restrictions.rbl: [rbl.lab.test]``).  From the host, on port 25:

* the client the lab RBL lists (10.201.N.3, A 127.0.0.2) is refused at RCPT, naming the
  list; the other client (10.201.N.1) gets its mail delivered;
* a second list answers every query with 127.255.255.254 (how Spamhaus refuses public
  resolvers); consulted with the return-code filter ``=127.0.0.[2..11]`` of the answers, that
  answer rejects nobody;
* inbound SPF (policyd-spf, on by default): a sender domain whose SPF record does not
  authorise the client (``fail.lab.test``; ``pass.lab.test`` from 10.201.N.3) is refused,
  one that does (``pass.lab.test`` from 10.201.N.1) is accepted with ``Received-SPF: Pass``;
* a sender in a domain that does not exist (NXDOMAIN, ``reject_unknown_sender_domain``) is
  refused; one in a domain with MX and A records is accepted;
* the lab DNS saw the server's own queries (the RBL name, the sender domain), so the verdicts
  really come from DNS answers.
"""

from __future__ import annotations

import re
import time
from typing import Set, Tuple

import lab_dns as labdns
import mwlab
import pytest
from mwlab import Deployed

pytestmark = pytest.mark.e2e

RCPT = f"alice@{mwlab.DOMAIN}"
# a list that answers every query with 127.255.255.254 (Spamhaus's "public resolver" refusal),
# consulted with Postfix's return-code filter: the refusal is not a listing
REFUSED_FILTERED = f"{labdns.REFUSED_ZONE}=127.0.0.[2..11]"


@pytest.fixture(scope="module", params=["bookworm", "trixie"])
def dep(request: pytest.FixtureRequest, lab_dns: labdns.LabDNS):
    suite = request.param
    with mwlab.deployed(request, suite, lab_dns, record=f"dns_controls_apply_{suite}",
                        check=False, overrides={
                            "restrictions": {"rbl": [labdns.RBL_ZONE, REFUSED_FILTERED]}}) as d:
        yield d


def rcpt_verdict(dep: Deployed, sender: str, source: str) -> Tuple[int, str]:
    """EHLO, MAIL FROM ``sender``, RCPT TO alice from ``source``; the RCPT reply (or the MAIL
    reply if MAIL was already refused)."""
    with dep.box.smtp(25, source=source) as s:
        s.ehlo()
        code, msg = s.mail(sender)
        if code != 250:
            return code, msg.decode(errors="replace")
        code, msg = s.rcpt(RCPT)
        s.rset()
        return code, msg.decode(errors="replace")


def smtpd_pids(srv) -> Set[str]:
    """The pids of the server's smtpd processes (from /proc: no procps needed)."""
    out = srv.run("for d in /proc/[0-9]*; do "
                  "[ \"$(cat $d/comm 2>/dev/null)\" = smtpd ] && echo ${d#/proc/}; "
                  "done; true").stdout
    return set(out.split())


def reload_smtpd(srv) -> None:
    """``postfix reload`` and wait until every smtpd that was running has exited: the
    master tells idle children to go, but asynchronously, so an old process (with its
    cached RBL verdicts) can still take the next connection right after the command."""
    before = smtpd_pids(srv)
    srv.run("postfix reload 2>&1")
    deadline = time.monotonic() + 20
    while before & smtpd_pids(srv):
        assert time.monotonic() < deadline, f"smtpd {sorted(before & smtpd_pids(srv))} " \
            "still running 20 s after postfix reload"
        time.sleep(0.1)


def test_apply_uses_the_lab_rbl_and_the_lab_resolver(dep: Deployed,
                                                     lab_dns: labdns.LabDNS):
    assert dep.apply_rc == 0, dep.apply_out[-6000:]
    srv = dep.srv
    rr = srv.run("postconf -h smtpd_recipient_restrictions").stdout
    assert f"reject_rbl_client {labdns.RBL_ZONE}" in rr, rr
    sender = srv.run("postconf -h smtpd_sender_restrictions").stdout
    assert "reject_unknown_sender_domain" in sender, sender
    # smtpd runs chrooted: Debian's start script copies resolv.conf into the chroot
    want = f"nameserver {lab_dns.address_for(srv)}"
    for path in ("/etc/resolv.conf", "/var/spool/postfix/etc/resolv.conf"):
        assert want in srv.path(path).read_text(), path


def test_a_client_listed_in_the_lab_rbl_is_refused(dep: Deployed, lab_dns: labdns.LabDNS):
    srv = dep.srv
    code, msg = rcpt_verdict(dep, f"someone@{labdns.SPF_PASS}", srv.host_ip2)
    assert code == 554, (code, msg)
    assert f"blocked using {labdns.RBL_ZONE}" in msg, msg
    assert "listed in the lab block list" in msg, msg         # the list's TXT record
    asked = labdns.rbl_query_name(srv.host_ip2) + "."
    assert (srv.ip, asked, "A") in lab_dns.queries


def test_a_client_not_listed_gets_its_mail_delivered(dep: Deployed, lab_dns: labdns.LabDNS):
    srv = dep.srv
    code, msg = rcpt_verdict(dep, f"someone@{labdns.SPF_PASS}", srv.host_ip)
    assert code == 250, (code, msg)
    asked = labdns.rbl_query_name(srv.host_ip) + "."
    assert (srv.ip, asked, "A") in lab_dns.queries
    t = mwlab.token()
    with dep.box.smtp(25, source=srv.host_ip) as s:
        s.ehlo()
        s.sendmail(f"someone@{labdns.SPF_PASS}", [RCPT],
                   f"From: someone@{labdns.SPF_PASS}\r\nTo: {RCPT}\r\nSubject: rbl {t}\r\n\r\n"
                   "not listed\r\n")
    dep.box.wait_for("alice", t)


def test_a_refusal_answer_is_not_a_listing_with_the_filter(dep: Deployed,
                                                           lab_dns: labdns.LabDNS):
    srv = dep.srv
    rr = srv.run("postconf -h smtpd_recipient_restrictions").stdout
    assert f"reject_rbl_client {REFUSED_FILTERED}" in rr, rr
    code, msg = rcpt_verdict(dep, f"someone@{labdns.SPF_PASS}", srv.host_ip)
    assert code == 250, (code, msg)
    asked = labdns.rbl_query_name(srv.host_ip, labdns.REFUSED_ZONE) + "."
    assert (srv.ip, asked, "A") in lab_dns.queries, "the filtered list was not consulted"


def test_a_sender_domain_without_dns_is_refused(dep: Deployed, lab_dns: labdns.LabDNS):
    srv = dep.srv
    code, msg = rcpt_verdict(dep, f"someone@{labdns.UNKNOWN}", srv.host_ip)
    # unknown_address_reject_code: 450 by default (Postfix), 550 when an admin sets it
    assert code in (450, 550), (code, msg)
    assert "Sender address rejected: Domain not found" in msg, msg
    assert any(c == srv.ip and q == labdns.UNKNOWN + "." for c, q, _ in lab_dns.queries)


def test_a_sender_domain_with_mx_is_accepted(dep: Deployed):
    # our own virtual alias domain only with a listed address (smtpd_reject_unlisted_sender)
    for sender in (f"someone@{labdns.SPF_PASS}", "contact@example.net"):
        code, msg = rcpt_verdict(dep, sender, dep.srv.host_ip)
        assert code == 250, (sender, code, msg)


def test_without_the_listing_the_same_client_passes(dep: Deployed, lab_dns: labdns.LabDNS):
    """The refusal comes from the list: delisted, 10.201.N.3 is accepted (then listed
    again for the next tests)."""
    srv = dep.srv
    name = labdns.rbl_query_name(srv.host_ip2)
    lab_dns.remove(name)
    try:
        # an smtpd process caches RBL verdicts: new processes after a reload
        reload_smtpd(srv)
        # a sender without SPF record: from .3, pass.lab.test's SPF would fail
        code, msg = rcpt_verdict(dep, f"someone@{labdns.NO_SPF}", srv.host_ip2)
        assert code == 250, (code, msg)
    finally:
        lab_dns.list_in_rbl(srv.host_ip2)
        reload_smtpd(srv)


def test_a_sender_whose_spf_fails_is_refused(dep: Deployed, lab_dns: labdns.LabDNS):
    srv = dep.srv
    code, msg = rcpt_verdict(dep, f"someone@{labdns.SPF_FAIL}", srv.host_ip)
    assert code == 550, (code, msg)
    assert "SPF" in msg, msg
    assert any(c == srv.ip and q == labdns.SPF_FAIL + "." and t == "TXT"
               for c, q, t in lab_dns.queries), "policyd-spf did not ask the lab DNS"


def test_a_sender_whose_spf_passes_is_accepted_and_marked(dep: Deployed):
    srv = dep.srv
    t = mwlab.token()
    with dep.box.smtp(25, source=srv.host_ip) as s:
        s.ehlo()
        s.sendmail(f"someone@{labdns.SPF_PASS}", [RCPT],
                   f"From: someone@{labdns.SPF_PASS}\r\nTo: {RCPT}\r\nSubject: spf {t}\r\n"
                   "\r\nspf pass\r\n")
    text = dep.box.wait_for("alice", t).read_text(errors="replace")
    assert re.search(r"^Received-SPF: Pass ", text, re.M), text[:2000]
