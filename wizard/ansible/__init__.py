"""``mailwizard export ansible``: the engine's plan as an Ansible role, playbook and inventory.

:mod:`.tasks` turns one platform's plan into tasks, role files and handlers; this module lays
the role out (one task file per platform, chosen by the hosts' facts), adds the checks as
assert tasks, a playbook, an inventory example and the vault variables the tasks name (never
their values). Every YAML file is written by ``yaml.safe_dump`` (:mod:`.text`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Sequence

from ..engine import Engine
from .probe import SCRIPT
from .tasks import PlatformTasks, facts_condition
from .text import HOST_VAR, ExportError, dump_yaml

__all__ = ["ExportError", "export_role"]

ROLE = "roles/mailwizard"
HOSTNAME_RE = (  # Jinja's `match` is re.match: \Z ends it (a bare $ would let a newline in)
    r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\Z")


def export_role(engines: Sequence[Engine], out_dir: Path) -> List[Path]:
    """Write the role, playbook, inventory example and README for ``engines`` (one per
    platform, all with the same answers) under ``out_dir``; returns the files written."""
    if not engines:
        raise ExportError("no platform to export")
    answers = engines[0].answers
    built: List[PlatformTasks] = []
    for eng in engines:
        pt = PlatformTasks(eng)
        pt.build()
        built.append(pt)
    files: Dict[str, bytes] = {}
    main: List[Dict[str, Any]] = [{
        "name": "mailwizard: the host variables are valid",
        "ansible.builtin.assert": {
            "that": [f"{HOST_VAR} is defined", f"{HOST_VAR} is string",
                     f"{HOST_VAR} | regex_replace('[^A-Za-z0-9.-]', '') == {HOST_VAR}",
                     f"{HOST_VAR} is match('{HOSTNAME_RE}')",
                     f"{HOST_VAR} | length <= 253"],
            "fail_msg": f"set {HOST_VAR} (the server's name) in the host's variables"}}]
    conds = []
    handlers: List[Dict[str, Any]] = []
    seen = set()
    vault: Dict[str, Any] = {}
    for pt in built:
        cond, label = facts_condition(pt.pid)
        conds.append(cond)
        main.append({"name": f"mailwizard plan for {label}",
                     "ansible.builtin.include_tasks": f"{pt.pid}.yml", "when": cond})
        files[f"{ROLE}/tasks/{pt.pid}.yml"] = dump_yaml(
            pt.tasks, f"mailwizard plan for {pt.platform.name} ({pt.pid}), in plan order."
        ).encode()
        for rel, data in pt.files.items():
            files[f"{ROLE}/{rel}"] = data
        for h in pt.handlers:
            if h["name"] not in seen:
                seen.add(h["name"])
                handlers.append(h)
        for k, val in pt.vault.items():
            if isinstance(val, dict):
                vault.setdefault(k, {}).update(val)
            else:
                vault[k] = val
    main.insert(1, {
        "name": "mailwizard: this platform was exported",
        "ansible.builtin.fail": {"msg": "no mailwizard plan for this system: export again "
                                        "with --platform for it"},
        "when": "not (" + " or ".join(f"({c})" for c in conds) + ")"})
    main += [{"name": "mailwizard: reload what changed before checking",
              "ansible.builtin.meta": "flush_handlers"},
             {"name": "mailwizard checks", "ansible.builtin.import_tasks": "checks.yml",
              "when": "not ansible_check_mode"}]
    files[f"{ROLE}/tasks/main.yml"] = dump_yaml(
        main, "Written by `mailwizard export ansible`: the same plan as `mailwizard apply`."
    ).encode()
    files[f"{ROLE}/tasks/checks.yml"] = dump_yaml(_checks(answers)).encode()
    files[f"{ROLE}/handlers/main.yml"] = dump_yaml(
        handlers, "Validation runs as a task before these; each runs only on a change."
    ).encode()
    files[f"{ROLE}/files/mailwizard_probe.py"] = SCRIPT.encode()
    files[f"{ROLE}/defaults/main.yml"] = dump_yaml(
        {"mailwizard_probe": True},
        "mailwizard_probe: run the client probes from the control node at the end.").encode()
    files["site.yml"] = dump_yaml([{"name": "mail servers (mailwizard)", "hosts": "mail",
                                    "become": True, "roles": ["mailwizard"]}]).encode()
    example = answers.hostname
    files["inventory.example.yml"] = dump_yaml(
        {"mail": {"hosts": {example: {"ansible_host": "192.0.2.10", HOST_VAR: example}}}},
        "One entry per server; each sets its own name (mailwizard_hostname).").encode()
    files["group_vars/mail/main.yml"] = dump_yaml(
        {"mailwizard_domain": answers.domain, "mailwizard_probe": True},
        "Shared by every server of the group (the role holds the rest of the answers).").encode()
    if vault:
        files["group_vars/mail/vault.yml.example"] = dump_yaml(
            vault, "Copy to vault.yml, put the real values in, then: ansible-vault encrypt "
                   "group_vars/mail/vault.yml").encode()
    files["README.md"] = _readme(built, sorted(vault)).encode()
    written = []
    for rel, data in sorted(files.items()):
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        written.append(path)
    return written


def _checks(answers: Any) -> List[Dict[str, Any]]:
    ports = [25, 587, 993] + ([995] if getattr(answers, "pop3", False) else [])
    return [
        {"name": "postfix check", "ansible.builtin.command": {"argv": ["postfix", "check"]},
         "changed_when": False},
        {"name": "doveconf -n", "ansible.builtin.command": {"argv": ["doveconf", "-n"]},
         "changed_when": False},
        {"name": "the mail ports answer", "ansible.builtin.wait_for": {
            "port": "{{ item }}", "host": "127.0.0.1", "timeout": 30}, "loop": ports},
        {"name": "client probes from the control node", "ansible.builtin.command": {
            "argv": ["{{ ansible_playbook_python }}", "{{ role_path }}/files/mailwizard_probe.py",
                     "{{ ansible_host | default(inventory_hostname) }}",
                     "{{ mailwizard_domain }}"]},
         "delegate_to": "localhost", "become": False, "changed_when": False,
         "register": "mailwizard_probe_out", "when": "mailwizard_probe | bool"},
        {"name": "clients see STARTTLS on 25, AUTH on 587 after STARTTLS only, IMAPS; "
                 "relaying refused",
         "ansible.builtin.assert": {"that": [
             "(mailwizard_probe_out.stdout | from_json).smtp_starttls | default(false)",
             "not ((mailwizard_probe_out.stdout | from_json).smtp_auth_before_tls "
             "| default(true))",
             "(mailwizard_probe_out.stdout | from_json).relay_rcpt_code | default(0) >= 500",
             "not ((mailwizard_probe_out.stdout | from_json).submission_auth_before_tls "
             "| default(true))",
             "(mailwizard_probe_out.stdout | from_json).submission_auth | default(false)",
             "(mailwizard_probe_out.stdout | from_json).imaps_ok | default(false)"],
             "fail_msg": "{{ mailwizard_probe_out.stdout }}"},
         "when": "mailwizard_probe | bool"},
    ]


def _readme(built: Sequence[PlatformTasks], vault: Sequence[str]) -> str:
    plats = ", ".join(f"{pt.platform.name} ({pt.pid})" for pt in built)
    lines = [
        "# mailwizard role", "",
        f"Written by `mailwizard export ansible` for {plats}: the plan `mailwizard apply` "
        "would carry out with the same answers, as Ansible tasks (ansible-core builtin "
        "modules only).", "",
        "    cp inventory.example.yml inventory.yml   # one entry per server",
        "    ansible-playbook -i inventory.yml site.yml --check --diff   # what would change",
        "    ansible-playbook -i inventory.yml site.yml", "",
        "- Each server needs `mailwizard_hostname` (its name) in its host variables; the "
        "certificate and every setting naming the host follow it.",
        "- Private keys (TLS, DKIM) are made on each server by `openssl` and never leave it.",
    ]
    if vault:
        lines.append("- Secrets are vault variables, referenced by name: " +
                     ", ".join(f"`{v}`" for v in vault) + " (see "
                     "`group_vars/mail/vault.yml.example`).")
    lines += ["- The checks at the end run `postfix check`, `doveconf -n`, wait for the ports "
              "and probe them from the control node (`mailwizard_probe: false` turns the "
              "probes off).", ""]
    return "\n".join(lines)
