"""The runbook reproduces apply: running its command blocks by hand gives the same /etc.

Two fresh Debian 12 lab servers, nothing mail-related installed, the same answers:

* server A: ``mailwizard apply --answers F --yes`` (mailwizard installed from the wheelhouse);
* server B: the runbook for those answers and ``debian12``, generated on the host exactly as
  ``mailwizard docs --platform debian12 --answers F`` does on a fresh server (a dry run
  against an empty root, so every file is previewed against the stock copy), is copied in and
  its ``sh`` blocks (``extract_commands``) run in order as root with ``set -e``. The two
  ``sh-interactive`` blocks (``passwd USER``) are fed with ``chpasswd`` instead. The lab
  servers run no systemd, so the service blocks (``systemctl ...``) are replaced by what the
  runbook says right below them for that case ("Without systemd, mailwizard runs
  `service NAME start` where the init script /etc/init.d/NAME exists, else ...`"), as that
  rule reads, in shell.

Then the manifests of /etc (type, mode, owner, content hash) are compared. The only
differences allowed, each for a reason:

* the TLS private key and certificate: random key, serial and signature (also the snakeoil
  pair Debian's ssl-cert package generates when it is installed), and the DKIM signing key
  (random too; both are RSA keys of the same size, mode and owner);
* ``/etc/shadow`` and ``/etc/shadow-``: the password hashes are salted (compared with the hash
  field masked);
* Berkeley DB maps (``*.db``): the bytes carry page layout and timestamps, so they are compared
  by content (``postalias -s``/``postmap -s``) instead, without ``YP_LAST_MODIFIED`` (the
  time ``postalias`` ran);
* ``/etc/hosts``: the lab writes each server's own address into it at boot (compared with that
  address masked).

Every other file must be byte-identical with the same mode and owner. B is then probed like A
(port 25 offers STARTTLS and the handshake verifies; relaying for strangers is refused).
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Tuple

import lab
import mwlab
import pytest
from allsteps import real_engine
from mwlab import HOSTNAME, Mailbox, host_run

from wizard.answers import load_answers
from wizard.executor import DryRunExecutor
from wizard.platforms import get_platform
from wizard.runbook import APPLY, INTERACTIVE, extract_commands, render_runbook

pytestmark = pytest.mark.e2e

KEY = f"/etc/ssl/private/{HOSTNAME}.key"
CERT = f"/etc/ssl/certs/{HOSTNAME}.crt"
# bytes differ by nature (random key, serial): ours, and the snakeoil pair that Debian's
# ssl-cert package (a Recommends of dovecot-core) makes in its postinst
DKIM_KEYS = re.compile(r"/etc/opendkim/keys/[a-z0-9-]+\.private", re.ASCII)  # any selector
RANDOM = {KEY, CERT, "/etc/ssl/certs/ssl-cert-snakeoil.pem",
          "/etc/ssl/private/ssl-cert-snakeoil.key"}
SALTED = {"/etc/shadow", "/etc/shadow-"}      # salted password hashes
LAB_HOSTS = "/etc/hosts"                      # the lab writes the server's own IP there
NO_SYSTEMD = re.compile(r"Without systemd, mailwizard runs `([^`]+)`(?: where the init script\s+"
                        r"(/etc/init\.d/\S+) exists, else \(a container with no init\s+"
                        r"system\) `([^`]+)`)?\.")


def runbook_for(answers_text: str, platform_id: str = "debian12") -> str:
    """``mailwizard docs --platform ID --answers F`` for a fresh server, on the host."""
    with tempfile.TemporaryDirectory(prefix="mailwizard-docs-") as tmp:
        f = Path(tmp) / "answers.yaml"
        f.write_text(answers_text)
        answers = load_answers(f, None)
        root = Path(tmp) / "root"
        root.mkdir()
        engine = real_engine(answers, get_platform(platform_id), DryRunExecutor(root))
        return render_runbook(engine)


def runnable_blocks(markdown: str) -> List[Tuple[str, str]]:
    """(label, shell) for every apply block in order, with the two substitutions the module
    doc describes (passwords through chpasswd, services without systemd)."""
    no_systemd = NO_SYSTEMD.findall(markdown)
    out: List[Tuple[str, str]] = []
    blocks = extract_commands(markdown, kinds=(APPLY, INTERACTIVE))
    interactive = set(extract_commands(markdown, kinds=(INTERACTIVE,)))
    for body in blocks:
        if body in interactive:
            m = re.fullmatch(r"passwd (\S+)\n", body)
            assert m, f"unexpected interactive block:\n{body}"
            user = m.group(1)
            out.append((f"password {user}",
                        f"printf '%s:%s\\n' {user} '{mwlab.USERS[user]}' | chpasswd"))
        elif body.lstrip().startswith("systemctl "):
            assert no_systemd, "a systemctl block without the runbook's no-systemd command"
            sysv, script, direct = no_systemd.pop(0)
            shell = f"if [ -x {script} ]; then {sysv}; else {direct}; fi" if script else sysv
            out.append(("service (no systemd)", shell + "\n"))
        else:
            out.append((body.strip().splitlines()[0][:70], body))
    assert not no_systemd, f"no-systemd commands without a service block: {no_systemd}"
    return out


@dataclass
class Pair:
    a: lab.Server
    b: lab.Server
    apply_rc: int
    apply_out: str
    runbook: str
    ran: List[Tuple[str, int, str]] = field(default_factory=list)
    seconds: Dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="module")
def pair(lab_image: lab.Image):
    a, b = lab.Server(lab_image), lab.Server(lab_image)
    try:
        for srv in (a, b):
            srv.boot()
            srv.attach_debs()
            lab.track_module_server(srv)
        answers = mwlab.answers_for(a.ip)
        result: Dict[str, object] = {}

        def do_apply() -> None:
            t0 = time.monotonic()
            try:
                a.install_wheels()
                a.path("/root/answers.yaml").write_text(answers)
                r = a.run("mailwizard apply --answers /root/answers.yaml --yes 2>&1",
                          check=False, timeout=1200)
                result["apply"] = (r.returncode, r.stdout)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                result["apply"] = (-1, repr(exc))
            result["apply_s"] = time.monotonic() - t0

        th = threading.Thread(target=do_apply, daemon=True)
        th.start()
        t0 = time.monotonic()
        md = runbook_for(answers)
        b.path("/root/runbook.md").write_text(md)
        ran: List[Tuple[str, int, str]] = []
        for label, body in runnable_blocks(md):
            r = b.run("set -e\n" + body, check=False, timeout=900)
            ran.append((label, r.returncode, r.stdout + r.stderr))
            if r.returncode != 0:
                break
        runbook_s = time.monotonic() - t0
        th.join(timeout=1300)
        rc, out = result.get("apply", (-1, "apply did not finish"))  # type: ignore[misc]
        yield Pair(a, b, rc, out, md, ran,
                   {"apply": float(result.get("apply_s", 0.0)),  # type: ignore[arg-type]
                    "runbook": runbook_s})
    finally:
        a.halt()
        b.halt()


def test_apply_and_runbook_both_succeed(pair: Pair):
    assert pair.apply_rc == 0, pair.apply_out[-5000:]
    failed = [(label, rc, out[-3000:]) for label, rc, out in pair.ran if rc != 0]
    assert not failed, failed
    n = len(runnable_blocks(pair.runbook))
    assert len(pair.ran) == n
    print(f"apply on A: {pair.seconds['apply']:.1f} s (with install_wheels); "
          f"{n} runbook blocks on B: {pair.seconds['runbook']:.1f} s")


def _mask_shadow(text: str) -> str:
    out = []
    for line in text.splitlines():
        f = line.split(":")
        if len(f) > 2 and f[1].startswith("$"):
            f[1] = "<salted hash>"
        out.append(":".join(f))
    return "\n".join(out)


def _db_dump(srv: lab.Server, path: str) -> List[str]:
    src = path[:-3]
    tool = "postalias" if src == "/etc/aliases" else "postmap"
    r = srv.run(f"{tool} -s hash:{src}")
    return sorted(line for line in r.stdout.splitlines()
                  if not line.startswith("YP_LAST_MODIFIED"))


def test_same_etc_as_apply(pair: Pair):
    if pair.apply_rc != 0 or any(rc for _, rc, _ in pair.ran):
        pytest.skip("apply or the runbook failed (see the test above)")
    ma = mwlab.manifest(pair.a.path("/"))
    mb = mwlab.manifest(pair.b.path("/"))
    problems: List[str] = []
    explained: List[str] = []
    for path in sorted(set(ma) | set(mb)):
        ea, eb = ma.get(path), mb.get(path)
        if ea == eb:
            continue
        if ea is None or eb is None or ea[:-1] != eb[:-1] or ea[0] != "file":
            problems.append(f"{path}: A {ea} | B {eb}")       # missing, type, mode or owner
        elif path in RANDOM or DKIM_KEYS.fullmatch(path):
            explained.append(f"{path}: random bytes")
        elif path in SALTED:
            ta = _mask_shadow(pair.a.path(path).read_text())
            tb = _mask_shadow(pair.b.path(path).read_text())
            if ta != tb:
                problems.append(f"{path}: differs beyond the password hashes")
            else:
                explained.append(f"{path}: salted hashes only")
        elif path == LAB_HOSTS:
            ta = pair.a.path(path).read_text().replace(pair.a.ip, "SERVER_IP")
            tb = pair.b.path(path).read_text().replace(pair.b.ip, "SERVER_IP")
            if ta != tb:
                problems.append(f"{path}: differs beyond the server's own address")
            else:
                explained.append(f"{path}: the lab server's own address only")
        elif path.endswith(".db"):
            da, db = _db_dump(pair.a, path), _db_dump(pair.b, path)
            if da != db:
                problems.append(f"{path}: content A {da} | B {db}")
            else:
                explained.append(f"{path}: same entries")
        else:
            problems.append(f"{path}: content differs")
    print("explained differences:\n  " + "\n  ".join(explained))
    assert not problems, "\n".join(problems)
    assert {KEY, CERT} <= set(ma) and {KEY, CERT} <= set(mb)
    assert any(DKIM_KEYS.fullmatch(k) for k in ma) and any(DKIM_KEYS.fullmatch(k) for k in mb)


def test_runbook_server_works_like_apply(pair: Pair):
    if any(rc for _, rc, _ in pair.ran):
        pytest.skip("the runbook failed (see the first test)")
    box = Mailbox(pair.b.ip, str(pair.b.path(CERT)), pair.b.host_ip, pair.b.host_ip2)
    deadline = time.monotonic() + 20
    while True:
        try:
            with box.smtp(25) as s:
                s.ehlo()
                assert "starttls" in s.esmtp_features
                box.starttls(s)                 # verifies the certificate and host name
                assert s.sock.version() in ("TLSv1.2", "TLSv1.3")  # type: ignore[union-attr]
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    r = host_run(["swaks", "--server", box.ip, "--port", "25", "--ehlo", "client.example.org",
                  "--from", "spammer@elsewhere.invalid", "--to", "victim@external.invalid",
                  "--quit-after", "RCPT"])
    assert "554 5.7.1" in r.stdout and "Relay access denied" in r.stdout, r.stdout
