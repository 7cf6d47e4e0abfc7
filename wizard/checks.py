"""Verification primitives: each returns a :class:`CheckResult` with a human explanation.

Recipes combine them in ``verify()``. Network probes talk only to the address the admin gave
(normally the server itself) and always with short time-outs. ``smtplib`` and ``ssl`` are
imported by the network checks that use them, not with the module: ``plan`` and ``docs``
never load them.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
import shlex
import socket
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence

from . import confedit
from .executor import Executor


@dataclass
class CheckResult:
    name: str
    ok: Optional[bool]
    """True = pass, False = fail, None = not applicable / informational."""
    detail: str = ""
    """What was seen."""
    explanation: str = ""
    """Why it matters or how to fix it."""
    not_checked: bool = False
    """Not run at all: a rehearsal has no running system to ask (``ok`` is None)."""

    @property
    def status(self) -> str:
        if self.not_checked:
            return "SKIP"
        return {True: "PASS", False: "FAIL", None: "INFO"}[self.ok]

    def to_dict(self) -> Dict[str, Any]:
        out = {"name": self.name, "ok": self.ok, "detail": self.detail,
               "explanation": self.explanation}
        if self.not_checked:
            out["not_checked"] = True
        return out


def passed(name: str, detail: str = "", explanation: str = "") -> CheckResult:
    return CheckResult(name, True, detail, explanation)


def failed(name: str, detail: str = "", explanation: str = "") -> CheckResult:
    return CheckResult(name, False, detail, explanation)


def info(name: str, detail: str = "", explanation: str = "") -> CheckResult:
    return CheckResult(name, None, detail, explanation)


NOT_CHECKED = "not checked in a rehearsal"


def not_checked(name: str, needs: str = "the running system") -> CheckResult:
    """A check a rehearsal cannot make: it needs ``needs`` (commands and daemons never run
    there). Never a pass: the outcome is SKIP with the reason."""
    return CheckResult(name, None, f"{NOT_CHECKED} (it needs {needs})",
                       "run verify on the server itself", not_checked=True)


_NETWORK_OFF: ContextVar[bool] = ContextVar("mailwizard_network_off", default=False)


@contextlib.contextmanager
def network_off() -> Iterator[None]:
    """Network checks (ports, SMTP, IMAP, public DNS) report :func:`not_checked` instead of
    connecting: in a rehearsal whatever answers on this machine's ports is not the rehearsed
    server, and a rehearsal asks no one outside this machine."""
    token = _NETWORK_OFF.set(True)
    try:
        yield
    finally:
        _NETWORK_OFF.reset(token)


def _offline(name: str) -> Optional[CheckResult]:
    return not_checked(name, "a server listening") if _NETWORK_OFF.get() else None


# --------------------------------------------------------------------------- config files
def main_cf_values(ex: Executor, expected: Dict[str, str],
                   path: str = "/etc/postfix/main.cf") -> List[CheckResult]:
    """Compare main.cf parameters (parsed in Python: no process per parameter)."""
    values = confedit.read_main_cf(ex.read_text(path))
    out = []
    for k, v in expected.items():
        got = values.get(k)
        if got is not None and " ".join(got.replace(",", " ").split()) == " ".join(
                v.replace(",", " ").split()):
            out.append(passed(f"main.cf {k}", f"{k} = {got}"))
        else:
            out.append(failed(f"main.cf {k}", f"expected {v!r}, found {got!r}",
                              "set it with: postconf -e " + shlex.quote(f"{k} = {v}")))
    return out


def _same_value(a: str, b: str) -> bool:
    """Postfix list values compare equal whatever their commas and spacing."""
    return " ".join(a.replace(",", " ").split()) == " ".join(b.replace(",", " ").split())


def postfix_service_overrides(ex: Executor, service: str, postconf_p: bool = True,
                              master_cf: str = "/etc/postfix/master.cf") -> Dict[str, str]:
    """The ``-o`` overrides of master.cf ``service`` (``name/type``), as ``postconf -P``
    reports them (Postfix 2.11+), else read from master.cf in Python."""
    if postconf_p:
        res = ex.run(["postconf", "-P"], quiet=True, timeout=60)
        out: Dict[str, str] = {}
        for line in res.stdout.splitlines() if res.ok else []:
            key, sep, value = line.partition(" = ")
            if sep and key.startswith(service + "/"):
                out[key[len(service) + 1:]] = value
        return out
    name, _, kind = service.partition("/")
    entry = confedit.read_master_cf(ex.read_text(master_cf)).get((name, kind), "")
    return confedit.master_options(entry)


def _postconf_h(ex: Executor, keys: Sequence[str], defaults: bool = False) -> List[str]:
    res = ex.run(["postconf", "-dh" if defaults else "-h", *keys], quiet=True, timeout=60)
    lines = res.stdout.splitlines() if res.ok else []
    return [x.strip() for x in lines] + [""] * (len(keys) - len(lines))


def postfix_effective(ex: Executor, service: str, expected: Dict[str, str],
                      postconf_p: bool = True) -> List[CheckResult]:
    """What Postfix really uses for ``service`` (``name/type``): its master.cf override when
    it has one, else the main.cf value or Postfix's default (``postconf -h``), compared with
    ``expected``."""
    if not ex.which("postconf"):
        return [info(f"{service} {k}", "postfix is not installed") for k in expected]
    if ex.rehearsal:
        return [not_checked(f"{service} {k}", "postconf on the server") for k in expected]
    overrides = postfix_service_overrides(ex, service, postconf_p)
    keys = list(expected)
    values = dict(zip(keys, _postconf_h(ex, keys)))
    out: List[CheckResult] = []
    for k, want in expected.items():
        if k in overrides:
            got, where = overrides[k], "master.cf"
        else:
            got, where = values[k], "main.cf or default"
        if _same_value(got, want):
            out.append(passed(f"{service} {k}", f"{k} = {got} (from {where})"))
        else:
            out.append(failed(f"{service} {k}", f"expected {want!r}, Postfix uses {got!r} "
                              f"(from {where})", "postconf -P; postconf -n"))
    return out


def postfix_at_defaults(ex: Executor, service: str, keys: Sequence[str],
                        postconf_p: bool = True) -> List[CheckResult]:
    """``service`` uses Postfix's built-in default for each of ``keys``: no master.cf
    override, and the value ``postconf -h`` reports equals ``postconf -dh``."""
    if not ex.which("postconf"):
        return [info(f"{service} {k} at Postfix's default", "postfix is not installed")
                for k in keys]
    if ex.rehearsal:
        return [not_checked(f"{service} {k} at Postfix's default", "postconf on the server")
                for k in keys]
    overrides = postfix_service_overrides(ex, service, postconf_p)
    now = _postconf_h(ex, keys)
    default = _postconf_h(ex, keys, defaults=True)
    out: List[CheckResult] = []
    for k, got, want in zip(keys, now, default):
        name = f"{service} {k} at Postfix's default"
        if k in overrides:
            out.append(failed(name, f"master.cf sets {k}={overrides[k]}",
                              "remove the -o override of this service"))
        elif got == want:
            out.append(passed(name, f"{k} = {got}"))
        else:
            out.append(failed(name, f"{k} = {got}, Postfix's default is {want!r}",
                              f"postconf -X {k}"))
    return out


_MAP_KEY = re.compile(r"[\x21-\x7e]{1,512}", re.ASCII)


def map_lookup(ex: Executor, ref: str, keys: Sequence[str], prog: str = "postmap"
               ) -> Optional[Dict[str, str]]:
    """Ask the Postfix table ``ref`` for every key at once (``postmap -q - ref``: one
    process, the keys on its standard input, not one process per key): found key -> value,
    or None when the command failed (a missing table, a fatal error). Keys that are not
    plain printable ASCII words never reach the command (:class:`ValueError`). ``prog`` is
    ``postalias`` for alias tables.

    The answers come back as ``key<TAB>value`` (``key: value`` from postalias); Postfix
    folds keys to lower case, so a key is found under the spelling it was asked with or
    under its lower case."""
    wanted = list(dict.fromkeys(keys))
    for k in wanted:
        if not _MAP_KEY.fullmatch(k):
            raise ValueError(f"not a table key: {k!r}")
    if not wanted:
        return {}
    res = ex.run([prog, "-q", "-", ref], input="".join(k + "\n" for k in wanted), quiet=True,
                 timeout=120)
    if res.returncode != 0 and (res.returncode != 1 or res.stderr.strip()):
        return None  # exit 1 without a word: no key was found; else a fatal error
    found: Dict[str, str] = {}
    for line in res.stdout.splitlines():
        key, _, value = line.partition("\t") if "\t" in line else line.partition(" ")
        key = key.strip()
        if prog == "postalias" and key.endswith(":"):
            key = key[:-1]
        found[key.lower()] = value.strip()
    return {k: found[k.lower()] for k in wanted if k.lower() in found}


def postfix_check(ex: Executor) -> CheckResult:
    """``postfix check``; in an apply whose validation (before any reload) found it satisfied
    on the same files, that validation's word (:attr:`Executor.validated`): once per apply."""
    if not ex.which("postfix"):
        return info("postfix check", "postfix is not installed")
    if ex.rehearsal:
        return not_checked("postfix check", "postfix on the server")
    still = ex.validated.get(("postfix", "check"))
    how = still() if still is not None else None
    if how:
        return passed("postfix check", how)
    res = ex.run(["postfix", "check"], quiet=True, timeout=120)
    if res.ok and "warning" not in res.output.lower():
        return passed("postfix check", "no problems reported")
    if res.ok:
        return CheckResult("postfix check", True, res.output[-800:],
                           "postfix check passed with warnings")
    return failed("postfix check", res.output[-800:], "Postfix refuses this configuration")


def doveconf_check(ex: Executor) -> CheckResult:
    if not ex.which("doveconf"):
        return info("doveconf -n", "dovecot is not installed")
    if ex.rehearsal:
        return not_checked("doveconf -n", "doveconf on the server")
    res = ex.run(["doveconf", "-n"], quiet=True, timeout=60)
    if res.ok:
        return passed("doveconf -n", "configuration parses")
    return failed("doveconf -n", res.stderr[-800:] or res.output[-800:],
                  "Dovecot would not start with this configuration")


# Dovecot 2.4 named filters whose settings doveconf does not report globally: a top-level
# ``ssl_server_cert_file = X`` lands in the ``ssl_server`` filter (``doveconf -n`` shows
# ``ssl_server { cert_file = X }``), ``doveconf -h ssl_server_cert_file`` prints the empty
# global default and ``doveconf -h ssl_server/ssl_server_cert_file`` the value Dovecot uses
# (seen with 2.4.1 on Debian 13).  Earlier versions have no such setting names.
DOVECOT_FILTER_PREFIXES = ("ssl_server",)


def doveconf_query_key(key: str) -> str:
    """The name to ask ``doveconf -h`` for setting ``key`` (``filter/key`` for the settings
    of a Dovecot 2.4 named filter, see DOVECOT_FILTER_PREFIXES)."""
    for prefix in DOVECOT_FILTER_PREFIXES:
        if key.startswith(prefix + "_"):
            return f"{prefix}/{key}"
    return key


def doveconf_values(ex: Executor, expected: Dict[str, str]) -> List[CheckResult]:
    if not ex.which("doveconf"):
        return [info(f"dovecot {k}", "dovecot is not installed") for k in expected]
    if ex.rehearsal:
        return [not_checked(f"dovecot {k}", "doveconf on the server") for k in expected]
    res = ex.run(["doveconf", "-h", *(doveconf_query_key(k) for k in expected)], quiet=True,
                 timeout=60)
    out: List[CheckResult] = []
    if not res.ok:
        return [failed("doveconf", res.output[-400:], "doveconf could not read the settings")]
    lines = res.stdout.splitlines()
    for (k, v), got in zip(expected.items(), lines + [""] * len(expected)):
        got = got.strip()
        ok = got == v or got.lstrip("<") == v.lstrip("<")
        out.append(CheckResult(f"dovecot {k}", ok, f"{k} = {got}",
                               "" if ok else f"expected {v!r}"))
    return out


def file_mode(ex: Executor, path: str, mode: int, owner: str = "root",
              group: Optional[str] = None) -> CheckResult:
    st = ex.stat(path)
    name = f"{path} permissions"
    if st is None:
        return failed(name, "missing")
    want_uid = ex.uid(owner)
    ok = st.mode == mode and st.uid == want_uid and (group is None or st.gid == ex.gid(group))
    return CheckResult(name, ok, f"mode {st.mode:04o}, uid {st.uid}, gid {st.gid}",
                       "" if ok else f"expected mode {mode:04o} owned by {owner}")


def exists(ex: Executor, path: str, what: str = "") -> CheckResult:
    ok = ex.exists(path)
    return CheckResult(what or f"{path} exists", ok, path if ok else f"{path} is missing")


# --------------------------------------------------------------------------- network
def port_open(host: str, port: int, timeout: float = 3.0) -> CheckResult:
    skip = _offline(f"port {port} answers")
    if skip is not None:
        return skip
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return passed(f"port {port} answers", f"{host}:{port} accepts connections")
    except OSError as exc:
        return failed(f"port {port} answers", f"{host}:{port}: {exc}",
                      "is the service running and listening on this address?")


def smtp_capabilities(host: str, port: int, helo: str = "mailwizard.invalid",
                      starttls: bool = False, cafile: Optional[str] = None,
                      server_name: Optional[str] = None,
                      timeout: float = 10.0) -> Dict[str, str]:
    """EHLO keywords (upper-case) before or after STARTTLS."""
    import smtplib
    import ssl

    with smtplib.SMTP(host, port, local_hostname=helo, timeout=timeout) as s:
        s.ehlo()
        if starttls:
            ctx = ssl.create_default_context(cafile=cafile) if cafile else \
                ssl._create_unverified_context()  # noqa: S323 - self-signed is checked separately
            if server_name:
                s._host = server_name  # type: ignore[attr-defined]
            s.starttls(context=ctx)
            s.ehlo()
        return {k.upper(): v for k, v in s.esmtp_features.items()}


def peer_certificate(host: str, port: int, *, smtp_starttls: bool = False,
                     server_name: str = "", timeout: float = 10.0) -> bytes:
    """The DER certificate a TLS server presents (implicit TLS, or SMTP with STARTTLS).

    Not verified here: the caller compares it with the certificate it expects."""
    import smtplib
    import ssl

    ctx = ssl._create_unverified_context()  # noqa: S323 - compared by the caller
    if smtp_starttls:
        with smtplib.SMTP(host, port, local_hostname="mailwizard.invalid",
                          timeout=timeout) as s:
            s.ehlo()
            if server_name:
                s._host = server_name  # type: ignore[attr-defined]
            s.starttls(context=ctx)
            der: Optional[bytes] = s.sock.getpeercert(  # type: ignore[union-attr]
                binary_form=True)
    else:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                ctx.wrap_socket(raw, server_hostname=server_name or None) as tls:
            der = tls.getpeercert(binary_form=True)
    if not der:
        raise OSError(f"{host}:{port} presented no certificate")
    return der


def smtp_starttls_offered(host: str, port: int = 25) -> CheckResult:
    import smtplib

    skip = _offline(f"STARTTLS offered on port {port}")
    if skip is not None:
        return skip
    name = f"STARTTLS offered on port {port}"
    try:
        caps = smtp_capabilities(host, port)
    except (OSError, smtplib.SMTPException) as exc:
        return failed(name, str(exc), "could not talk SMTP to the server")
    if "STARTTLS" in caps:
        return passed(name, "EHLO lists STARTTLS")
    return failed(name, "EHLO does not list STARTTLS", "check smtpd_tls_security_level")


def smtp_no_auth_before_tls(host: str, port: int) -> CheckResult:
    import smtplib

    skip = _offline(f"no AUTH before TLS on port {port}")
    if skip is not None:
        return skip
    name = f"no AUTH before TLS on port {port}"
    try:
        caps = smtp_capabilities(host, port)
    except (OSError, smtplib.SMTPException) as exc:
        return failed(name, str(exc))
    if "AUTH" in caps:
        return failed(name, f"AUTH {caps['AUTH']} offered in clear text",
                      "passwords could be sent unencrypted: set smtpd_tls_auth_only = yes")
    return passed(name, "AUTH is only offered after STARTTLS")


def smtp_auth_after_tls(host: str, port: int) -> CheckResult:
    import smtplib
    import ssl

    skip = _offline(f"AUTH offered after STARTTLS on port {port}")
    if skip is not None:
        return skip
    name = f"AUTH offered after STARTTLS on port {port}"
    try:
        caps = smtp_capabilities(host, port, starttls=True)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        return failed(name, str(exc))
    if "AUTH" in caps:
        return passed(name, f"AUTH {caps['AUTH']}")
    return failed(name, "no AUTH after STARTTLS", "SASL is not enabled on this port")


def relay_denied(host: str, port: int = 25, source: Optional[str] = None,
                 timeout: float = 10.0) -> CheckResult:
    """Unauthenticated RCPT to an outside domain must be refused (no open relay)."""
    import smtplib

    skip = _offline("not an open relay")
    if skip is not None:
        return skip
    name = "not an open relay"
    try:
        with smtplib.SMTP(host, port, local_hostname="relaytest.invalid", timeout=timeout,
                          source_address=(source, 0) if source else None) as s:
            s.ehlo()
            code, _ = s.mail("probe@relaytest.invalid")
            if code >= 400:
                return passed(name, f"MAIL refused with {code}")
            code, msg = s.rcpt("victim@relay-target.invalid")
            text = msg.decode(errors="replace")
            if code >= 500:
                return passed(name, f"{code} {text}")
            return failed(name, f"RCPT answered {code} {text}",
                          "the server accepts mail for other domains from strangers")
    except (OSError, smtplib.SMTPException) as exc:
        return failed(name, str(exc), "could not talk SMTP to the server")


# --------------------------------------------------------------------------- certificates
def certificate_valid(cert_pem: Optional[bytes], key_pem: Optional[bytes],
                      hostname: str) -> List[CheckResult]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtensionOID

    from .pemkey import load_private_key

    out: List[CheckResult] = []
    if cert_pem is None:
        return [failed("certificate present", "no certificate file")]
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        return [failed("certificate readable", str(exc))]
    now = _dt.datetime.now(_dt.timezone.utc)
    not_after = _not_after(cert)
    out.append(CheckResult("certificate not expired", not_after > now,
                           f"valid until {not_after:%Y-%m-%d}",
                           "" if not_after > now else "renew or replace the certificate"))
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        names = san.value.get_values_for_type(x509.DNSName)  # type: ignore[attr-defined]
    except x509.ExtensionNotFound:
        names = []
    ok = hostname in names or any(
        n.startswith("*.") and hostname.split(".", 1)[-1] == n[2:] for n in names)
    out.append(CheckResult("certificate names the host", ok, f"SAN: {', '.join(names) or '-'}",
                           "" if ok else f"clients connecting to {hostname} will reject it"))
    if key_pem is not None:
        try:
            key = load_private_key(key_pem)
            match = key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ) == cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            out.append(CheckResult("key matches certificate", match, "",
                                   "" if match else "the key belongs to another certificate"))
        except (ValueError, TypeError) as exc:
            out.append(failed("key readable", str(exc)))
    return out


def _not_after(cert: Any) -> _dt.datetime:
    value = getattr(cert, "not_valid_after_utc", None)
    if value is None:  # cryptography < 42
        value = cert.not_valid_after.replace(tzinfo=_dt.timezone.utc)
    return value  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- DNS
def mx_target(record: str) -> str:
    """The host an MX record's text (``10 mx.example.net.``) names, lower case, no dot."""
    parts = record.split()
    return parts[-1].lower().rstrip(".") if parts else ""


def dns_records(hostname: str, domain: str, addresses: Sequence[str] = (),
                timeout: float = 3.0) -> List[CheckResult]:
    """MX, A/AAAA, PTR and SPF as seen in public DNS. Informational only: never fatal."""
    if _NETWORK_OFF.get():
        return [not_checked(f"DNS for {domain}", "queries to public DNS")]
    try:
        import dns.exception
        import dns.resolver
        import dns.reversename
    except ImportError:  # pragma: no cover
        return [info("DNS", "dnspython is missing")]
    res = dns.resolver.Resolver()
    res.lifetime = timeout
    out: List[CheckResult] = []

    def query(name: str, rtype: str) -> List[str]:
        try:
            return [r.to_text() for r in res.resolve(name, rtype)]
        except (dns.exception.DNSException, OSError):
            return []

    mx = query(domain, "MX")
    ours = any(mx_target(m) == hostname for m in mx)
    out.append(CheckResult(f"MX for {domain}", None if not mx else ours,
                           ", ".join(mx) or "none found",
                           "" if ours else f"publish: {domain}. MX 10 {hostname}. (domain and "
                           "hostname answers; the host may live in another domain)"))
    a = query(hostname, "A") + query(hostname, "AAAA")
    out.append(CheckResult(f"A/AAAA for {hostname}", True if a else None,
                           ", ".join(a) or "none found",
                           "" if a else f"publish an A record for {hostname}"))
    for addr in list(addresses) or a[:2]:
        try:
            ptr = query(dns.reversename.from_address(addr).to_text(), "PTR")
        except (dns.exception.SyntaxError, ValueError):
            continue
        ok = any(p.rstrip(".") == hostname for p in ptr)
        out.append(CheckResult(f"PTR for {addr}", ok if ptr else None, ", ".join(ptr) or "none",
                               "" if ok else f"ask your provider to set PTR {addr} -> {hostname}"))
    txt = [t for t in query(domain, "TXT") if "v=spf1" in t]
    out.append(CheckResult(f"SPF for {domain}", True if txt else None,
                           ", ".join(txt) or "none found",
                           "" if txt else f'publish: {domain}. TXT "v=spf1 mx -all"'))
    return out


def failed_count(results: Optional[Iterable[CheckResult]]) -> int:
    """How many of ``results`` failed (informational ones never count)."""
    return sum(1 for r in results or () if r.ok is False)


def summarize(results: Iterable[CheckResult]) -> str:
    results = list(results)
    p = sum(1 for r in results if r.ok is True)
    f = failed_count(results)
    i = sum(1 for r in results if r.ok is None and not r.not_checked)
    n = sum(1 for r in results if r.not_checked)
    return (f"{p} passed, {f} failed" + (f", {i} informational" if i else "")
            + (f", {n} {NOT_CHECKED}" if n else ""))


def free_disk_mb(ex: Executor, path: str = "/var") -> int:
    st = os.statvfs(ex.path(path) if ex.exists(path) else ex.path("/"))
    return int(st.f_bavail * st.f_frsize / (1024 * 1024))


# --------------------------------------------------------------------------- IMAP (tls-dovecot)
def imap_logindisabled(host: str, port: int = 143, timeout: float = 10.0) -> CheckResult:
    """Before STARTTLS, an IMAP server must refuse clear-text logins (RFC 3501 LOGINDISABLED)."""
    skip = _offline(f"no clear-text IMAP login on port {port}")
    if skip is not None:
        return skip
    import imaplib

    name = f"no clear-text IMAP login on port {port}"
    try:
        conn = imaplib.IMAP4(host, port, timeout=timeout)
    except (OSError, imaplib.IMAP4.error) as exc:
        return failed(name, f"{host}:{port}: {exc}", "is dovecot listening on 143?")
    try:
        caps = {c.upper() for c in conn.capabilities}
        local_ip, peer_ip = conn.sock.getsockname()[0], conn.sock.getpeername()[0]
    finally:
        try:
            conn.shutdown()
        except OSError:
            pass
    shown = " ".join(sorted(caps))
    if local_ip == peer_ip and "STARTTLS" in caps:
        # Dovecot counts a client on the server's own address as secure and allows clear
        # text there by design; only a probe from another machine shows what clients see.
        return info(name, f"probed from the server itself ({peer_ip}): {shown}",
                    "Dovecot trusts local connections; run verify with --probe-host from "
                    "another machine, or check 'doveconf disable_plaintext_auth'")
    if "LOGINDISABLED" in caps and "STARTTLS" in caps and not any(
            c.startswith("AUTH=") for c in caps):
        return passed(name, "LOGINDISABLED and STARTTLS advertised, no AUTH= before TLS")
    return failed(name, f"capabilities: {shown}",
                  "passwords could travel unencrypted: set disable_plaintext_auth = yes "
                  "(auth_allow_cleartext = no on Dovecot 2.4)")
