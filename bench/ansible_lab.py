"""Benchmark: three lab servers by one ``ansible-playbook`` run, beside three ``mailwizard
apply`` runs one after the other (needs root and ansible-core; see tests/e2e/README.md).

Boots fresh Debian 12 lab servers with systemd, exports the role for the lab answers
(``mailwizard export ansible``), and times one ``ansible-playbook`` run over SSH that
configures all of them (and the converged second run); then boots as many fresh servers
again and times ``mailwizard apply --yes`` on each, one after the other.

    sudo MAILWIZARD_ANSIBLE_PLAYBOOK=/path/to/ansible-playbook python bench/ansible_lab.py [N]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests" / "e2e"))

import lab  # noqa: E402
import test_ansible as ta  # noqa: E402
import yaml  # noqa: E402

from wizard.cli import main as mailwizard_main  # noqa: E402


def boot(image: lab.Image, n: int) -> List[lab.Server]:
    servers = []
    for _ in range(n):
        srv = lab.Server(image, systemd=True)
        servers.append(srv)
        srv.boot()
        srv.attach_debs()
    return servers


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    reason = lab.missing_requirements() or lab.systemd_unavailable()
    if reason or ta.PLAYBOOK is None:
        raise SystemExit(f"cannot run here: {reason or 'no ansible-playbook'}")
    image = lab.ensure_image()
    version = subprocess.run([ta.PLAYBOOK, "--version"], capture_output=True, text=True,
                             timeout=120).stdout.splitlines()[0]
    print(f"{version}; {n} Debian 12 lab servers (systemd), SSH with pipelining, forks 5")
    work = Path(tempfile.mkdtemp(prefix="mw-ansible-bench-"))
    key = work / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                   check=True, capture_output=True, timeout=30)
    answers = work / "answers.yaml"
    answers.write_text(yaml.safe_dump(ta.lab_answers(), sort_keys=False))
    out = work / "export"
    assert mailwizard_main(["export", "ansible", "-o", str(out), "--answers", str(answers),
                            "--platform", "debian12"]) == 0
    servers = boot(image, n)
    try:
        for srv in servers:
            ta.start_sshd(srv, (work / "id_ed25519.pub").read_text())
        hosts = {f"lab{i + 1}": {"ansible_host": s.ip, "ansible_user": "root",
                                 "ansible_ssh_private_key_file": str(key),
                                 "mailwizard_hostname": ta.host_name(i)}
                 for i, s in enumerate(servers)}
        (out / "inventory.yml").write_text(yaml.safe_dump({"mail": {"hosts": hosts}}))
        (work / "vault-pass").write_text(ta.VAULT_PASS + "\n")
        (out / "group_vars/mail/vault.yml").write_text(
            yaml.safe_dump({"vault_mailwizard_passwords": dict(ta.mwlab.USERS)}))
        fleet = ta.Fleet(servers, out, work)
        for label in ("ansible-playbook, fresh servers", "ansible-playbook, converged"):
            t0 = time.monotonic()
            r = fleet.play()
            print(f"{label:34} {time.monotonic() - t0:7.1f} s  exit {r.returncode}  "
                  f"{ta.recap(r.stdout)}")
    finally:
        for srv in servers:
            srv.halt()
    total = 0.0
    for i in range(n):
        with lab.Server(image, systemd=True) as srv:
            srv.attach_debs()
            srv.install_wheels()
            srv.path("/root/answers.yaml").write_text(yaml.safe_dump(ta.lab_answers()))
            t0 = time.monotonic()
            r = srv.run("mailwizard apply --answers /root/answers.yaml --yes >/dev/null 2>&1",
                        check=False, timeout=1800)
            took = time.monotonic() - t0
            total += took
            print(f"mailwizard apply, server {i + 1}:{'':15} {took:7.1f} s  exit "
                  f"{r.returncode}")
    print(f"mailwizard apply, {n} one after the other: {total:7.1f} s")


if __name__ == "__main__":
    main()
