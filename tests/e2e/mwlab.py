"""Helpers for the mailwizard end-to-end tests: answers per server, /etc manifests, and
black-box mail clients (stdlib smtplib/imaplib/poplib plus swaks and openssl from the host).

Every client connects to the lab server's own address (10.201.N.2) from the host end of the
veth (10.201.N.1, outside ``mynetworks``) or from the second host address (10.201.N.3) for the
negative-auth probes, so Dovecot's per-IP failure delay never slows the other probes.
"""

from __future__ import annotations

import hashlib
import imaplib
import os
import poplib
import re
import smtplib
import ssl
import stat
import subprocess
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import lab
import lab_dns
import pytest
import yaml

HOSTNAME = "mail.example.test"
DOMAIN = "example.test"
USERS = {"alice": "S3cret-pass-alice", "bob": "S3cret-pass-bob"}


def answers_for(server_ip: str, backend: str = "dovecot", firewall: bool = True,
                overrides: Optional[Dict[str, object]] = None) -> str:
    """The answers file for a lab server: the demo's shape, with lab names and passwords.
    ``overrides``: top-level sections replaced, except a non-empty dict given for a section
    that is a dict, which is merged into it (``{"restrictions": {"rbl": [...]}}`` keeps the
    rest; ``{}`` empties the section)."""
    data = {
        "hostname": HOSTNAME,
        "domain": DOMAIN,
        "admin_user": "alice",
        "mynetworks": ["127.0.0.0/8", "[::1]/128"],
        "inet_interfaces": "all",
        "inet_protocols": "ipv4",
        "users": [{"name": n, "create": True, "password": p} for n, p in USERS.items()],
        "aliases": {"postmaster": "root", "info": ["alice", "bob"], "sales": "bob"},
        "virtual_alias_domains": ["example.net"],
        "virtual_aliases": {"contact@example.net": "bob"},
        "certificate": {"mode": "self-signed", "key_type": "ecdsa-p256", "days": 30,
                        "organization": "mailwizard lab", "extra_names": [server_ip]},
        "sasl": {"backend": backend},
        "restrictions": {"rbl": [], "helo_required": True,
                         "sender_access": {"spammer@bad.example": "REJECT"}},
        "imap": True,
        "pop3": True,
        "steps": {"firewall": firewall, "postgrey": False, "virtual-aliases": True},
    }
    for key, value in (overrides or {}).items():
        cur = data.get(key)
        if isinstance(cur, dict) and isinstance(value, dict) and value:
            data[key] = {**cur, **value}
        else:
            data[key] = value
    return yaml.safe_dump(data, sort_keys=False)


# --------------------------------------------------------------------------- manifests
Manifest = Dict[str, Tuple]


def manifest(root: Path, top: str = "etc") -> Manifest:
    """path -> (type, mode, uid, gid, sha256 or link target) for every entry under root/top."""
    out: Manifest = {}
    base = root / top
    for dirpath, dirnames, filenames in os.walk(base):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            st = p.lstat()
            rel = "/" + str(p.relative_to(root))
            meta = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", *meta)
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", *meta, hashlib.sha256(p.read_bytes()).hexdigest())
            else:
                out[rel] = ("other", *meta)
    return out


def manifest_diff(before: Manifest, after: Manifest) -> List[str]:
    lines = []
    for k in sorted(set(before) | set(after)):
        if before.get(k) != after.get(k):
            lines.append(f"{k}: {before.get(k)} -> {after.get(k)}")
    return lines


# --------------------------------------------------------------------------- clients
@dataclass
class Mailbox:
    """The mail server under test, as its clients see it."""

    ip: str
    cafile: str
    client_ip: str
    client_ip2: str
    maildirs: Dict[str, Path] = field(default_factory=dict)

    def ctx(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.cafile)
        ctx.check_hostname = True
        return ctx

    def smtp(self, port: int, source: Optional[str] = None) -> smtplib.SMTP:
        s = smtplib.SMTP(self.ip, port, local_hostname="client.example.org", timeout=15,
                         source_address=(source or self.client_ip, 0))
        return s

    def starttls(self, s: smtplib.SMTP) -> None:
        s._host = HOSTNAME  # type: ignore[attr-defined]  # verify the name, not the IP
        s.starttls(context=self.ctx())
        s.ehlo()

    def wait_for(self, user: str, token: str, timeout: float = 20) -> Path:
        """The message file containing ``token`` in ~user/Maildir/{new,cur}."""
        deadline = time.monotonic() + timeout
        base = self.maildirs[user]
        while time.monotonic() < deadline:
            for sub in ("new", "cur"):
                d = base / sub
                if d.is_dir():
                    for f in d.iterdir():
                        try:
                            if token in f.read_text(errors="replace"):
                                return f
                        except FileNotFoundError:
                            continue
            time.sleep(0.2)
        raise AssertionError(f"no message with {token} in {base}")

    def send_authenticated(self, user: str, to: str, subject: str, body: str = "hello\n"
                           ) -> None:
        with self.smtp(587) as s:
            s.ehlo()
            self.starttls(s)
            s.login(user, USERS[user])
            s.sendmail(f"{user}@{DOMAIN}", [to],
                       f"From: {user}@{DOMAIN}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n"
                       f"{body}")

    def imaps(self) -> imaplib.IMAP4_SSL:
        return imaplib.IMAP4_SSL(self.ip, 993, ssl_context=self.ctx(), timeout=15)

    def pop3s(self) -> poplib.POP3_SSL:
        return poplib.POP3_SSL(self.ip, 995, context=self.ctx(), timeout=15)


def token() -> str:
    return uuid.uuid4().hex[:16]


def host_run(argv: List[str], timeout: float = 60, input: Optional[str] = None
             ) -> subprocess.CompletedProcess:
    """Run a client on the host (never a daemon), output captured."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL)


# --------------------------------------------------------------------------- deploy
@dataclass
class Deployed:
    """A lab server after ``mailwizard apply`` (see :func:`deploy`)."""

    srv: lab.Server
    apply_rc: int
    apply_out: str
    before: Manifest
    box: Mailbox
    apply_seconds: float


def deploy(srv: lab.Server, backend: str = "dovecot", record: Optional[str] = None,
           overrides: Optional[Dict[str, object]] = None) -> Deployed:
    """Install mailwizard the README way (venv + pip from the wheelhouse), write
    /root/answers.yaml for ``backend``, take the /etc manifest and run
    ``mailwizard apply --answers /root/answers.yaml --yes`` once (not checked: the caller
    asserts on ``apply_rc``).  ``record``: name of the apply wall time in ``lab.TIMINGS``;
    ``overrides``: see :func:`answers_for`."""
    srv.install_wheels()
    srv.path("/root/answers.yaml").write_text(answers_for(srv.ip, backend=backend,
                                                          overrides=overrides))
    before = manifest(srv.path("/"))
    t0 = time.monotonic()
    res = srv.run("mailwizard apply --answers /root/answers.yaml --yes 2>&1", check=False,
                  timeout=1200)
    seconds = time.monotonic() - t0
    if record:
        lab._record(record, seconds)
    cert = srv.path(f"/etc/ssl/certs/{HOSTNAME}.crt")
    box = Mailbox(srv.ip, str(cert), srv.host_ip, srv.host_ip2,
                  {u: srv.path(f"/home/{u}/Maildir") for u in USERS})
    return Deployed(srv, res.returncode, res.stdout, before, box, seconds)


def suite_image(request: pytest.FixtureRequest, suite: str = lab.SUITE) -> lab.Image:
    """The session's image of ``suite`` ("bookworm" or "trixie") through its fixture."""
    return request.getfixturevalue("lab_image" if suite == "bookworm" else "trixie_image")


@contextmanager
def lab_server(request: pytest.FixtureRequest, suite: str = lab.SUITE,
               dns: Optional[lab_dns.LabDNS] = None) -> Iterator[lab.Server]:
    """A booted server of ``suite`` for a module-scoped fixture: tracked for the failure
    reports of the requesting module, offline repo attached and, with ``dns``, served by the
    lab DNS (its resolv.conf points there before anything starts).  Detached and halted on
    exit."""
    srv = lab.track_module_server(lab.Server(suite_image(request, suite)),
                                  request.module.__file__)
    try:
        srv.boot()
        srv.attach_debs()
        if dns is not None:
            dns.attach(srv)
        yield srv
    finally:
        if dns is not None:
            dns.detach(srv)
        srv.halt()


@contextmanager
def deployed(request: pytest.FixtureRequest, suite: str = lab.SUITE,
             dns: Optional[lab_dns.LabDNS] = None, backend: str = "dovecot",
             record: Optional[str] = None, overrides: Optional[Dict[str, object]] = None,
             check: bool = True) -> Iterator[Deployed]:
    """:func:`lab_server` + :func:`deploy`: the module-scoped "boot a lab server and apply
    mailwizard with these answers" of the scenario modules.  ``check``: the apply must exit
    0 (else the fixture fails with its output); without it the module asserts itself."""
    with lab_server(request, suite, dns) as srv:
        d = deploy(srv, backend, record=record, overrides=overrides)
        if check:
            assert d.apply_rc == 0, d.apply_out[-6000:]
        yield d


def changed_lines(apply_out: str) -> List[str]:
    """The step lines of ``mailwizard apply`` output that report a change."""
    return [line for line in apply_out.splitlines() if line.strip().startswith("+ ")
            and line.rstrip().endswith("(changed)")]


# --------------------------------------------------------------------------- probes
# Black-box checks shared by the scenarios; each raises AssertionError with the evidence.

def check_starttls_and_no_auth_before_tls(box: Mailbox) -> None:
    """Port 25 offers STARTTLS and no AUTH (swaks); 587 offers no AUTH before STARTTLS."""
    r = host_run(["swaks", "--server", box.ip, "--port", "25", "--quit-after", "EHLO",
                  "--ehlo", "client.example.org"])
    assert "250-STARTTLS" in r.stdout or "250 STARTTLS" in r.stdout, r.stdout
    assert "AUTH" not in r.stdout.split("EHLO client.example.org", 1)[1], r.stdout
    with box.smtp(587) as s:
        s.ehlo()
        assert "auth" not in s.esmtp_features
        assert "starttls" in s.esmtp_features


def check_swaks_submission_delivers(box: Mailbox, user: str = "alice") -> Path:
    """swaks on 587: STARTTLS (cert verified), AUTH PLAIN as ``user``, to ``user``; the
    message lands in ``user``'s Maildir/new.  Returns the message file."""
    t = token()
    r = host_run(["swaks", "--server", box.ip, "--port", "587", "--tls",
                  "--tls-verify", "--tls-ca-path", box.cafile, "--auth", "PLAIN",
                  "--auth-user", user, "--auth-password", USERS[user],
                  "--from", f"{user}@{DOMAIN}", "--to", f"{user}@{DOMAIN}",
                  "--header", f"Subject: swaks {t}", "--body", "delivered by swaks"],
                 timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "235 2.7.0 Authentication successful" in r.stdout, r.stdout
    f = box.wait_for(user, t)
    assert "/new/" in str(f), f
    return f


def check_not_an_open_relay(box: Mailbox) -> None:
    """Unauthenticated mail from outside mynetworks to an external domain: 554 5.7.1."""
    r = host_run(["swaks", "--server", box.ip, "--port", "25", "--ehlo",
                  "client.example.org", "--from", "spammer@elsewhere.invalid", "--to",
                  "victim@external.invalid", "--quit-after", "RCPT"])
    assert "554 5.7.1" in r.stdout and "Relay access denied" in r.stdout, r.stdout
    assert r.returncode == 24, r.returncode


def check_openssl_starttls_verifies(box: Mailbox) -> None:
    """``openssl s_client -starttls smtp`` verifies our cert and name with TLS >= 1.2; a
    wrong name fails; TLS 1.1 on 993 is refused."""
    r = host_run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                  f"{box.ip}:25", "-CAfile", box.cafile, "-verify_return_error",
                  "-verify_hostname", HOSTNAME, "-brief"], input="QUIT\n", timeout=30)
    text = r.stdout + r.stderr
    assert r.returncode == 0, text
    assert "Verification: OK" in text, text
    m = re.search(r"Protocol version: TLSv1\.(\d)", text)
    assert m and int(m.group(1)) >= 2, text
    bad = host_run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                    f"{box.ip}:25", "-CAfile", box.cafile, "-verify_return_error",
                    "-verify_hostname", "wrong.example.test", "-brief"], input="QUIT\n",
                   timeout=30)
    assert bad.returncode != 0
    old = host_run(["openssl", "s_client", "-connect", f"{box.ip}:993", "-tls1_1",
                    "-brief"], input="", timeout=30)
    assert old.returncode != 0, "TLS 1.1 must be refused"


def check_imaps_reads(box: Mailbox, user: str = "bob") -> None:
    """Send ``user`` a message over 587, then log in over IMAPS 993 and fetch it."""
    t = token()
    box.send_authenticated(user, f"{user}@{DOMAIN}", f"imap {t}", "read me over IMAP\n")
    box.wait_for(user, t)
    with box.imaps() as m:
        m.login(user, USERS[user])
        m.select("INBOX")
        typ, data = m.search(None, "SUBJECT", f'"imap {t}"')
        assert typ == "OK" and data[0], data
        typ, msg = m.fetch(data[0].split()[0], "(RFC822)")
        assert b"read me over IMAP" in msg[0][1]  # type: ignore[index]
        m.logout()


@contextmanager
def systemd_server(image: lab.Image, module: str) -> Iterator[lab.Server]:
    """A booted lab server with systemd as PID 1 and the offline repo attached, tracked for
    the failure reports of test module ``module``; the test is skipped when systemd cannot
    run here."""
    reason = lab.systemd_unavailable()
    if reason:
        pytest.skip(f"systemd variant: {reason}")
    with lab.booted(image, systemd=True,
                    track=lambda srv: lab.track_module_server(srv, module)) as srv:
        yield srv


def unit_state(srv: lab.Server, units: Tuple[str, ...]) -> Dict[str, str]:
    """unit -> "<is-active>/<is-enabled>" (e.g. "active/enabled", "inactive/not-found")."""
    out = {}
    for u in units:
        a = srv.run(["systemctl", "is-active", u], check=False, timeout=60).stdout.strip()
        e = srv.run(["systemctl", "is-enabled", u], check=False, timeout=60)
        out[u] = f"{a}/{(e.stdout.strip() or 'not-found')}"
    return out


def mailwizard(srv: lab.Server, verb: str, timing: str, timeout: float = 600):  # type: ignore[no-untyped-def]
    """``mailwizard VERB --answers /root/answers.yaml`` inside ``srv``, timed as ``timing``
    in the lab's timings table; it must exit 0."""
    t0 = time.monotonic()
    r = srv.run(f"mailwizard {verb} --answers /root/answers.yaml 2>&1", check=False,
                timeout=timeout)
    lab._record(timing, time.monotonic() - t0)
    assert r.returncode == 0, r.stdout[-4000:]
    return r


def check_converged(out: str) -> None:
    """A second apply's output: every step unchanged."""
    changed = changed_lines(out)
    assert not changed, "\n".join(changed)
    assert re.findall(r"0 changed, \d+ unchanged", out), out[-3000:]
