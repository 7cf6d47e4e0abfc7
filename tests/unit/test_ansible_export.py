"""`mailwizard export ansible`: the role's structure, secrets kept out, values quoted safely."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import jinja2
import pytest
import yaml

from wizard.ansible.text import dump_yaml, jinja_value
from wizard.cli import main

USER_PW = "Alice-S3cret-pw!"
RELAY_PW = "Relay-S3cret-xyz"


def demo_data() -> dict:
    here = Path(__file__).resolve().parents[2] / "wizard" / "demo" / "answers.yaml"
    return yaml.safe_load(here.read_text())


def export(tmp_path: Path, data: dict, *platforms: str) -> Path:
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    argv = ["export", "ansible", "-o", str(out), "--answers", str(answers)]
    for p in platforms:
        argv += ["--platform", p]
    assert main(argv) == 0
    return out


def files_of(out: Path) -> Dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def tasks_of(out: Path, name: str) -> List[dict]:
    data = yaml.safe_load((out / "roles/mailwizard/tasks" / name).read_text())
    assert isinstance(data, list)
    return data


def module_of(task: dict) -> str:
    mods = [k for k in task if k.startswith("ansible.")]
    assert len(mods) == 1, task
    return mods[0]


def test_two_platforms_one_role(tmp_path: Path) -> None:
    out = export(tmp_path, demo_data(), "debian12", "rocky9")
    names = files_of(out)
    for must in ("site.yml", "inventory.example.yml", "group_vars/mail/main.yml",
                 "README.md", "roles/mailwizard/tasks/main.yml",
                 "roles/mailwizard/tasks/debian12.yml", "roles/mailwizard/tasks/rocky9.yml",
                 "roles/mailwizard/tasks/checks.yml", "roles/mailwizard/handlers/main.yml"):
        assert must in names, must
    main_tasks = tasks_of(out, "main.yml")
    includes = [t for t in main_tasks if module_of(t) == "ansible.builtin.include_tasks"]
    assert [t["ansible.builtin.include_tasks"] for t in includes] == ["debian12.yml",
                                                                       "rocky9.yml"]
    assert "'Debian'" in includes[0]["when"] and "'12'" in includes[0]["when"]
    assert "'Rocky'" in includes[1]["when"] and "'9'" in includes[1]["when"]
    for pid, pkg, manager_pkg in (("debian12", "dovecot-imapd", "exim4-daemon-light"),
                                  ("rocky9", "dovecot", "sendmail")):
        tasks = tasks_of(out, f"{pid}.yml")
        for t in tasks:  # builtins only
            assert module_of(t).startswith("ansible.builtin."), t
        if pid == "debian12":  # apt-get behind a dpkg-query probe (no python3-apt needed)
            probes = [t for t in tasks if module_of(t) == "ansible.builtin.command"
                      and t["ansible.builtin.command"]["argv"][0] == "dpkg-query"]
            assert pkg in probes[0]["loop"] and manager_pkg in probes[1]["loop"]
            runs = [t["ansible.builtin.command"]["argv"] for t in tasks
                    if module_of(t) == "ansible.builtin.command"
                    and isinstance(t["ansible.builtin.command"]["argv"], str)]
            assert any("'apt-get', 'install'" in a for a in runs)
            assert any("'apt-get', 'remove'" in a for a in runs)
        else:
            pkgs = [t[module_of(t)] for t in tasks if module_of(t) == "ansible.builtin.package"]
            assert any(pkg in p["name"] and p["state"] == "present" for p in pkgs)
            assert any(manager_pkg in p["name"] and p["state"] == "absent" for p in pkgs)
        # main.cf as key/value edits: one `postconf -n` read (explicit values only), one
        # `postconf -e` of the "NAME = value" lines missing from it, none when all are there
        sets = [t for t in tasks if module_of(t) == "ansible.builtin.command"
                and "['postconf', '-e'] + " in str(t["ansible.builtin.command"]["argv"])]
        assert sets
        want = {}
        for t in sets:
            (name, lines), = t["vars"].items()
            probe = name[:-len("_want")]
            assert f"reject('in', {probe}.stdout_lines)" in t["ansible.builtin.command"]["argv"]
            assert t["when"].endswith("| length > 0")
            assert all(x["line"] == f"{x['name']} = {x['value']}".rstrip() for x in lines)
            want[id(t)] = {x["name"] for x in lines}
        assert ["postconf", "-n"] in [t[module_of(t)].get("argv") for t in tasks]
        listen = [t for t in sets if want[id(t)] & {"inet_interfaces", "inet_protocols"}]
        assert all(want[id(t)] <= {"inet_interfaces", "inet_protocols"} for t in listen)
        assert listen and all(t["notify"] == ["mailwizard: restart postfix"] for t in listen)
        assert all(t["notify"] == ["mailwizard: reload postfix"] for t in sets
                   if t not in listen)
        # whole files with backup, mode from the plan, handlers on change
        copies = [t for t in tasks if module_of(t) in ("ansible.builtin.copy",
                                                       "ansible.builtin.template")]
        assert copies and all(t[module_of(t)]["backup"] is True for t in copies)
        virtual = [t for t in copies if t[module_of(t)]["dest"] == "/etc/postfix/virtual"]
        assert virtual and virtual[0][module_of(virtual[0])]["mode"] == "0644"
        dkim = [t for t in copies if t[module_of(t)]["dest"] == "/etc/opendkim.conf"][0]
        assert dkim[module_of(dkim)]["validate"] == "opendkim -n -x %s"
        assert "mailwizard: restart opendkim" in dkim["notify"]
        # postmap runs when its source changed or its output is missing
        postmap = [t for t in tasks if module_of(t) == "ansible.builtin.command"
                   and t["ansible.builtin.command"]["argv"][0] == "postmap"]
        assert postmap and all("is changed" in t["when"][0] and "stat.exists" in t["when"][0]
                               for t in postmap)
        # keys made on the host, once
        keys = [t for t in tasks if module_of(t) == "ansible.builtin.shell"]
        assert any("openssl genpkey" in t["ansible.builtin.shell"]["cmd"] for t in keys)
        assert all(t["ansible.builtin.shell"].get("creates") for t in keys)
        # validation before the services; the services themselves
        argvs = [t[module_of(t)].get("argv") for t in tasks]
        assert ["postfix", "check"] in argvs and ["doveconf", "-n"] in argvs
        svc = [t["ansible.builtin.service"]["name"] for t in tasks
               if module_of(t) == "ansible.builtin.service"]
        assert svc == ["opendkim", "postfix", "dovecot"]
        # a file the plan edits twice (master.cf: submission, then the SPF policy) gets the
        # plan's final bytes at each write, so a second run does not flip it back and forth
        masters = [t for t in copies if t[module_of(t)]["dest"] == "/etc/postfix/master.cf"]
        assert len(masters) == 2 and len({t[module_of(t)]["src"] for t in masters}) == 1
    assert not [n for n in names if re.search(r"\.\d+$", n)], names
    handlers = yaml.safe_load((out / "roles/mailwizard/handlers/main.yml").read_text())
    assert [(h["name"], h["ansible.builtin.service"]["state"]) for h in handlers] == [
        ("mailwizard: restart opendkim", "restarted"),
        ("mailwizard: restart postfix", "restarted"),  # inet_*: a reload keeps old sockets
        ("mailwizard: reload postfix", "reloaded"), ("mailwizard: reload dovecot", "reloaded")]
    checks = yaml.safe_load((out / "roles/mailwizard/tasks/checks.yml").read_text())
    assert any(module_of(t) == "ansible.builtin.assert" for t in checks)
    # the host name is a host variable everywhere in the role
    for name, data in names.items():
        if name.startswith("roles/"):
            assert b"mail.example.com" not in data, name
    ssl = (out / "roles/mailwizard/templates/debian12/etc/dovecot/conf.d/10-ssl.conf.j2")
    assert "/etc/ssl/certs/{{ mailwizard_hostname }}.crt" in ssl.read_text()


def test_secrets_are_vault_variables_only(tmp_path: Path) -> None:
    data = demo_data()
    data["users"] = [{"name": "alice", "create": True, "password": USER_PW},
                     {"name": "bob", "create": True}]
    data["relayhost"] = "[smtp.provider.example]:587"
    data["relay_user"] = "office"
    data["relay_password"] = RELAY_PW
    out = export(tmp_path, data, "debian12", "rocky9")
    everything = files_of(out)
    for name, blob in everything.items():
        assert USER_PW.encode() not in blob, name
        assert RELAY_PW.encode() not in blob, name
    vault = yaml.safe_load(everything["group_vars/mail/vault.yml.example"])
    assert vault["vault_mailwizard_passwords"] == {"alice": "CHANGE_ME"}
    assert "vault_mailwizard_relay_password" in vault
    tasks = tasks_of(out, "debian12.yml")
    users = [t for t in tasks if module_of(t) == "ansible.builtin.user"]
    alice = [t for t in users if t["ansible.builtin.user"]["name"] == "alice"][0]
    assert "password" not in alice["ansible.builtin.user"]  # no hash made on the controller
    # chpasswd on the host, only when the account was just created (as apply does)
    chpw = [t for t in tasks if module_of(t) == "ansible.builtin.command"
            and t["ansible.builtin.command"]["argv"] == ["chpasswd"]]
    assert [t["ansible.builtin.command"]["stdin"] for t in chpw] == [
        "alice:{{ vault_mailwizard_passwords['alice'] }}"]
    assert chpw[0]["when"] == f"{alice['register']} is changed" and chpw[0]["no_log"] is True
    secret = [t for t in tasks if module_of(t) == "ansible.builtin.template"
              and t["ansible.builtin.template"]["dest"] == "/etc/postfix/sasl_passwd"][0]
    assert secret["no_log"] is True and secret["diff"] is False
    src = out / "roles/mailwizard/templates" / secret["ansible.builtin.template"]["src"]
    assert "{{ vault_mailwizard_relay_password }}" in src.read_text()


HOSTILE = [
    "{{ lookup('pipe', 'id') }}",
    "{% for x in y %}x{% endfor %}",
    "{# comment #} and {",
    "a: b\n- c: [d, {e: f}]\n'\"",
    "mail.example.com{{",
    "{mail.example.com}",
    "${data_directory}/smtpd_scache",
    "#!/bin/sh\n\t`id` $(id) ; rm -rf /\n",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_values_render_to_themselves(text: str) -> None:
    env = jinja2.Environment(trim_blocks=True, keep_trailing_newline=True)
    subst = [("mail.example.com", "{{ mailwizard_hostname }}")]
    rendered = env.from_string(jinja_value(text, subst)).render(
        mailwizard_hostname="mx2.example.org")
    assert rendered == text.replace("mail.example.com", "mx2.example.org")
    doc = dump_yaml({"value": jinja_value(text, subst), "list": [text]})
    assert yaml.safe_load(doc) == {"value": jinja_value(text, subst), "list": [text]}


def test_hostile_answers_stay_data(tmp_path: Path) -> None:
    data = demo_data()
    data["restrictions"]["sender_access"]["x@evil.example"] = (
        "REJECT {{ lookup('pipe','id') }} {% raw %} {#")
    out = export(tmp_path, data, "debian12")
    for name, blob in files_of(out).items():
        text = blob.decode()
        if name.endswith(".yml"):
            yaml.safe_load(text)
        assert "{{ lookup" not in text and "{% raw" not in text, name
    access = (out / "roles/mailwizard/templates/debian12/etc/postfix/sender_access.j2")
    env = jinja2.Environment(trim_blocks=True, keep_trailing_newline=True)
    assert "REJECT {{ lookup('pipe','id') }} {% raw %} {#" in env.from_string(
        access.read_text()).render()


def ansible_playbook() -> Optional[str]:
    try:
        import ansible  # noqa: F401
    except ImportError:
        return None
    sibling = Path(sys.executable).with_name("ansible-playbook")
    return str(sibling) if sibling.exists() else shutil.which("ansible-playbook")


def playbook_command() -> Optional[str]:
    """ansible-playbook of this venv, else $MAILWIZARD_ANSIBLE_PLAYBOOK (another venv's)."""
    return ansible_playbook() or os.environ.get("MAILWIZARD_ANSIBLE_PLAYBOOK") or None


def test_syntax_check(tmp_path: Path) -> None:
    exe = playbook_command()
    if exe is None:
        pytest.skip("ansible-core is not installed (pip install -e '.[test]')")
    out = export(tmp_path, demo_data(), "debian12", "rocky9")
    res = subprocess.run([exe, "--syntax-check", "-i", "inventory.example.yml", "site.yml"],
                         cwd=out, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr


def test_export_needs_its_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "ansible", "--answers", "demo", "--platform", "debian12"]) == 2
    assert main(["export", "--answers", "demo", "-o", str(tmp_path / "x"),
                 "--platform", "debian12"]) == 2
    assert main(["export", "ansible", "--answers", "demo", "-o", str(tmp_path / "x")]) == 2
    assert main(["plan", "--platform", "debian12", "--platform", "rocky9",
                 "--answers", "demo"]) == 2
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("key_type,words", [
    ("rsa2048", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048"),
    ("rsa4096", "-algorithm RSA -pkeyopt rsa_keygen_bits:4096"),
    ("ecdsa-p256", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256"),
    ("ecdsa-p384", "-algorithm EC -pkeyopt ec_paramgen_curve:P-384"),
])
def test_keys_of_every_type(tmp_path: Path, key_type: str, words: str) -> None:
    data = demo_data()
    data["certificate"]["key_type"] = key_type
    out = export(tmp_path, data, "debian12")
    shells = [t["ansible.builtin.shell"]["cmd"] for t in tasks_of(out, "debian12.yml")
              if module_of(t) == "ansible.builtin.shell"]
    tls_key = [c for c in shells if "/etc/ssl/private/" in c and "genpkey" in c]
    assert tls_key and words in tls_key[0], shells
    dkim_key = [c for c in shells if "/etc/opendkim/keys/" in c]
    assert dkim_key and "rsa_keygen_bits:2048" in dkim_key[0], shells
    cert = [c for c in shells if "openssl req" in c]
    assert cert and "/CN={{ mailwizard_hostname }}" in cert[0], cert


HOST_NAMES = [  # (value, accepted by the whole assert, accepted by the `match` test alone)
    ("mail.example.com", True, True),
    ("mx-2.mail.example.org", True, True),
    ("mail.example.com\n", False, False),  # the newline a bare $ would let through
    ("mail.example.com\nrelayhost = evil", False, False),
    ("mail", False, False),
    ("-mail.example.com", False, False),
    ("mail..example.com", False, False),
    ("mail.example.com;id", False, False),
    ("m\u00e4il.example.com", False, False),
]


def test_host_name_assert_in_ansible(tmp_path: Path) -> None:
    """The role's first task, run by ansible-playbook itself (localhost, nothing changed):
    valid names pass, every hostile one fails, and the pattern alone refuses a trailing
    newline (it ends in \\Z, not $)."""
    exe = playbook_command()
    if exe is None:
        pytest.skip("ansible-core is not installed (pip install -e '.[test]')")
    out = export(tmp_path, demo_data(), "debian12")
    first = tasks_of(out, "main.yml")[0]
    conditions = first["ansible.builtin.assert"]["that"]
    match = next(c for c in conditions if " is match(" in c)
    tasks: List[dict] = []
    expect = []
    for i, (name, whole, alone) in enumerate(HOST_NAMES):
        for tag, that, ok in (("w", conditions, whole), ("m", [match], alone)):
            tasks.append({"name": f"{tag}{i}", "vars": {"mailwizard_hostname": name},
                          "ansible.builtin.assert": {"that": that}, "ignore_errors": True,
                          "register": f"{tag}{i}"})
            expect.append(f"{tag}{i} is {'succeeded' if ok else 'failed'}")
    tasks.append({"name": "verdict", "ansible.builtin.assert": {"that": expect}})
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
             "tasks": tasks}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    env = {**os.environ, "ANSIBLE_LOCALHOST_WARNING": "false",
           "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"), "HOME": str(tmp_path)}
    res = subprocess.run([exe, "-i", "localhost,", "play.yml"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "TASK [verdict]" in res.stdout
