"""The records a domain served by this server needs, computed from the answers.

:func:`expected_records` is pure: the addresses and the DKIM public key come in as arguments
(read from the target by the caller), so the same answers always give the same records.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

from ..dkimkey import txt_name
from . import policy
from .record import ADVICE, FILL, PENDING, PUBLISH, RECOMMENDED, REQUIRED, Record

if TYPE_CHECKING:  # pragma: no cover
    from ..answers import Answers

ADDRESS_PLACEHOLDER = {"A": "<this server's public IPv4 address>",
                       "AAAA": "<this server's public IPv6 address, if it has one>"}
NOT_OFFERED = "0 0 0 ."
"""An SRV record whose target is '.': the service is decidedly not offered (RFC 2782; RFC 6186
uses it for mail services a domain does not offer)."""


@dataclass(frozen=True)
class DkimKey:
    """What the DKIM record needs: the selector, the signing domains and the key's TXT value
    (``v=DKIM1; k=rsa; p=...``), or None while the key is not made yet (a dry run)."""

    selector: str
    domains: Tuple[str, ...]
    txt: Optional[str] = None


def fqdn(name: str) -> str:
    return name.rstrip(".").lower() + "."


def receiving_domains(answers: Answers) -> List[str]:
    """The mail domain, then the virtual alias domains (when that step is on)."""
    out = [answers.domain]
    if answers.step_enabled("virtual-aliases"):
        out += [d for d in answers.virtual_alias_domains if d not in out]
    return out


def report_address(answers: Answers) -> str:
    return f"postmaster@{answers.domain}"


def expected_records(answers: Answers, addresses: Sequence[str] = (),
                     dkim: Optional[DkimKey] = None) -> List[Record]:
    """Every record the answers call for.

    Args:
        answers: validated answers.
        addresses: this server's public addresses (IPv4 and IPv6); empty when unknown, and
            the A record is then a placeholder to fill in.
        dkim: the DKIM selector, signing domains and public key; None when DKIM signing is
            off (no DKIM records).
    """
    out = _host_records(answers, addresses)
    domains = receiving_domains(answers)
    rua = report_address(answers)
    spf, spf_why = policy.spf_value(answers.relayhost)
    sts_policy = policy.mta_sts_policy([answers.hostname])
    for d in domains:
        dn = fqdn(d)
        out.append(Record(dn, "MX", f"10 {fqdn(answers.hostname)}", "MX", REQUIRED,
                          f"Other mail servers deliver mail for {d} to {answers.hostname}."))
        out.append(Record(dn, "TXT", spf, "SPF", REQUIRED, spf_why))
        out.append(Record(fqdn("_dmarc." + d), "TXT", policy.dmarc_value(rua), "DMARC",
                          REQUIRED, policy.DMARC_EXPLANATION))
        if d != answers.domain:
            out.append(Record(
                fqdn(f"{d}._report._dmarc.{answers.domain}"), "TXT", "v=DMARC1",
                "DMARC reports", RECOMMENDED,
                f"The DMARC reports for {d} go to {rua}, in another domain; receivers send "
                f"them only when {answers.domain} agrees to take them, which this record "
                "says (RFC 7489, section 7.1)."))
        out.append(Record(fqdn("_mta-sts." + d), "TXT", policy.mta_sts_value(sts_policy),
                          "MTA-STS", RECOMMENDED,
                          "MTA-STS tells sending servers that mail for this domain must "
                          "travel over TLS to a host with a valid certificate. The record "
                          "announces the policy file (below); its id changes whenever the "
                          "file does. The policy starts in mode 'testing': senders report "
                          "problems but still deliver. Switch the file to 'mode: enforce' "
                          "(and publish a new id) once the TLS reports show no failures; "
                          "only do that with a certificate from a public authority."))
        out.append(Record(fqdn("mta-sts." + d), "CNAME", fqdn(answers.hostname), "MTA-STS",
                          RECOMMENDED,
                          f"The policy file is fetched from https://mta-sts.{d}/.well-known/"
                          "mta-sts.txt, so that name needs a web server with a valid "
                          "certificate for it. mailwizard does not set up a web server: "
                          "point the name at one that serves the file (this server, if you "
                          "run one here)."))
        out.append(Record(fqdn("_smtp._tls." + d), "TXT", policy.tlsrpt_value(rua),
                          "TLS-RPT", RECOMMENDED,
                          f"Sending servers mail a daily report of TLS problems they met "
                          f"delivering to {d} to {rua}."))
    if dkim is not None:
        out += _dkim_records(dkim)
    out += _srv_records(answers)
    return out


def mta_sts_policies(answers: Answers) -> List[Tuple[str, str]]:
    """(URL, file text) of the MTA-STS policy file each receiving domain serves."""
    text = policy.mta_sts_policy([answers.hostname])
    return [(f"https://mta-sts.{d}/.well-known/mta-sts.txt", text)
            for d in receiving_domains(answers)]


def _host_records(answers: Answers, addresses: Sequence[str]) -> List[Record]:
    host = fqdn(answers.hostname)
    out: List[Record] = []
    parsed = []
    for a in addresses:
        try:
            parsed.append(ipaddress.ip_address(a))
        except ValueError:
            continue
    if not parsed:
        out.append(Record(host, "A", ADDRESS_PLACEHOLDER["A"], "Address", REQUIRED,
                          f"Senders and mail programs find {answers.hostname} by this record. "
                          "mailwizard could not tell this server's public address: fill it "
                          "in (or give it as dns.public_addresses in the answers).", FILL))
        out.append(Record("<address>.in-addr.arpa.", "PTR", host, "PTR", REQUIRED,
                          _ptr_why(answers.hostname), FILL))
        return out
    for ip in parsed:
        rtype = "A" if ip.version == 4 else "AAAA"
        out.append(Record(host, rtype, str(ip), "Address", REQUIRED,
                          f"Senders and mail programs find {answers.hostname} by this record."))
    for ip in parsed:
        out.append(Record(ip.reverse_pointer + ".", "PTR", host, "PTR", REQUIRED,
                          _ptr_why(answers.hostname), ADVICE))
    return out


def _ptr_why(hostname: str) -> str:
    return (f"The reverse record of the address must name {hostname} (and that name must "
            "point back at the address): many receivers refuse mail from an address without "
            "it. It lives in the address owner's zone, not yours: set it in your hosting "
            "provider's control panel or ask them.")


def _dkim_records(dkim: DkimKey) -> List[Record]:
    out = []
    for d in dkim.domains:
        name = fqdn(txt_name(dkim.selector, d))
        why = (f"Receivers check the DKIM signature on mail from {d} with this public key. "
               "Signed mail passes DMARC even when it is forwarded.")
        if dkim.txt is None:
            out.append(Record(name, "TXT", "<made at apply: the public key of the new DKIM "
                              "key, v=DKIM1; k=rsa; p=...>", "DKIM", REQUIRED,
                              why + " The key is made when the steps are applied; run "
                              "'mailwizard dns' then to see the value.", PENDING))
        else:
            out.append(Record(name, "TXT", dkim.txt, "DKIM", REQUIRED, why))
    return out


def _srv_records(answers: Answers) -> List[Record]:
    host = fqdn(answers.hostname)
    d = answers.domain
    why = ("Mail programs that follow RFC 6186 find the server and port for an address "
           f"@{d} by these records, so users only type their address and password.")
    no = ("A target of '.' says the service is not offered here (RFC 2782 and 6186), so "
          "mail programs do not try it.")

    def srv(service: str, value: str, extra: str = "") -> Record:
        return Record(fqdn(f"_{service}._tcp.{d}"), "SRV", value, "Client setup",
                      RECOMMENDED, (no if value == NOT_OFFERED else why) + extra)

    out = [srv("submission", f"0 1 587 {host}"),
           srv("submissions", NOT_OFFERED, " Port 465 (submission over implicit TLS) is not "
               "configured; 587 with STARTTLS is.")]
    out.append(srv("imaps", f"0 1 993 {host}" if answers.imap else NOT_OFFERED))
    out.append(srv("pop3s", f"10 1 995 {host}" if answers.pop3 else NOT_OFFERED))
    plain = answers.plaintext_ports
    # RFC 8314 section 5.1: implicit TLS is preferred, so the STARTTLS ports rank lower
    out.append(srv("imap", f"20 1 143 {host}" if plain and answers.imap else NOT_OFFERED))
    out.append(srv("pop3", f"30 1 110 {host}" if plain and answers.pop3 else NOT_OFFERED))
    return out


__all__ = ["ADVICE", "FILL", "PENDING", "PUBLISH", "DkimKey", "expected_records",
           "mta_sts_policies", "receiving_domains"]
