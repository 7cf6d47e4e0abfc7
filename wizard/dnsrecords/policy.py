"""The text of the policy records: SPF, DMARC, MTA-STS (its TXT and its policy file), TLS-RPT.

Pure functions of validated answers; every name they put in a record has passed the host name
validators, so no quote, space or semicolon can reach a record from an answer.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Optional, Sequence, Tuple

MTA_STS_MODE = "testing"
MTA_STS_MAX_AGE = 86400
"""One day while testing; raise it (RFC 8461 suggests weeks) once the mode is ``enforce``."""


def relay_host(relayhost: str) -> str:
    """The host part of a ``relayhost`` answer (``[smtp.provider.example]:587`` gives
    ``smtp.provider.example``), '' for direct delivery."""
    host = relayhost.strip()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    else:
        host = host.split(":", 1)[0]
    return host.lower()


def spf_value(relayhost: str = "") -> Tuple[str, str]:
    """The SPF record for a domain whose mail leaves through this server, or through the
    relay ``relayhost``; and why it says what it says."""
    host = relay_host(relayhost)
    if not host:
        return ("v=spf1 mx -all",
                "Receivers check that mail from this domain comes from an address SPF lists: "
                "'mx' lists the servers the MX records name (this one), '-all' tells them "
                "to refuse everything else.")
    try:
        ipaddress.IPv4Address(host)
        mech = f"ip4:{host}"
    except ValueError:
        mech = f"a:{host}"
    return (f"v=spf1 mx {mech} ~all",
            f"Outbound mail leaves through the relay {host}, so SPF must list the relay's "
            f"sending addresses. '{mech}' is our best guess: most providers document an "
            "'include:' to use instead (for example include:spf.provider.example), and it "
            "should replace it. '~all' (soft fail) asks receivers to be lenient with other "
            "senders while the guess is unconfirmed; switch to '-all' once reports show "
            "that all your mail passes.")


def dmarc_value(report_address: str) -> str:
    return f"v=DMARC1; p=none; rua=mailto:{report_address}"


DMARC_EXPLANATION = (
    "DMARC tells receivers what to do with mail that claims to come from this domain but "
    "passes neither SPF nor DKIM for it, and where to send daily reports. 'p=none' only "
    "asks for the reports. Read them for a few weeks; when every legitimate sender passes, "
    "change to 'p=quarantine' (failing mail goes to spam), perhaps first with 'pct=25' for "
    "a quarter of it, and later to 'p=reject' (failing mail is refused). Large providers "
    "refuse or file as spam bulk mail from domains without any DMARC record.")


def mta_sts_policy(mx_hosts: Sequence[str], mode: str = MTA_STS_MODE,
                   max_age: int = MTA_STS_MAX_AGE) -> str:
    """The policy file served at ``https://mta-sts.<domain>/.well-known/mta-sts.txt``."""
    lines = ["version: STSv1", f"mode: {mode}"]
    lines += [f"mx: {h.rstrip('.')}" for h in mx_hosts]
    lines.append(f"max_age: {max_age}")
    return "\n".join(lines) + "\n"


def mta_sts_id(policy: str) -> str:
    """A policy id (RFC 8461: 1 to 32 letters and digits) that changes when the policy text
    does and stays the same otherwise: the first 20 hex digits of its SHA-256."""
    return hashlib.sha256(policy.encode("ascii")).hexdigest()[:20]


def mta_sts_value(policy: str) -> str:
    return f"v=STSv1; id={mta_sts_id(policy)}"


def tlsrpt_value(report_address: str) -> str:
    return f"v=TLSRPTv1; rua=mailto:{report_address}"


def reverse_name(address: str) -> Optional[str]:
    """The PTR owner name of ``address`` (``5.113.0.203.in-addr.arpa.``), None if invalid."""
    try:
        return ipaddress.ip_address(address).reverse_pointer + "."
    except ValueError:
        return None
