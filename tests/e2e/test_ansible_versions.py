"""The exported role with the ansible-core releases that need a newer Python than the test
venv's: the newest PyPI serves, and the oldest one still supported.

ansible-core 2.20 and later run only on Python 3.12+ on the control node, and the project's
venv is Python 3.11 (Debian 12), where pip's newest is 2.19. So this module installs each
release from PyPI into a cached directory (``pip install --target`` for CPython 3.13, binary
wheels only) and runs it on the Python 3.13 of a fresh Debian 13 lab server, as the control
node of that same server (``ansible_connection=local``): ``--version`` names the release,
``--syntax-check`` passes, and ``--check --diff`` of the role exported for debian13 lists the
changes (packages, files, main.cf settings) without failing and without changing anything.

The 3-server lab run over SSH (tests/e2e/test_ansible.py) uses the ansible-core of the venv.
When the oldest supported release moves on (2.20 reaches its end of life in May 2027), move
``OLDEST`` with it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import lab
import mwlab
import pytest
import yaml

from wizard.cli import main as mailwizard_main

NEWEST = "ansible-core"                 # what PyPI serves today for CPython 3.13
OLDEST = "ansible-core>=2.20,<2.21"     # the oldest release series still supported
CACHE_DAYS = 7                          # the "newest" tree is fetched again after this

pytestmark = [pytest.mark.e2e]


def core_tree(spec: str) -> Path:
    """``spec`` installed for CPython 3.13 under the lab cache (fetched from PyPI once)."""
    key = hashlib.sha256(spec.encode()).hexdigest()[:12]
    root = lab.CACHE_ROOT / "ansible-core" / key
    stamp = root / ".complete"
    if stamp.exists() and (spec != NEWEST
                           or time.time() - stamp.stat().st_mtime < CACHE_DAYS * 86400):
        return root
    tmp = root.with_name(f".{key}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "--target", str(tmp), "--only-binary=:all:", "--python-version", "3.13",
         "--implementation", "cp", "--abi", "cp313", "--platform", "manylinux_2_28_x86_64",
         "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64", spec],
        capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.skip(f"cannot fetch {spec} from PyPI: {r.stderr.strip()[-500:]}")
    (tmp / ".complete").write_text(spec + "\n")
    shutil.rmtree(root, ignore_errors=True)
    os.replace(tmp, root)
    return root


@pytest.fixture(scope="module")
def control(trixie_image: lab.Image, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[lab.Server]:
    """A fresh Debian 13 server holding the role exported for debian13."""
    work = tmp_path_factory.mktemp("ansible-versions")
    data = yaml.safe_load(mwlab.answers_for("192.0.2.1"))
    data["certificate"]["extra_names"] = []
    answers = work / "answers.yaml"
    answers.write_text(yaml.safe_dump(data, sort_keys=False))
    out = work / "export"
    assert mailwizard_main(["export", "ansible", "-o", str(out), "--answers", str(answers),
                            "--platform", "debian13"]) == 0
    (out / "inventory.yml").write_text(yaml.safe_dump({"mail": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3",
        "mailwizard_hostname": mwlab.HOSTNAME}}}}))
    (out / "group_vars/mail/vault.yml").write_text(
        yaml.safe_dump({"vault_mailwizard_passwords": dict(mwlab.USERS)}))
    srv = lab.track_module_server(lab.Server(trixie_image), __file__)
    try:
        srv.boot()
        shutil.copytree(out, srv.path("/root/export"))
        yield srv
    finally:
        srv.halt()


@pytest.mark.parametrize("spec", [NEWEST, OLDEST], ids=["newest", "oldest-supported"])
def test_release_checks_the_role_on_debian13(control: lab.Server, spec: str) -> None:
    tree = core_tree(spec)
    inside = f"/opt/{tree.name}"  # one read-only bind per release (gone with the server)
    control._bind_ro(tree, inside)
    run = (f"cd /root/export && PYTHONPATH={inside} ANSIBLE_NOCOLOR=1 "
           "ANSIBLE_LOCAL_TEMP=/tmp/ansible-local ANSIBLE_HOME=/tmp/ansible-home "
           f"python3 {inside}/bin/ansible-playbook ")
    ver = control.run(run + "--version", timeout=300).stdout
    found = re.search(r"core (\d+\.\d+\.\d+)", ver)
    assert found, ver
    dist = [p.name for p in tree.glob("ansible_core-*.dist-info")]
    assert dist == [f"ansible_core-{found.group(1)}.dist-info"], (dist, ver)
    py = re.search(r"python version = (\S+)", ver)
    assert py and py.group(1).startswith("3.13"), ver  # Debian 13's Python, not the venv's
    print(f"{spec}: ansible-core {found.group(1)} on Python {py.group(1)}")
    r = control.run(run + "-i inventory.yml site.yml --syntax-check 2>&1", check=False,
                    timeout=300)
    assert r.returncode == 0, r.stdout[-4000:]
    r = control.run(run + "-i inventory.yml site.yml --check --diff "
                    "-e ansible_become=false 2>&1", check=False, timeout=900)
    assert r.returncode == 0, r.stdout[-8000:]
    recap = re.search(r"^localhost\s+:\s+ok=(\d+)\s+changed=(\d+).*failed=(\d+)",
                      r.stdout, re.M)
    assert recap and int(recap.group(2)) > 20 and recap.group(3) == "0", r.stdout[-4000:]
    assert "main.cf smtpd_tls_auth_only" in r.stdout and "+++ after" in r.stdout
    # check mode changed nothing: no mail package, no main.cf
    assert not control.path("/etc/postfix/main.cf").exists()
    assert control.run("dpkg-query -W postfix", check=False).returncode != 0
