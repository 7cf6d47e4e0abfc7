"""One platform's plan as Ansible tasks: each change of the engine's plan, in plan order.

Files are written whole, with the exact bytes the plan leaves (``copy`` from the role's
``files/``, or ``template`` when a host value is in them), ``backup: yes``, mode and owner;
``main.cf`` settings are the plan's key/value edits through ``postconf -e``, each run only
when ``postconf -n`` differs (so a second run reports no change); commands keep their probes
(``unless``, ``creates``, the files they follow); services are enabled and started, and a
handler reloads (or restarts) one only when a file of its configuration changed. Keys are made
on the host by ``openssl`` (``creates:``); secrets are vault variables, by name only.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Set, Tuple

from ..changes import (
    AliasEntries,
    Change,
    Command,
    ConfiguredService,
    Directory,
    DovecotSettings,
    FileChange,
    GeneratedFile,
    MasterService,
    Note,
    Packages,
    PostfixParams,
    Preview,
    PrivateKeyFile,
    SecretFile,
    Service,
    ShellVars,
    Snapshot,
    SystemdDropIn,
    UserGroup,
    Validate,
    View,
)
from ..engine import Engine
from ..runbook.steps import Doc, is_key
from .text import ExportError, Subst, host_subst, jinja_value, mode_text, task_name, var

B = "ansible.builtin."
PASSWORDS_VAR = "vault_mailwizard_passwords"
RELAY_VAR = "vault_mailwizard_relay_password"
DAEMON_RELOAD = "mailwizard: reload systemd"
LISTEN_KEYS = ("inet_interfaces", "inet_protocols")
"""main.cf settings that ``postfix reload`` does not apply: a change restarts Postfix."""
_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
_SECRET_MARK = "\x00MAILWIZARD-SECRET\x00"


def handler_name(svc: ConfiguredService, restart: bool = False) -> str:
    verb = "restart" if restart or svc.action == "restart" else "reload"
    return f"mailwizard: {verb} {svc.name}"


class PlatformTasks:
    """Tasks, role files and handlers for one engine's plan (one platform)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.platform = engine.platform
        self.pid = engine.platform.id
        self.subst: Subst = host_subst(engine.answers.hostname)
        self.tasks: List[Dict[str, Any]] = []
        self.files: Dict[str, bytes] = {}
        """Role-relative path (``files/...``, ``templates/...``) -> bytes."""
        self.handlers: List[Dict[str, Any]] = []
        self.vault: Dict[str, Any] = {}
        """Vault variables the tasks use (name -> a placeholder for the example file)."""
        self.services: List[ConfiguredService] = []
        self.validators: List[Validate] = []
        self.restarts: Set[str] = set()
        """Restart handlers some task notifies (besides the services' own handlers)."""
        self.written: Dict[str, List[str]] = {}
        """Target path -> the register variables of the tasks that wrote it."""
        self.doc = Doc(engine)
        self._n = 0

    # ------------------------------------------------------------------ helpers
    def v(self, text: str) -> str:
        return jinja_value(text, self.subst)

    def reg(self, path: str = "") -> str:
        self._n += 1
        name = f"mw_{self.pid.replace('-', '_')}_{self._n}"
        if path:
            self.written.setdefault(path, []).append(name)
        return name

    def notify_for(self, path: str) -> List[str]:
        out = []
        if path.startswith("/etc/systemd/"):
            out.append(DAEMON_RELOAD)
        for svc in self.services:
            if any(path == c or path.startswith(c.rstrip("/") + "/") for c in svc.config):
                out.append(handler_name(svc))
        return out

    def add(self, name: str, module: str, args: Any, **extra: Any) -> Dict[str, Any]:
        for lit, _ in self.subst:  # names stay plain text: the host's name is a variable
            name = name.replace(lit, "<host name>")
        task: Dict[str, Any] = {"name": task_name(name), B + module: args}
        task.update({k: v for k, v in extra.items() if v not in (None, [], {})})
        self.tasks.append(task)
        return task

    # ------------------------------------------------------------------ the plan
    def build(self) -> None:
        plans = self.engine.plan()
        for sp in plans:
            if sp.error:
                raise ExportError(f"step {sp.recipe.id} cannot be planned: {sp.error}")
        changes = [(sp.recipe.id, c) for sp in plans if sp.enabled for c in sp.changes]
        self.services = [c for _, c in changes if isinstance(c, ConfiguredService)]
        self.validators = [c for _, c in changes if isinstance(c, Validate)]
        if any(isinstance(c, SystemdDropIn) for _, c in changes):
            self.handlers.append({"name": DAEMON_RELOAD,
                                  B + "systemd_service": {"daemon_reload": True}})
        view = View(self.engine.executor, self.platform)
        previews = [change.preview(view) for _, change in changes]
        # every write of a file puts the bytes the whole plan leaves there (``view`` now
        # holds them): a file the plan edits twice would otherwise flip between two
        # contents on each run, and a second run would never report changed=0
        for (step, change), pv in zip(changes, previews):
            self.change(step, change, pv, view)
        for svc in self.services:  # check mode: the daemon may not even be installed yet
            names = [handler_name(svc)]
            if handler_name(svc, restart=True) in self.restarts:
                names.insert(0, handler_name(svc, restart=True))  # first: a reload notified
            for name in names:                                    # too finds it running
                self.handlers.append({"name": name, B + "service": {
                    "name": svc.unit,
                    "state": "reloaded" if name.startswith("mailwizard: reload") else
                    "restarted"}, "when": "not ansible_check_mode"})

    def change(self, step: str, c: Change, pv: Preview, view: View) -> None:
        label = f"[{step}] {c.describe()}"
        if isinstance(c, (Note, Snapshot)):
            return  # a note says nothing to do; backups are copy's backup: yes
        if isinstance(c, Validate):
            self.add(label, "command", {"argv": list(c.argv)}, changed_when=False,
                     when="not ansible_check_mode")
        elif isinstance(c, Service):
            self.service(label, c)
        elif isinstance(c, PrivateKeyFile):
            raise ExportError(f"{c.path}: an imported private key is not exported; let the "
                              "hosts make their own key (certificate mode self-signed) or "
                              "install it with your own vault task")
        elif isinstance(c, SecretFile):
            self.secret_file(label, c)
        elif isinstance(c, GeneratedFile):
            self.generated(label, c)
        elif isinstance(c, PostfixParams):
            self.postconf(label, c)
        elif isinstance(c, (MasterService, DovecotSettings, ShellVars, AliasEntries,
                            FileChange)):
            self.whole_file(label, c, view.files.get(c.path))
        elif isinstance(c, Directory):
            self.add(label, "file", {"path": self.v(c.path), "state": "directory",
                                     "mode": mode_text(c.mode), "owner": c.owner,
                                     "group": c.group}, register=self.reg(c.path),
                     notify=self.notify_for(c.path))
        elif isinstance(c, UserGroup):
            self.account(label, c)
        elif isinstance(c, Packages):
            self.packages(label, c)
        elif isinstance(c, Command):
            self.command(label, c)
        else:
            raise ExportError(f"step {step}: no Ansible form for {type(c).__name__} "
                              f"({c.describe()})")

    # ------------------------------------------------------------------ files
    def role_file(self, kind: str, rel: str, data: bytes) -> str:
        """Store ``data`` as the role's ``kind/rel`` (``rel.2``, ... when a later change of
        the same file leaves other bytes); returns the name the task gives as ``src``."""
        name, n = rel, 1
        while self.files.get(f"{kind}/{name}", data) != data:
            n += 1
            name = f"{rel}.{n}"
        self.files[f"{kind}/{name}"] = data
        return name

    def whole_file(self, label: str, c: FileChange, data: Optional[bytes]) -> None:
        dest = self.v(c.path)
        if data is None:
            self.add(label, "file", {"path": dest, "state": "absent"},
                     register=self.reg(c.path), notify=self.notify_for(c.path))
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ExportError(f"{c.path}: not UTF-8 text") from None
        args: Dict[str, Any] = {}
        rel = f"{self.pid}{c.path}"
        if any(s in text for s, _ in self.subst) or "{" in text:
            module, args["src"] = "template", self.role_file(
                "templates", f"{rel}.j2", jinja_value(text, self.subst).encode())
        else:
            module, args["src"] = "copy", self.role_file("files", rel, data)
        args.update({"dest": dest, "owner": c.owner, "group": c.group, "backup": True})
        if c.mode is not None:
            args["mode"] = mode_text(c.mode)
        for val in self.validators:
            if c.path in val.argv:
                args["validate"] = " ".join("%s" if a == c.path else a for a in val.argv)
        self.add(label, module, args, register=self.reg(c.path),
                 notify=self.notify_for(c.path))

    def secret_file(self, label: str, c: SecretFile) -> None:
        text = c.render(_SECRET_MARK)
        body = _SECRET_MARK.join(jinja_value(p, self.subst) for p in text.split(_SECRET_MARK))
        body = body.replace(_SECRET_MARK, var(RELAY_VAR))
        self.vault[RELAY_VAR] = "the relay login's password"
        rel = f"{self.pid}{c.path}"
        src = self.role_file("templates", f"{rel}.j2", body.encode())
        mode = c.mode if c.mode is not None else 0o600
        self.add(label, "template", {"src": src, "dest": self.v(c.path),
                                     "owner": c.owner, "group": c.group,
                                     "mode": mode_text(mode), "backup": True},
                 register=self.reg(c.path), notify=self.notify_for(c.path), no_log=True,
                 diff=False)

    def generated(self, label: str, c: GeneratedFile) -> None:
        text = c.preview_text
        if is_key(text):
            m = re.search(r"\b(?:rsa|RSA) ?(\d{4})\b", text)
            e = re.search(r"\becdsa-p(\d{3})\b", text)
            if m:
                alg = f"-algorithm RSA -pkeyopt rsa_keygen_bits:{int(m.group(1))}"
            elif e:
                alg = f"-algorithm EC -pkeyopt ec_paramgen_curve:P-{int(e.group(1))}"
            else:
                raise ExportError(f"{c.path}: cannot tell which key to generate")
            cmd = f"umask 077 && openssl genpkey {alg} -out {_sq(c.path)}"
            self.doc.last_key = c.path
        else:
            cmds = self.doc.openssl_for(c.path, text)
            if len(cmds) != 1:
                raise ExportError(f"{c.path}: no openssl command makes this file")
            cmd = cmds[0]
        self.add(label + " (openssl, once)", "shell",
                 {"cmd": self.v(cmd), "creates": self.v(c.path)},
                 register=self.reg(c.path), notify=self.notify_for(c.path))
        mode = c.mode if c.mode is not None else 0o644
        self.add(f"mode and owner of {c.path}", "file",
                 {"path": self.v(c.path), "mode": mode_text(mode), "owner": c.owner,
                  "group": c.group}, when="not ansible_check_mode")

    # ------------------------------------------------------------------ main.cf
    def postconf(self, label: str, c: PostfixParams) -> None:
        """The plan's key/value edits of main.cf, each behind a ``postconf -n`` probe. The
        listen settings get their own tasks, which notify a restart: ``postfix reload`` keeps
        the old sockets, and after an ``inet_protocols`` change the master even dies binding
        a new service (the engine restarts Postfix then too, see recipes/services.py)."""
        notify = self.notify_for(c.path)
        items = [{"name": k, "value": self.v(v)} for k, v in c.params.items()]
        listen = [i for i in items if i["name"] in LISTEN_KEYS]
        rest = [i for i in items if i["name"] not in LISTEN_KEYS]
        for group, note, why in ((rest, notify, ""),
                                 (listen, self.restart_for(notify), " (a restart applies it)")):
            if group:
                self.postconf_items(label + why if len(group) < len(items) else label,
                                    c.path, group, note)
        if c.remove_names:
            probe = self.reg()
            self.add(label + ": find the settings to remove", "command",
                     {"argv": ["postconf", "-n", "{{ item }}"]}, loop=list(c.remove_names),
                     register=probe, changed_when=False, failed_when=False, check_mode=False)
            self.add(label + ": remove", "command",
                     {"argv": ["postconf", "-X", "{{ item.item }}"]},
                     loop="{{ " + probe + ".results }}",
                     loop_control={"label": "{{ item.item }}"},
                     when="item.stdout | length > 0", register=self.reg(c.path),
                     notify=notify)

    def postconf_items(self, label: str, path: str, items: List[Dict[str, str]],
                       notify: List[str]) -> None:
        """One ``postconf -n`` reads main.cf's explicit settings; one ``postconf -e`` writes
        those whose ``NAME = value`` line is not there (none on a converged host). A setting
        the plan makes explicit is written even when it equals Postfix's default, as apply
        writes it (``postconf -h`` would show the default and skip it)."""
        probe = self.reg()
        want = f"{probe}_want"
        self.add(label + ": read main.cf (postconf -n)", "command",
                 {"argv": ["postconf", "-n"]}, register=probe, changed_when=False,
                 failed_when=False, check_mode=False)
        lines = [{"name": i["name"], "value": i["value"],
                  "line": (i["name"] + " = " + i["value"]).rstrip()} for i in items]
        pending = (f"({want} | map(attribute='line') | reject('in', {probe}.stdout_lines) "
                   "| list)")
        self.add(label, "command", {"argv": "{{ ['postconf', '-e'] + " + pending + " }}"},
                 vars={want: lines}, when=f"{pending} | length > 0",
                 register=self.reg(path), notify=notify)
        now = (f"{probe}.stdout_lines | select('match', (item.name | regex_escape) ~ ' =') "
               "| first | default('') | regex_replace('^[^=]*= ?', '')")
        self.add(label + " (check mode: what would change)", "debug",
                 {"msg": "main.cf {{ item.name }}: '{{ " + now + " }}' -> '{{ item.value }}'"},
                 loop=[dict(x) for x in lines], loop_control={"label": "{{ item.name }}"},
                 when=["ansible_check_mode", f"item.line not in {probe}.stdout_lines"],
                 changed_when=True)

    def restart_for(self, notify: List[str]) -> List[str]:
        """``notify`` with each reload handler replaced by its service's restart handler."""
        by_reload = {handler_name(s): handler_name(s, restart=True) for s in self.services}
        out = [by_reload.get(n, n) for n in notify]
        self.restarts.update(n for n in out if n.startswith("mailwizard: restart"))
        return out

    # ------------------------------------------------------------------ the rest
    def service(self, label: str, c: Service) -> None:
        state = {"stop": "stopped"}.get(c.action, "started")
        self.add(label, "service", {"name": c.unit, "state": state, "enabled": c.enable},
                 when="not ansible_check_mode")
        if state == "started" and c.status_unit != c.unit:
            # Debian's postfix.service up to 3.9 is a oneshot wrapper that stays "active"
            # without a master; the engine judges "running" by the instance that holds it
            self.add(f"{c.status_unit} runs the {c.name} daemon", "systemd_service",
                     {"name": c.status_unit, "state": "started"},
                     when=["not ansible_check_mode", "ansible_service_mgr == 'systemd'"])

    def account(self, label: str, c: UserGroup) -> None:
        if c.member_of:
            self.add(label, "user", {"name": c.user, "groups": [c.member_of],
                                     "append": True})
        elif c.user:
            args: Dict[str, Any] = {"name": c.user, "shell": c.shell,
                                    "create_home": c.create_home, "system": c.system}
            made = self.reg()
            self.add(label, "user", args, register=made)
            if c.set_password:
                self.password(c.user, made)
        else:
            self.add(label, "group", {"name": c.group, "system": c.system})

    def password(self, user: str, made: str) -> None:
        """The vault password, set as apply sets it: ``chpasswd`` on the host (which hashes
        it; no passlib on the control node), once, when the account was just created."""
        if not _USER.fullmatch(user):
            raise ExportError(f"user name {user!r} cannot name a vault entry")
        pw = f"{PASSWORDS_VAR}['{user}']"
        self.vault.setdefault(PASSWORDS_VAR, {})[user] = "CHANGE_ME"
        self.add(f"the vault holds one line for {user}'s password", "assert",
                 {"that": [f"{pw} is defined", f"{pw} is string", f"{pw} | length > 0",
                           f"{pw} is not search('[\\n\\r\\x00]')"],
                  "fail_msg": f"set {pw} (one line) in the vault",
                  "quiet": True}, no_log=True)
        self.add(f"set {user}'s password (chpasswd, when the account was created)",
                 "command", {"argv": ["chpasswd"], "stdin": user + ":{{ " + pw + " }}"},
                 when=f"{made} is changed", no_log=True)

    def packages(self, label: str, c: Packages) -> None:
        for line in c.debconf:
            parts = line.split(None, 3)
            if len(parts) < 3:
                raise ExportError(f"debconf line not understood: {line!r}")
            name, question, vtype = parts[:3]
            value = parts[3] if len(parts) == 4 else ""
            self.add(f"debconf {question}", "debconf",
                     {"name": name, "question": question, "vtype": vtype,
                      "value": self.v(value)})
        if c.manager == "apt":
            self.apt(label, c)
            return
        if c.install:
            self.add(label + ": install", "package", {"name": list(c.install),
                                                      "state": "present"})
        if c.remove:
            self.add(label + ": remove", "package", {"name": list(c.remove),
                                                     "state": "absent"})

    def apt(self, label: str, c: Packages) -> None:
        """apt-get as apply runs it (fresh lists, packaged conffiles kept), behind a
        dpkg-query probe per package: no python3-apt needed on the host, no change when
        every package is already as wanted."""
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        for names, verb, pick in ((c.install, "install", "rejectattr"),
                                  (c.remove, "remove", "selectattr")):
            if not names:
                continue
            probe = self.reg()
            self.add(f"{label}: which are installed ({verb})", "command",
                     {"argv": ["dpkg-query", "-W", "-f=${db:Status-Abbrev}", "{{ item }}"]},
                     loop=list(names), register=probe, changed_when=False,
                     failed_when=False, check_mode=False)
            todo = (f"{probe}.results | {pick}('stdout', 'match', '^ii') | "
                    "map(attribute='item') | list")
            when = f"({todo}) | length > 0"
            if verb == "install":
                self.add(f"{label}: apt-get update", "command",
                         {"argv": ["apt-get", "update", "-q"]}, environment=env,
                         when=[when, "not ansible_check_mode"])
                argv = ("{{ ['apt-get', 'install', '-y', '-q', '-o', "
                        "'Dpkg::Options::=--force-confdef', '-o', "
                        "'Dpkg::Options::=--force-confold'] + (" + todo + ") }}")
            else:
                argv = "{{ ['apt-get', 'remove', '-y', '-q'] + (" + todo + ") }}"
            self.add(f"{label}: {verb}", "command", {"argv": argv}, environment=env,
                     when=[when, "not ansible_check_mode"])
            self.add(f"{label}: {verb} (check mode: what would change)", "debug",
                     {"msg": f"would {verb}: " + "{{ (" + todo + ") | join(' ') }}"},
                     when=["ansible_check_mode", when], changed_when=True)

    def command(self, label: str, c: Command) -> None:
        if c.argv == ["true"]:
            return  # stands for an undo only (rollback); nothing to do forwards
        if c.input is not None or c.daemon:
            raise ExportError(f"{c.describe()}: a command with input or a daemon is not "
                              "exported")
        when: List[str] = []
        after = [r for f in c.after_files for r in self.written.get(f, [])]
        probe_ok = ""
        if c.creates:
            st = self.reg()
            self.add(f"does {c.creates} exist", "stat", {"path": self.v(c.creates)},
                     register=st)
            probe_ok = f"{st}.stat.exists"
        elif c.unless:
            pr = self.reg()
            self.add(f"probe: {' '.join(c.unless)}"[:120], "command",
                     {"argv": [self.v(a) for a in c.unless]}, register=pr,
                     changed_when=False, failed_when=False, check_mode=False)
            probe_ok = f"{pr}.rc == 0"
        changed = " or ".join(f"{r} is changed" for r in after)
        if probe_ok and changed:
            when.append(f"({changed}) or not ({probe_ok})")
        elif probe_ok:
            when.append(f"not ({probe_ok})")
        elif changed:
            when.append(changed)
        elif c.after_files:
            return  # runs only after those files change, and nothing here changes them
        else:
            raise ExportError(f"{c.describe()}: a command without a probe cannot run "
                              "idempotently")
        self.add(label, "command", {"argv": [self.v(a) for a in c.argv]},
                 environment=dict(c.env) or None, when=when,
                 register=self.reg(c.creates or ""),
                 notify=self.notify_for(c.creates) if c.creates else None)


def _sq(text: str) -> str:
    import shlex

    return shlex.quote(text)


def facts_condition(pid: str) -> Tuple[str, str]:
    """(condition on Ansible facts, a readable name) selecting the hosts of platform ``pid``."""
    m = re.fullmatch(r"([a-z-]+?)(\d+)", pid)
    if not m:
        raise ExportError(f"no Ansible facts known for platform {pid}")
    distro, ver = m.groups()
    names = {"debian": "Debian", "ubuntu": "Ubuntu", "rocky": "Rocky",
             "almalinux": "AlmaLinux", "rhel": "RedHat", "ol": "OracleLinux",
             "centos": "CentOS", "centos-stream": "CentOS"}
    if distro not in names:
        raise ExportError(f"no Ansible facts known for platform {pid}")
    if distro == "ubuntu":
        cond = (f"ansible_facts['distribution'] == '{names[distro]}' and "
                f"ansible_facts['distribution_version'] == '{ver[:2]}.{ver[2:]}'")
    else:
        cond = (f"ansible_facts['distribution'] == '{names[distro]}' and "
                f"ansible_facts['distribution_major_version'] == '{ver}'")
    return cond, f"{names[distro]} {ver}"
