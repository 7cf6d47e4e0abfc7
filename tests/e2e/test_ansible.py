"""`mailwizard export ansible` in the lab: one ansible-playbook run configures the servers.

Scenario: an MSP exports the role for Debian 12 from the lab answers and runs it with the
ansible-core of the test venv over SSH against fresh lab servers (systemd, offline repo),
with the users' passwords in an ansible-vault file. First ``--check --diff`` on the fresh
servers lists the changes and changes nothing; then the real run configures all of them at
once; on each the client probes pass (25 STARTTLS and no AUTH, 587 AUTH after STARTTLS with
the vault password, IMAPS login, relay refused); ``postconf -n`` and ``doveconf -n`` equal
those of a server configured by ``mailwizard apply`` with the same answers (the host name
aside); the second run reports changed=0 on every host.
"""

from __future__ import annotations

import imaplib
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import lab
import mwlab
import pytest
import yaml

from wizard.cli import main as mailwizard_main

N_SERVERS = int(os.environ.get("MW_ANSIBLE_SERVERS", "3"))
VAULT_PASS = "lab-vault-pass"


def playbook_command() -> Optional[str]:
    try:
        import ansible  # noqa: F401
        sibling = Path(sys.executable).with_name("ansible-playbook")
        if sibling.exists():
            return str(sibling)
    except ImportError:
        pass
    return os.environ.get("MAILWIZARD_ANSIBLE_PLAYBOOK") or shutil.which("ansible-playbook")


PLAYBOOK = playbook_command()

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not (shutil.which("ssh") and shutil.which("ssh-keygen")),
                       reason="needs ssh and ssh-keygen on the host"),
    pytest.mark.skipif(PLAYBOOK is None, reason="needs ansible-core (pip install -e '.[test]')"),
]


def host_name(i: int) -> str:
    return mwlab.HOSTNAME if i == 0 else f"mail{i + 1}.{mwlab.DOMAIN}"


def lab_answers() -> dict:
    """The lab answers without the server's address among the certificate names (an
    address is per host; the host name is the host variable)."""
    data = yaml.safe_load(mwlab.answers_for("192.0.2.1"))
    data["certificate"]["extra_names"] = []
    return data


def start_sshd(srv: lab.Server, pubkey: str) -> None:
    if srv.run("test -x /usr/sbin/sshd", check=False).returncode != 0:
        srv.run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                 "openssh-server"], env={"DEBIAN_FRONTEND": "noninteractive"}, timeout=600)
    srv.run("set -e; install -d -m 700 /root/.ssh; cat > /root/.ssh/authorized_keys; "
            "chmod 600 /root/.ssh/authorized_keys; mkdir -p /run/sshd", input=pubkey)
    srv.run("systemctl start ssh >/dev/null 2>&1 || /usr/sbin/sshd -o "
            "PermitRootLogin=prohibit-password -o PasswordAuthentication=no "
            "</dev/null >/dev/null 2>&1", timeout=120)


class Fleet:
    def __init__(self, servers: List[lab.Server], out: Path, workdir: Path) -> None:
        self.servers = servers
        self.out = out
        self.workdir = workdir
        self.env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "False",
                    "ANSIBLE_HOME": str(workdir / "ansible-home"),
                    "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-tmp"),
                    "ANSIBLE_FORKS": "5", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_PIPELINING": "True",
                    "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
                    "ANSIBLE_SSH_ARGS": "-F /dev/null -o ControlMaster=auto "
                                        "-o ControlPersist=120s -o UserKnownHostsFile=/dev/null"}

    def play(self, *extra: str, timeout: float = 2400) -> subprocess.CompletedProcess:
        assert PLAYBOOK is not None
        t0 = time.monotonic()
        r = subprocess.run([PLAYBOOK, "-i", "inventory.yml", "site.yml",
                            "--vault-password-file", str(self.workdir / "vault-pass"),
                            *extra], cwd=self.out, env=self.env, capture_output=True,
                           text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        lab._record(f"ansible-playbook {' '.join(extra) or 'run'} ({len(self.servers)} "
                    "servers)", time.monotonic() - t0)
        return r


def recap(out: str) -> Dict[str, Dict[str, int]]:
    res = {}
    for m in re.finditer(r"^(\S+)\s+:\s+(ok=.*)$", out, re.M):
        res[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return res


@pytest.fixture(scope="module")
def fleet(lab_image: lab.Image, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    reason = lab.systemd_unavailable()
    if reason:
        pytest.skip(f"systemd variant: {reason}")
    work = tmp_path_factory.mktemp("ansible")
    key = work / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mw-ansible",
                    "-f", str(key)], check=True, capture_output=True, timeout=30)
    answers = work / "answers.yaml"
    answers.write_text(yaml.safe_dump(lab_answers(), sort_keys=False))
    out = work / "export"
    assert mailwizard_main(["export", "ansible", "-o", str(out), "--answers", str(answers),
                            "--platform", "debian12"]) == 0
    servers: List[lab.Server] = []
    try:
        for _ in range(N_SERVERS):
            srv = lab.track_module_server(lab.Server(lab_image, systemd=True), __file__)
            servers.append(srv)
            srv.boot()
            srv.attach_debs()
            start_sshd(srv, (work / "id_ed25519.pub").read_text())
        hosts = {f"lab{i + 1}": {
            "ansible_host": srv.ip, "ansible_user": "root",
            "ansible_ssh_private_key_file": str(key), "mailwizard_hostname": host_name(i)}
            for i, srv in enumerate(servers)}
        (out / "inventory.yml").write_text(yaml.safe_dump({"mail": {"hosts": hosts}}))
        (work / "vault-pass").write_text(VAULT_PASS + "\n")
        vault = out / "group_vars/mail/vault.yml"
        vault.write_text(yaml.safe_dump({"vault_mailwizard_passwords": dict(mwlab.USERS)}))
        vault_cmd = Path(PLAYBOOK).with_name("ansible-vault")
        subprocess.run([str(vault_cmd), "encrypt", "--vault-password-file",
                        str(work / "vault-pass"), str(vault)], check=True,
                       capture_output=True, timeout=120)
        yield Fleet(servers, out, work)
    finally:
        for srv in servers:
            srv.halt()


@pytest.fixture(scope="module")
def reference(request: pytest.FixtureRequest) -> Iterator[lab.Server]:
    """A server configured by `mailwizard apply` with the same answers."""
    with mwlab.lab_server(request) as srv:
        srv.install_wheels()
        srv.path("/root/answers.yaml").write_text(yaml.safe_dump(lab_answers()))
        r = srv.run("mailwizard apply --answers /root/answers.yaml --yes 2>&1", check=False,
                    timeout=1200)
        assert r.returncode == 0, r.stdout[-6000:]
        yield srv


@pytest.fixture(scope="module")
def runs(fleet: Fleet) -> Dict[str, subprocess.CompletedProcess]:
    """check mode on the fresh servers, then the real run, then the second run."""
    out = {"check": fleet.play("--check", "--diff")}
    out["first"] = fleet.play()
    out["second"] = fleet.play()
    return out


def test_check_mode_on_fresh_servers_lists_the_changes(fleet: Fleet, runs) -> None:
    r = runs["check"]
    assert r.returncode == 0, (r.stdout + r.stderr)[-8000:]
    rc = recap(r.stdout)
    assert len(rc) == N_SERVERS and all(v["changed"] > 20 and v["failed"] == 0
                                        for v in rc.values()), rc
    # diffs of whole files and the main.cf settings that would change
    assert "+++ after: /etc/postfix/virtual" in r.stdout or \
        "+++ after" in r.stdout, r.stdout[-4000:]
    assert "main.cf smtpd_tls_auth_only" in r.stdout, r.stdout[-4000:]
    assert "sender_logins" in r.stdout


def service_state(srv: lab.Server) -> str:
    """What systemd and the mail log say about the daemons (for a failure's message)."""
    r = srv.run("systemctl --no-pager --lines=15 status postfix postfix@- dovecot 2>&1; "
                "journalctl --no-pager -n 40 -u postfix@- 2>&1; postconf -n inet_protocols "
                "inet_interfaces 2>&1; ss -ltnp 2>&1 | head -20", check=False, timeout=120)
    return f"--- {srv.ip}\n{r.stdout[-5000:]}"


def test_one_run_configures_every_server_and_the_probes_pass(fleet: Fleet, runs) -> None:
    r = runs["first"]
    assert r.returncode == 0, ((r.stdout + r.stderr)[-10000:] + "\n".join(
        service_state(srv) for srv in fleet.servers))
    rc = recap(r.stdout)
    assert len(rc) == N_SERVERS and all(v["failed"] == 0 and v["unreachable"] == 0
                                        for v in rc.values()), rc
    for i, srv in enumerate(fleet.servers):
        name = host_name(i)
        box = mwlab.Mailbox(srv.ip, str(srv.path(f"/etc/ssl/certs/{name}.crt")),
                            srv.host_ip, srv.host_ip2)
        mwlab.check_starttls_and_no_auth_before_tls(box)
        mwlab.check_not_an_open_relay(box)
        ctx = ssl.create_default_context(cafile=box.cafile)
        with box.smtp(587) as s:  # AUTH after STARTTLS, the password from the vault
            s._host = name  # type: ignore[attr-defined]  # verify the host's own name
            s.starttls(context=ctx)
            s.ehlo()
            assert "auth" in s.esmtp_features
            code, _ = s.login("alice", mwlab.USERS["alice"])
            assert code == 235
        ictx = ssl.create_default_context(cafile=box.cafile)
        ictx.check_hostname = False  # the chain is verified; the name is the host's
        m = imaplib.IMAP4_SSL(srv.ip, 993, ssl_context=ictx, timeout=20)
        try:
            typ, _ = m.login("bob", mwlab.USERS["bob"])
            assert typ == "OK"
        finally:
            m.logout()


def _conf(srv: lab.Server, argv: List[str], name: str) -> List[str]:
    text = srv.run(argv, timeout=120).stdout
    return sorted(line for line in text.replace(name, "HOST").splitlines()
                  if not line.startswith("# "))


def test_same_configuration_as_mailwizard_apply(fleet: Fleet, runs,
                                                reference: lab.Server) -> None:
    assert runs["first"].returncode == 0
    want_pf = _conf(reference, ["postconf", "-n"], mwlab.HOSTNAME)
    want_dc = _conf(reference, ["doveconf", "-n"], mwlab.HOSTNAME)
    for i, srv in enumerate(fleet.servers):
        assert _conf(srv, ["postconf", "-n"], host_name(i)) == want_pf, srv.ip
        assert _conf(srv, ["doveconf", "-n"], host_name(i)) == want_dc, srv.ip


def test_second_run_changes_nothing(fleet: Fleet, runs) -> None:
    r = runs["second"]
    assert r.returncode == 0, (r.stdout + r.stderr)[-8000:]
    rc = recap(r.stdout)
    assert len(rc) == N_SERVERS, rc
    assert all(v["changed"] == 0 and v["failed"] == 0 for v in rc.values()), (
        rc, changed_tasks(r.stdout))


def changed_tasks(out: str) -> List[str]:
    """The TASK/RUNNING HANDLER lines followed by a ``changed:`` line (for a message)."""
    found, head = [], ""
    for line in out.splitlines():
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            head = line.rstrip(" *")
        elif line.startswith("changed:") and head:
            found.append(f"{head}: {line}")
    return found
