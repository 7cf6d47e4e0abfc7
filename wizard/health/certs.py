"""Certificates: the days left on the certificate each TLS port serves, and (ACME mode) the
renewal hook that installs renewed certificates where Postfix and Dovecot read them."""

from __future__ import annotations

import datetime as _dt
import smtplib
import stat
from typing import Callable, List, Sequence, Tuple

from cryptography import x509

from ..checks import peer_certificate
from ..executor import Executor
from .model import CRITICAL, OK, WARNING, Finding

ACME_HOOK = "/etc/letsencrypt/renewal-hooks/deploy/mailwizard"

PeerFetch = Callable[[str, int, bool, str], bytes]
"""(host, port, STARTTLS, server name) -> the DER certificate served."""


def fetch_peer(host: str, port: int, starttls: bool, server_name: str) -> bytes:
    return peer_certificate(host, port, smtp_starttls=starttls, server_name=server_name,
                            timeout=10.0)


def not_after(cert: x509.Certificate) -> _dt.datetime:
    value = getattr(cert, "not_valid_after_utc", None)
    if value is None:  # cryptography < 42
        value = cert.not_valid_after.replace(tzinfo=_dt.timezone.utc)
    return value


def days_state(days: float, warn_days: int, crit_days: int) -> str:
    return CRITICAL if days < crit_days else WARNING if days < warn_days else OK


def served_cert_findings(host: str, ports: Sequence[Tuple[int, bool]], server_name: str,
                         now: _dt.datetime, warn_days: int, crit_days: int,
                         fetch: PeerFetch = fetch_peer) -> List[Finding]:
    """For each (port, STARTTLS) the days left on the certificate it serves."""
    out = []
    for port, starttls in ports:
        name = f"certificate on port {port}"
        try:
            der = fetch(host, port, starttls, server_name)
            cert = x509.load_der_x509_certificate(der)
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            out.append(Finding("certificates", name, CRITICAL, f"no TLS: {exc}",
                               "is the service running with its certificate?"))
            continue
        end = not_after(cert)
        days = (end - now).total_seconds() / 86400
        st = days_state(days, warn_days, crit_days)
        subject = ", ".join(a.value for a in cert.subject.get_attributes_for_oid(
            x509.NameOID.COMMON_NAME) if isinstance(a.value, str)) or "?"
        detail = (f"{subject}, expires {end.date().isoformat()}"
                  + (f" ({int(days)} days left)" if days >= 0 else " (EXPIRED)"))
        hint = "" if st == OK else (f"renew it (warning under {warn_days} days, critical "
                                    f"under {crit_days})")
        out.append(Finding("certificates", name, st, detail, hint))
    return out


def acme_hook_finding(ex: Executor, hook: str = ACME_HOOK) -> Finding:
    st = ex.stat(hook, follow=True)
    name = "ACME renewal hook"
    if st is None:
        return Finding("certificates", name, CRITICAL, f"{hook} is missing",
                       "renewed certificates would not reach Postfix and Dovecot: run "
                       "mailwizard apply --step acme")
    if not st.mode & stat.S_IXUSR:
        return Finding("certificates", name, CRITICAL, f"{hook} is not executable",
                       f"chmod 0755 {hook}")
    return Finding("certificates", name, OK, f"{hook} present")


def cert_files(hostname: str, cert_dir: str, key_dir: str,
               extra: Sequence[str] = ()) -> List[str]:
    """The certificate and key paths the certificate step writes (same rule as the step)."""
    return [f"{cert_dir}/{hostname}.crt", f"{key_dir}/{hostname}.key",
            *[p for p in extra if p]]


def tls_ports(imap: bool, pop3: bool) -> List[Tuple[int, bool]]:
    ports = [(25, True), (587, True)]
    if imap:
        ports.append((993, False))
    if pop3 and not imap:
        ports.append((995, False))
    return ports

