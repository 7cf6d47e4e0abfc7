"""Dry-run documentation: the plan for one platform and one set of answers as a runbook.

:func:`render_runbook` writes Markdown (default) or one self-contained HTML page. The runbook
is reproducible (no dates, no host-specific paths) and holds no secrets.

Every code block says what it is for in its info string, so the runbook can be followed by a
person and executed by a program alike:

``sh``
    Apply. Run in order as root; together the ``sh`` blocks do what ``mailwizard apply`` does
    (file contents, modes and owners, commands, packages, services).
``sh-interactive``
    Apply, but needs a person at the keyboard (``passwd`` asks for a password).
``sh-backup``
    Before a step: copy the files the step changes to ``FILE.mailwizard-bak-STEP``.
``sh-rollback``
    Undo a step by hand (restore those copies, undo its commands).
``sh-verify``
    Read-only checks an admin types to see that a step worked.
``diff`` and ``text``
    For reading only.

:func:`extract_commands` returns the blocks of the wanted kinds in document order.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from .changes import (
    AliasEntries,
    Change,
    Command,
    Directory,
    DovecotSettings,
    FileChange,
    GeneratedFile,
    MasterService,
    Packages,
    PostfixParams,
    Preview,
    Service,
    ShellVars,
    UserGroup,
)

if TYPE_CHECKING:  # pragma: no cover
    from .answers import Answers
    from .engine import Engine, StepPlan
    from .platforms import Platform

APPLY = "sh"
INTERACTIVE = "sh-interactive"
BACKUP = "sh-backup"
ROLLBACK = "sh-rollback"
VERIFY = "sh-verify"
BLOCK_KINDS = (APPLY, INTERACTIVE, BACKUP, ROLLBACK, VERIFY)
"""Info strings of the shell blocks (the first word of a fence's info string)."""

WHOLE_FILE = "whole-file"
"""Second word on an apply block that rewrites a file shown as a diff above (HTML folds it)."""

BACKUP_SUFFIX = ".mailwizard-bak-"
"""Backups made by hand are ``FILE.mailwizard-bak-STEP`` (one per step, so rolling back one
step restores exactly what that step found)."""


# --------------------------------------------------------------------------- markdown helpers
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)


def _text(s: str) -> str:
    """Prose from recipes and notes, made safe for Markdown: a ``<`` that could start a tag
    is escaped (outside code spans, where a backslash would show)."""
    out, pos = [], 0
    for m in _CODE_SPAN.finditer(s):
        out.append(re.sub(r"<(?=[A-Za-z/!?])", r"\\<", s[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(re.sub(r"<(?=[A-Za-z/!?])", r"\\<", s[pos:]))
    return "".join(out)


def _cell(s: str) -> str:
    return _text(s).replace("|", "\\|").replace("\n", " ")


def _code(s: str) -> str:
    """Inline code span that survives backticks in ``s``."""
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    tick = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{tick}{pad}{s}{pad}{tick}"


def _fence(info: str, body: str) -> List[str]:
    """A fenced block whose fence is longer than any backtick run inside ``body``."""
    body = body.rstrip("\n")
    longest = max((len(m) for m in re.findall(r"^\s*(`{3,})", body, re.M)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, body, fence, ""]


_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^\s`]*)(.*)$")


def extract_commands(markdown: str, kinds: Sequence[str] = (APPLY,)) -> List[str]:
    """The bodies of the fenced blocks whose info string starts with one of ``kinds``, in
    order. The default gives the apply blocks: run them in order as root (``sh -e``) to do
    what ``mailwizard apply`` does."""
    wanted = set(kinds)
    out: List[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if not m or (m.group(1)[0] == "`" and "`" in m.group(3)):
            i += 1
            continue
        fence, info = m.group(1), m.group(2)
        close = re.compile(r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
        body: List[str] = []
        i += 1
        while i < len(lines) and not close.match(lines[i]):
            body.append(lines[i])
            i += 1
        i += 1
        if info in wanted:
            out.append("\n".join(body) + "\n")
    return out


class Slugger:
    """Heading anchors the way GitHub makes them (lower case, punctuation dropped, spaces to
    hyphens, ``-1``, ``-2`` for repeats), shared by the Markdown contents and the HTML ids."""

    def __init__(self) -> None:
        self.seen: Dict[str, int] = {}

    def slug(self, text: str) -> str:
        base = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        n = self.seen.get(base)
        self.seen[base] = 0 if n is None else n + 1
        return base if n is None else f"{base}-{n + 1}"


def _heading_text(markdown_line: str) -> Tuple[int, str]:
    m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", markdown_line)
    if not m:
        return 0, ""
    text = re.sub(r"\\(.)", r"\1", m.group(2)).replace("`", "")
    return len(m.group(1)), text


def _headings(markdown: str) -> List[Tuple[int, str, str]]:
    """(level, text, anchor) of every heading outside code blocks, in order."""
    slugger = Slugger()
    out = []
    in_fence: Optional[str] = None
    for line in markdown.splitlines():
        m = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if m:
            if in_fence is None:
                in_fence = m.group(1)
            elif line.strip().startswith(in_fence[0] * len(in_fence)) and \
                    set(line.strip()) == {in_fence[0]}:
                in_fence = None
            continue
        if in_fence is None and line.startswith("#"):
            level, text = _heading_text(line)
            if level:
                out.append((level, text, slugger.slug(text)))
    return out


# --------------------------------------------------------------------------- shell helpers
def _q(args: Iterable[str]) -> str:
    return " ".join(shlex.quote(str(a)) for a in args)


def _strip_comment(cmd: str) -> str:
    """A preview command without its trailing explanatory ``   # ...`` comment."""
    return re.split(r"\s{2,}# ", cmd, maxsplit=1)[0]


def _guarded(cmd: str, condition: str, why: str) -> str:
    """``cmd`` run only when ``condition`` (a shell test) holds."""
    if "<<" in cmd:  # a here-document's end marker must stay at the start of its line
        return f"# {why}\nif {condition}; then\n{cmd}\nfi"
    if "\n" in cmd:
        cmd = "\n  ".join(cmd.splitlines())
    return f"# {why}\nif {condition}; then\n  {cmd}\nfi"


def _san_kind(name: str) -> str:
    """``IP`` for an address, ``DNS`` for a name (openssl's subjectAltName syntax)."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return "DNS"
    return "IP"


def _is_key(content: str) -> bool:
    low = content.lower()
    return "private key" in low and "certificate" not in low


@dataclass
class _Block:
    kind: str
    lines: List[str] = field(default_factory=list)
    extra: str = ""


@dataclass
class _Rendered:
    """How one change shows in the runbook: paragraphs and blocks, in order."""

    items: List[str | _Block] = field(default_factory=list)


class _Doc:
    """Renders one plan."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.answers: Answers = engine.answers
        self.platform: Platform = engine.platform
        self.secrets = [s.reveal() for s in engine.secrets.values()]
        self.last_key: Optional[str] = None
        """Target path of the last private key generated (for certificate commands)."""

    # ------------------------------------------------------------------ per change
    def render_change(self, change: Change, pv: Preview,
                      changed_here: Optional[Set[str]] = None) -> _Rendered:
        if isinstance(change, GeneratedFile):
            return self._generated(change, pv)
        if isinstance(change, FileChange):
            return self._file(change, pv)
        if isinstance(change, Command):
            return self._command(change, pv, changed_here or set())
        if isinstance(change, Packages):
            return self._packages(change, pv)
        if isinstance(change, UserGroup):
            return self._account(change, pv)
        return _Rendered([_Block(APPLY, list(pv.commands))] if pv.commands else [])

    def _file(self, change: FileChange, pv: Preview) -> _Rendered:
        mode = f"{change.mode:04o}" if change.mode is not None else None
        if not pv.changed and not pv.commands:
            return _Rendered(["Already as wanted: nothing to do."])
        if pv.new_content is not None:
            return _Rendered([
                f"A new file{', mode ' + mode if mode else ''}, owned by "
                f"{change.owner}:{change.group}. The command writes it in full:",
                _Block(APPLY, list(pv.commands))])
        items: List[str | _Block] = []
        if pv.diff:
            items.append(_Block("diff", [pv.diff]))
        if pv.commands and pv.commands[0].startswith("rm "):
            items += ["The file is removed:", _Block(APPLY, list(pv.commands))]
        elif pv.diff:
            items += ["This command writes the whole file with the change above:",
                      _Block(APPLY, list(pv.commands), extra=WHOLE_FILE)]
        elif pv.commands:
            items += ["The content is already right; only the mode changes:",
                      _Block(APPLY, list(pv.commands))]
        return _Rendered(items)

    def _generated(self, change: GeneratedFile, pv: Preview) -> _Rendered:
        if not pv.changed:
            return _Rendered(["The file exists already and is kept as it is."])
        content = pv.new_content or change.preview_text
        mode = f"{(change.mode if change.mode is not None else 0o644):04o}"
        items: List[str | _Block] = [
            f"mailwizard generates this file once and keeps it if it exists. It will look like "
            f"this (mode {mode}, owned by {change.owner}:{change.group}):",
            _Block("text", [content])]
        cmds = list(pv.commands) or self._openssl_for(change, content)
        if _is_key(content):
            self.last_key = change.path
        if cmds:
            path = shlex.quote(change.path)
            owner = shlex.quote(f"{change.owner}:{change.group}")
            body = "\n".join([*cmds, f"chmod {mode} {path}", f"chown {owner} {path}"])
            items += ["By hand, this makes an equivalent file (the bytes differ from what "
                      "mailwizard would write: a new random key, serial number or signature):",
                      _Block(APPLY, [_guarded(body, f"[ ! -e {path} ]",
                                              f"only when {change.path} does not exist yet")])]
        else:
            items.append(f"There is no shell equivalent: let `mailwizard apply` make this file, "
                         f"or put a suitable file at {_code(change.path)} yourself.")
        return _Rendered(items)

    def _openssl_for(self, change: GeneratedFile, content: str) -> List[str]:
        """openssl lines for a generated key, certificate or CSR (when the recipe gave none)."""
        cert = self.answers.certificate
        path = shlex.quote(change.path)
        if _is_key(content):
            kt = cert.key_type
            if kt.startswith("rsa"):
                alg = f"-algorithm RSA -pkeyopt rsa_keygen_bits:{kt[3:]}"
            else:
                alg = f"-algorithm EC -pkeyopt ec_paramgen_curve:P-{kt.split('-p')[-1]}"
            return [f"(umask 077 && openssl genpkey {alg} -out {path})"]
        low = content.lower()
        if "certificate" not in low or self.last_key is None:
            return []
        subj = f"/CN={self.answers.cert_cn}"
        if cert.organization:
            subj += f"/O={cert.organization}"
        if cert.country:
            subj += f"/C={cert.country}"
        key = shlex.quote(self.last_key)
        utf8 = "" if subj.isascii() else " -utf8"
        if "certificate request" in low or "signing request" in low:
            return [f"openssl req -new -sha256 -key {key}{utf8} -subj {shlex.quote(subj)} "
                    f"-out {path}"]
        cmd = (f"openssl req -new -x509 -sha256 -days {int(cert.days)} -key {key}{utf8} "
               f"-subj {shlex.quote(subj)}")
        if not (self.platform.is_el and self.platform.major <= 7):  # OpenSSL >= 1.1.1
            names = [self.answers.cert_cn, *[n for n in cert.extra_names
                                             if n != self.answers.cert_cn]]
            cmd += " -addext " + shlex.quote("subjectAltName=" + ",".join(
                f"{_san_kind(n)}:{n}" for n in names))
        return [cmd + f" -out {path}"]

    def _command(self, change: Command, pv: Preview, changed_here: Set[str]) -> _Rendered:
        """The command with the probe the engine uses, so that the block does what apply
        does: after a file it depends on changed in this step it always runs; otherwise
        ``creates``/``unless`` decide; a command that only follows files does not run."""
        cmd = pv.commands[0] if pv.commands else change.shell()
        kind = APPLY
        items: List[str | _Block] = []
        if change.input is not None:
            data = change.input
            if any(s and s in data for s in self.secrets):
                for s in self.secrets:
                    data = data.replace(s, "PASSWORD")
                kind = INTERACTIVE
                items.append("Replace PASSWORD with the real password before you run this:")
            marker = "MAILWIZARD_INPUT"
            while marker in data:
                marker += "_"
            if not data.endswith("\n"):
                data += "\n"
            cmd = f"{cmd} <<'{marker}'\n{data}{marker}"
        follows = [f for f in change.after_files if f in changed_here]
        if follows:
            items.append(f"Runs because {', '.join(_code(f) for f in follows)} changed in "
                         "this step:")
        elif change.creates:
            cmd = _guarded(cmd, f"[ ! -e {shlex.quote(change.creates)} ]",
                           f"only when {change.creates} does not exist yet")
        elif change.unless:
            cmd = _guarded(cmd, f"! {_q(change.unless)} >/dev/null 2>&1",
                           "skipped when already done")
        elif change.after_files:
            files = ", ".join(map(_code, change.after_files))
            items.append(f"Not needed: it runs only after {files} changed, and this step "
                         "does not change it.")
            return _Rendered(items)
        if not pv.changed:
            items.append(_text(pv.note or "Nothing to do on this system.") + " (The guard "
                         "skips it.)")
        items.append(_Block(kind, [cmd]))
        return _Rendered(items)

    def _packages(self, change: Packages, pv: Preview) -> _Rendered:
        if change.manager != "apt":
            return _Rendered([_Block(APPLY, list(pv.commands))])
        cmds: List[str] = []
        for c in pv.commands:
            if c.startswith("apt-get install"):
                cmds.append("apt-get update -q")
                # like apply, which installs only the missing ones: a package that is already
                # installed (ca-certificates, openssl) is not upgraded
                c += " --no-upgrade"
            if c.startswith("apt-get remove") and change.remove:
                # like apply: remove only those that are installed (apt-get remove fails on a
                # name the package sources do not know at all)
                cmds += ["# only those of them that are installed:",
                         "#   " + _strip_comment(c),
                         "installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\\n' "
                         + _q(change.remove) + " 2>/dev/null | awk '$1 == \"ii\" {print $2}')",
                         "[ -z \"$installed\" ] || DEBIAN_FRONTEND=noninteractive apt-get "
                         "remove -y -q $installed"]
                continue
            if c.startswith("apt-get "):
                c = "DEBIAN_FRONTEND=noninteractive " + c
            cmds.append(c)
        return _Rendered([_Block(APPLY, cmds)])

    def _account(self, change: UserGroup, pv: Preview) -> _Rendered:
        plain = [c for c in pv.commands if not c.startswith("passwd ")]
        items: List[str | _Block] = []
        if plain:
            if change.user and not change.member_of:
                guard = f"! id -u {shlex.quote(change.user)} >/dev/null 2>&1"
                why = f"only when the user {change.user} does not exist yet"
            elif change.member_of:
                guard = (f"! id -nG {shlex.quote(change.user)} | tr ' ' '\\n' | grep -qx "
                         f"{shlex.quote(change.member_of)}")
                why = f"only when {change.user} is not in {change.member_of} yet"
            else:
                guard = f"! getent group {shlex.quote(change.group)} >/dev/null"
                why = f"only when the group {change.group} does not exist yet"
            items.append(_Block(APPLY, [_guarded("\n".join(plain), guard, why)]))
        if len(plain) != len(pv.commands):
            items.append(f"Give {change.user} a password: passwd asks for it twice. Mail "
                        "clients log in with this user name and password (mailwizard sets "
                        "it when the answers give one, and never prints it).")
            items.append(_Block(INTERACTIVE, [f"passwd {shlex.quote(change.user)}"]))
        return _Rendered(items)

    # ------------------------------------------------------------------ backups and undo
    @staticmethod
    def file_paths(sp: StepPlan) -> List[Tuple[str, bool]]:
        """(path, existed before the step) of every file the step changes, in order."""
        out: Dict[str, bool] = {}
        for change, pv in zip(sp.changes, sp.previews):
            if isinstance(change, FileChange) and pv.changed and pv.path:
                out.setdefault(pv.path, pv.new_content is None)
        return list(out.items())

    def backup_block(self, sp: StepPlan) -> Optional[str]:
        paths = self.file_paths(sp)
        if not paths:
            return None
        suffix = BACKUP_SUFFIX + sp.id
        names = " ".join(shlex.quote(p) for p, _ in paths)
        return (f"for f in {names}; do\n"
                "  [ -e \"$f\" ] || continue\n"
                "  f=$(readlink -f \"$f\")   # for a symlink, copy the file it points to\n"
                f"  [ -e \"$f{suffix}\" ] || cp -a \"$f\" \"$f{suffix}\"\n"
                "done")

    def rollback_lines(self, sp: StepPlan) -> List[str]:
        suffix = BACKUP_SUFFIX + sp.id
        existed = dict(self.file_paths(sp))
        lines: List[str] = []
        restored: set = set()
        after: List[str] = []
        for change, pv in reversed(list(zip(sp.changes, sp.previews))):
            if isinstance(change, FileChange):
                path = pv.path
                if path not in existed or path in restored:
                    continue
                restored.add(path)
                f, b = shlex.quote(path), shlex.quote(path + suffix)
                if existed[path]:
                    lines.append(f"f=$(readlink -f {f}) && mv -f \"$f{suffix}\" \"$f\"")
                else:
                    lines.append(f"if [ -e {b} ]; then mv -f {b} {f}; else rm -f {f}; fi")
            elif isinstance(change, Command):
                if change.undo_argv:
                    lines.append(_q(change.undo_argv))
            elif isinstance(change, Packages):
                lines += self._packages_undo(change)
            elif isinstance(change, Service):
                lines.append(f"systemctl disable --now {change.unit}   # if it was not "
                             "running before this step")
                if change.action != "start" or change.restart_if_running:
                    after.append(f"# if {change.unit} ran before this step, keep it and let it "
                                 f"read the restored files instead:\n"
                                 f"#   systemctl reload-or-restart {change.unit}")
            elif isinstance(change, UserGroup) and pv.changed:
                if change.member_of:
                    lines.append(_q(["gpasswd", "-d", change.user, change.member_of]))
                elif change.user:
                    lines.append(_q(["userdel", *(["-r"] if change.create_home else []),
                                     change.user]) + "   # removes the mailbox too")
                else:
                    lines.append(_q(["groupdel", change.group]))
            elif isinstance(change, Directory) and pv.changed and "exists" not in pv.note:
                lines.append(f"rmdir {shlex.quote(change.path)} 2>/dev/null || true   "
                             "# only if empty")
        return lines + after

    @staticmethod
    def _packages_undo(change: Packages) -> List[str]:
        out = []
        if change.install:
            if change.manager == "apt":
                out.append("DEBIAN_FRONTEND=noninteractive " + _q(
                    ["apt-get", "purge", "-y", "-q", *change.install])
                    + "   # only what this step installed")
            else:
                out.append(_q([change.manager, "remove", "-y", *change.install])
                           + "   # only what this step installed")
        if change.remove:
            inst = "apt-get install -y" if change.manager == "apt" else (
                f"{change.manager} install -y")
            out.append(f"# {inst} {' '.join(change.remove)}   # those that were installed "
                       "before")
        return out

    # ------------------------------------------------------------------ checks
    def manual_checks(self, sp: StepPlan) -> Tuple[List[str], bool]:
        """(commands, from the recipe?)"""
        try:
            own = list(sp.recipe.manual_checks(self.answers, self.platform))
        except Exception:  # a recipe bug must not break the documentation
            own = []
        if own:
            return own, True
        return self.generic_checks(sp), False

    def generic_checks(self, sp: StepPlan) -> List[str]:
        p = self.platform
        out: List[str] = []
        postfix = False
        for change, pv in zip(sp.changes, sp.previews):
            if isinstance(change, PostfixParams):
                postfix = True
                if change.params:
                    out.append("postconf " + " ".join(shlex.quote(k) for k in change.params))
            elif isinstance(change, MasterService):
                postfix = True
                for e in change.entries:
                    pattern = f"^{re.escape(e.name)}[[:space:]]+{re.escape(e.type)}"
                    out.append(f"postconf -M {shlex.quote(e.name + '/' + e.type)}"
                               if p.has_postconf_master else
                               f"grep -E {shlex.quote(pattern)} {shlex.quote(change.path)}")
            elif isinstance(change, DovecotSettings):
                out.append("doveconf " + " ".join(shlex.quote(k) for k in change.settings))
            elif isinstance(change, ShellVars):
                pattern = f"^({'|'.join(re.escape(k) for k in change.values)})="
                out.append(f"grep -E {shlex.quote(pattern)} {shlex.quote(change.path)}")
            elif isinstance(change, AliasEntries):
                out += [f"postalias -q {shlex.quote(n)} "
                        f"\"$(postconf -h default_database_type)\":{shlex.quote(change.path)}"
                        for n in change.entries]
            elif isinstance(change, FileChange) and pv.path:
                out.append(f"ls -l {shlex.quote(pv.path)}")
                content = pv.new_content or ""
                if "BEGIN CERTIFICATE-" in content:
                    out.append(f"openssl x509 -in {shlex.quote(pv.path)} -noout -subject "
                               "-enddate")
                if pv.path.startswith("/etc/postfix/"):
                    postfix = True
            elif isinstance(change, Packages) and change.install:
                out.append(("dpkg-query -W " if change.manager == "apt" else "rpm -q ")
                           + " ".join(shlex.quote(n) for n in change.install))
            elif isinstance(change, Service):
                out.append(f"systemctl is-enabled {shlex.quote(change.unit)}")
                out.append(f"systemctl is-active {shlex.quote(change.status_unit)}")
            elif isinstance(change, UserGroup):
                if change.member_of:
                    out.append(f"id -nG {shlex.quote(change.user)}")
                elif change.user:
                    out.append(f"id {shlex.quote(change.user)}")
                else:
                    out.append(f"getent group {shlex.quote(change.group)}")
            elif isinstance(change, Directory):
                out.append(f"ls -ld {shlex.quote(change.path)}")
            elif isinstance(change, Command) and change.creates:
                out.append(f"ls -l {shlex.quote(change.creates)}")
        if postfix:
            out.append("postfix check")
        seen: set = set()
        return [c for c in out if not (c in seen or seen.add(c))]  # type: ignore[func-returns-value]


# --------------------------------------------------------------------------- the document
def _md_blocks(blocks: Sequence[_Block]) -> List[str]:
    out: List[str] = []
    for b in blocks:
        info = b.kind + (" " + b.extra if b.extra else "")
        out += _fence(info, "\n".join(x.rstrip("\n") for x in b.lines))
    return out


def _what_it_does(a: Answers) -> List[str]:
    out = [f"- Receives mail for **{a.domain}** on port 25 and delivers it into each system "
           f"user's `~/Maildir`."]
    if a.step_enabled("virtual-aliases") and a.virtual_alias_domains:
        out.append(f"- Also accepts mail for {', '.join(a.virtual_alias_domains)} and forwards "
                   "it to local users through virtual aliases.")
    out.append(f"- Lets users send mail through **{a.hostname}** on port 587 after STARTTLS "
               f"and a login with their system user name and password (SASL through "
               f"{'Dovecot' if a.sasl.backend == 'dovecot' else 'Cyrus saslauthd'}).")
    access = [x for x, on in (("IMAP over TLS (993)", a.imap), ("POP3 over TLS (995)", a.pop3))
              if on]
    if access:
        out.append(f"- Serves the mailboxes with Dovecot: {' and '.join(access)}.")
    out.append("- Relays mail only for logged-in users and the trusted networks "
               f"({', '.join(a.mynetworks)}); everyone else can deliver only to local "
               "addresses, so the server is not an open relay.")
    extra = []
    if a.restrictions.rbl:
        extra.append("DNS block lists (" + ", ".join(a.restrictions.rbl) + ")")
    if a.restrictions.helo_required:
        extra.append("a required HELO")
    if a.restrictions.sender_access:
        extra.append("a sender blacklist")
    if extra:
        out.append("- Turns away obvious junk with " + ", ".join(extra) + ".")
    own = "a self-signed" if a.certificate.mode == "self-signed" else "your own"
    out.append(f"- Encrypts with {own} certificate for {a.cert_cn} ({a.certificate.key_type}).")
    return out


def _intro(d: _Doc) -> List[str]:
    a, p = d.answers, d.platform
    ports = ["25 (SMTP, from other servers)", "587 (submission, from your users)"]
    if a.imap:
        ports.append("993 (IMAPS)")
    if a.pop3:
        ports.append("995 (POP3S)")
    pm = {"apt": "apt", "dnf": "dnf", "yum": "yum"}.get(p.pkg_manager, p.pkg_manager)
    out = [
        "## Introduction", "",
        f"This runbook turns a fresh {p.name} server into the mail server for {a.domain}, one "
        "step at a time. It was generated by `mailwizard docs` from the answers below without "
        "touching any machine, and it contains every command and every file change that "
        "`mailwizard apply` would make, so you can review the whole installation before you "
        "run it, or do it by hand.", "",
        "### What the server will do", "",
        *_what_it_does(a), "",
        "### Before you start", "",
        f"- A root shell on the server (`sudo -i`), with working {pm} package sources.",
        f"- The host name {_code(a.hostname)} set on the server (`hostnamectl set-hostname "
        f"{a.hostname}`), an A record for it, and an MX record for {a.domain} pointing at it "
        "(see [DNS records](#dns-records)). Ask whoever runs the server's IP address to set "
        f"the reverse (PTR) record to {a.hostname}: many receivers refuse mail without it.",
        "- These ports reachable from outside (check your provider's firewall or security "
        "group as well): " + ", ".join(ports) + ". Some providers block outgoing port 25 "
        "until you ask.",
        "- A snapshot or backup of the server. Every step below also says how to back up and "
        "restore the files it changes.",
        "- No other mail server software you want to keep: the packages step replaces it.", "",
        "### How to use this runbook", "",
        "Run the steps in order, as root. For each step: read what it does, run its back-up "
        "block, run its commands, then check it by hand. Stop at the first command that "
        "fails. The code blocks are labelled by what they are for:", "",
        "| Block | Purpose | Run it? |",
        "|---|---|---|",
        f"| `{APPLY}` | the change itself | yes, in order |",
        f"| `{INTERACTIVE}` | a change that asks you something (a password) | yes, in order |",
        f"| `{BACKUP}` | copies the files a step changes to `FILE{BACKUP_SUFFIX}STEP` | "
        "yes, before the step |",
        f"| `{VERIFY}` | checks; they change nothing | after the step |",
        f"| `{ROLLBACK}` | undoes the step (restores the copies) | only to undo |",
        "| `diff`, `text` | what changes in a file | no, for reading |", "",
        "Run in order, the `sh` blocks make exactly the changes `mailwizard apply` makes "
        "(a program can pick them out by their label). Commands that must not run twice are "
        "guarded by a test, so running a block again is harmless.", "",
        "Files marked **(previewed against the stock file)** do not exist yet on a fresh "
        f"server: their diffs were computed against the copy that {p.name}'s package ships. "
        "The commands write the whole new file, so if you changed such a file yourself "
        "before, compare first with the diff, or run `mailwizard plan --diff` on the server "
        "to preview against the real files.", "",
        "Passwords never appear in this runbook: set them with `passwd` where it says so.", "",
    ]
    if p.notes:
        out += ["### Notes for this platform", ""]
        out += [f"- {_text(n)}" for n in p.notes] + [""]
    return out


def _answers_table(d: _Doc) -> List[str]:
    out = ["## Your answers", "", "| Answer | Value |", "|---|---|"]
    for label, value in d.answers.summary():
        out.append(f"| {_cell(label)} | {_cell(value)} |")
    steps = ", ".join(f"{k} {'on' if on else 'off'}" for k, on in d.answers.steps)
    out.append(f"| Optional steps | {_cell(steps)} |")
    return out + [""]


def _change_section(d: _Doc, number: str, change: Change, pv: Preview,
                    changed_here: Set[str]) -> List[str]:
    rendered = d.render_change(change, pv, changed_here)
    out = [f"### {number} {_text(pv.title)}", ""]
    note, hand = pv.note, ""
    if isinstance(change, PostfixParams):
        stock, _, hand = note.partition("by hand: ")
        note = stock.strip(" ;")
    elif isinstance(change, Command):
        # the undo goes to the rollback section; a skipped command explains itself below
        note = "" if note.startswith("undo:") or not pv.changed else note
    if note:
        out += [f"*{_text(note)}*", ""]
    if hand:
        out += [f"(By hand this is {_code(hand)}; the command below writes the exact "
                "result.)", ""]
    for item in rendered.items:
        out += _md_blocks([item]) if isinstance(item, _Block) else [item, ""]
    if isinstance(change, Service):
        sysv = f"service {change.name} start"
        direct = "; ".join(_q(c) for c in change.direct.get("start", []))
        if direct:
            out += [f"Without systemd, mailwizard runs {_code(sysv)} where the init script "
                    f"/etc/init.d/{change.name} exists, else (a container with no init "
                    f"system) {_code(direct)}.", ""]
        else:
            out += [f"Without systemd, mailwizard runs {_code(sysv)}.", ""]
    return out


def _step(d: _Doc, n: int, sp: StepPlan) -> List[str]:
    r = sp.recipe
    out = [f"## {n}. {_text(r.title or r.id)}", ""]
    meta = f"Step id {_code(r.id)}"
    if r.optional:
        meta += " (optional)"
    out += [meta + ".", ""]
    if r.summary:
        out += [_text(r.summary.strip()), ""]
    if r.guide:
        out += [f"**Guide:** follows {_text(r.guide)}.", ""]
    if r.outdated:
        out += ["**Where that guide is out of date:**", ""]
        out += [f"- {_text(x)}" for x in r.outdated] + [""]
    if not sp.enabled:
        out += ["**Skipped:** this step is turned off in the answers, so it changes nothing. "
                "To include it, turn it on (under `steps:` for the optional steps) and "
                "generate the runbook again.", ""]
        return out
    if sp.error:
        out += [f"**This step could not be planned:** {_text(sp.error)}", "",
                "Fix the answers (or the system) and generate the runbook again; the later "
                "steps assume this one was done.", ""]
        return out
    if not sp.changes:
        out += ["This step changes nothing: it only checks the system (see below).", ""]
    changed = sp.changed
    if sp.changes:
        out += [f"This step makes {len(sp.changes)} change"
                f"{'s' if len(sp.changes) != 1 else ''} ({changed} needed on a fresh "
                "server):", ""]
        out += [f"{i}. {_text(pv.title)}{'' if pv.changed else ' (changes nothing here)'}"
                for i, pv in enumerate(sp.previews, 1)] + [""]
    backup = d.backup_block(sp)
    if backup:
        out += ["### Back up first", "",
                "Copy the files this step changes, so you can put them back:", ""]
        out += _fence(BACKUP, backup)
    changed_here: Set[str] = set()
    pairs = list(zip(sp.changes, sp.previews))
    i = 0
    while i < len(pairs):
        change, pv = pairs[i]
        # consecutive directories read better as one block
        j = i
        while (j + 1 < len(pairs) and isinstance(change, Directory)
               and isinstance(pairs[j + 1][0], Directory) and not pairs[j + 1][1].note
               and not pv.note):
            j += 1
        if j > i:
            cmds = [c for _, p2 in pairs[i:j + 1] for c in p2.commands]
            out += [f"### {n}.{i + 1}\u2013{n}.{j + 1} directories", "",
                    "Each directory is created if missing and gets the mode and owner shown "
                    "(parents first):", ""]
            out += _fence(APPLY, "\n".join(cmds))
            for c, p2 in pairs[i:j + 1]:
                if p2.changed:
                    changed_here.update(c.touched_paths())
            i = j + 1
            continue
        out += _change_section(d, f"{n}.{i + 1}", change, pv, changed_here)
        if pv.changed:
            changed_here.update(change.touched_paths())
        i += 1
    checks, own = d.manual_checks(sp)
    out += ["### Check by hand", ""]
    if checks:
        out += ["These commands change nothing; compare their output with the changes above:"
                if not own else "These commands change nothing:", ""]
        out += _fence(VERIFY, "\n".join(checks))
    out += [f"`mailwizard verify --step {r.id}` runs this step's automatic checks.", ""]
    undo = d.rollback_lines(sp)
    out += ["### Roll back by hand", ""]
    if undo:
        src = "the copies come from the back-up block; " if backup else ""
        out += [f"Undo in this order ({src}`mailwizard rollback --step {r.id}` does the same "
                "from its own journal):", ""]
        out += _fence(ROLLBACK, "\n".join(undo))
    else:
        out += ["Nothing to undo: this step changes nothing.", ""]
    return out


def _clients(d: _Doc) -> List[str]:
    a = d.answers
    h = a.hostname
    user = a.users[0].name if a.users else a.admin_user
    out = ["## Client settings", "",
           "Settings for mail programs (Thunderbird, Outlook, phones). The user name is the "
           f"system user name (for example {_code(user)}, not {_code(user + '@' + a.domain)}) "
           "and the password is that user's system password.", "",
           "| Service | Server | Port | Encryption | Authentication |", "|---|---|---|---|---|"]
    if a.imap:
        out.append(f"| IMAP (incoming) | {h} | 993 | SSL/TLS | normal password |")
    if a.pop3:
        out.append(f"| POP3 (incoming) | {h} | 995 | SSL/TLS | normal password |")
    if a.plaintext_ports:
        if a.imap:
            out.append(f"| IMAP, alternative | {h} | 143 | STARTTLS | normal password |")
        if a.pop3:
            out.append(f"| POP3, alternative | {h} | 110 | STARTTLS | normal password |")
    out.append(f"| SMTP (outgoing) | {h} | 587 | STARTTLS | normal password |")
    out += ["",
            "\"Normal password\" means PLAIN or LOGIN; both are offered only after the "
            "connection is encrypted. Port 25 is for other mail servers, not for your "
            "users. With the self-signed certificate, each client warns once: compare the "
            "fingerprint (see [Test the finished server](#test-the-finished-server)) and "
            "accept it, or replace the certificate with one from a public authority.", ""]
    return out


def _dns(d: _Doc) -> List[str]:
    a = d.answers
    domains = [a.domain]
    if a.step_enabled("virtual-aliases"):
        domains += [x for x in a.virtual_alias_domains if x not in domains]
    out = ["## DNS records", "",
           "Publish these records at the DNS provider of each domain. Replace 192.0.2.10 with "
           "the server's public IPv4 address (add an AAAA record too if it has IPv6).", ""]
    lines = [f"{a.hostname}.    IN A     192.0.2.10"]
    for dom in domains:
        lines.append(f"{dom}.    IN MX    10 {a.hostname}.")
        lines.append(f"{dom}.    IN TXT   \"v=spf1 mx -all\"")
    out += _fence("text", "\n".join(lines))
    out += [
        f"- **MX**: other servers deliver mail for the domain to {a.hostname}.",
        f"- **A**: the address of {a.hostname}.",
        f"- **PTR** (reverse DNS): 192.0.2.10 must resolve back to {a.hostname}. This "
        "record belongs to whoever owns the address (your hosting provider): ask them.",
        "- **SPF** (`v=spf1 mx -all`): only the domain's MX hosts send its mail; receivers "
        "may reject mail from anywhere else.",
        "- **Next steps that mailwizard does not configure:** DKIM (signing outgoing mail, "
        "e.g. with OpenDKIM or rspamd, and publishing its key as a TXT record) and a DMARC "
        "policy (a TXT record at `_dmarc." + a.domain + "`, starting with `v=DMARC1; p=none` "
        "while you watch the reports). Large mail providers increasingly expect both.", "",
        "Check what is published:", ""]
    checks = [f"dig +short MX {a.domain}", f"dig +short A {a.hostname}",
              f"dig +short TXT {a.domain}", "dig +short -x 192.0.2.10"]
    out += _fence(VERIFY, "\n".join(checks))
    return out


def _final_tests(d: _Doc) -> List[str]:
    a, p = d.answers, d.platform
    h = a.hostname
    user = a.users[0].name if a.users else a.admin_user
    log = f"journalctl -u {p.postfix_unit} -n 50"
    remote = [
        "# the certificate each port presents (compare the fingerprint in your mail client)",
        f"openssl s_client -connect {h}:587 -starttls smtp -servername {h} </dev/null "
        "| openssl x509 -noout -subject -enddate -fingerprint -sha256",
    ]
    for port, on in (("993", a.imap), ("995", a.pop3)):
        if on:
            remote.append(f"openssl s_client -connect {h}:{port} -servername {h} </dev/null "
                          "| openssl x509 -noout -subject -enddate")
    remote += [
        "# before STARTTLS the EHLO answer must not offer AUTH",
        f"swaks --server {h} --port 587 --quit-after EHLO",
        "# send as a user through the submission port (swaks asks for the password)",
        f"swaks --server {h} --port 587 --tls --auth LOGIN --auth-user {user} "
        f"--from {user}@{a.domain} --to {user}@{a.domain}",
        "# relaying for strangers must be refused: expect 'Relay access denied'",
        f"swaks --server {h} --port 25 --from someone@example.org --to someone@example.org",
    ]
    local = [
        "# the test message arrived",
        f"ls ~{user}/Maildir/new",
        "# Dovecot accepts the user's password (asks for it)",
        f"doveadm auth test {user}",
        "# what Postfix logged",
        log,
        "# mailwizard's own checks of every step",
        "mailwizard verify --answers ANSWERS.yaml",
    ]
    return ["## Test the finished server", "",
            "From your workstation, or any machine outside the trusted networks (swaks and "
            "openssl are packaged everywhere):", "",
            *_fence(VERIFY, "\n".join(remote)),
            "Then on the server:", "",
            *_fence(VERIFY, "\n".join(local)),
            "## Undo everything", "",
            "Run the rollback blocks of the steps from the last step back to the first, or "
            "let `mailwizard rollback` undo everything from its journal.", ""]


def render_markdown(engine: Engine) -> str:
    """The whole runbook as Markdown (reproducible: no dates, no secrets)."""
    d = _Doc(engine)
    plans = engine.plan()
    a, p = d.answers, d.platform
    head = [f"# Mail server runbook: {a.hostname} on {p.name}", "",
            f"Platform: **{p.name}** ({_code(p.id)}), Postfix "
            f"{'.'.join(map(str, p.postfix_version))}, Dovecot "
            f"{'.'.join(map(str, p.dovecot_version))}, packages with {p.pkg_manager}. "
            f"{len(plans)} steps, generated by `mailwizard docs` (a dry run: nothing was "
            "changed anywhere).", ""]
    failed = [sp.id for sp in plans if sp.error]
    if failed:
        head += [f"**Warning: {len(failed)} step(s) could not be planned ("
                 f"{', '.join(failed)}); this runbook is incomplete.**", ""]
    body: List[str] = []
    body += _intro(d)
    body += _answers_table(d)
    for n, sp in enumerate(plans, 1):
        body += _step(d, n, sp)
    body += _clients(d)
    body += _dns(d)
    body += _final_tests(d)
    # contents: the level-2 headings with the anchors a renderer will give them
    draft = "\n".join(head + ["## Contents", ""] + body)
    toc = [f"- [{text}](#{anchor})" for level, text, anchor in _headings(draft) if level == 2
           and text != "Contents"]
    text = "\n".join(head + ["## Contents", ""] + toc + [""] + body).rstrip("\n") + "\n"
    for s in d.secrets:
        if s:
            text = text.replace(s, "********")
    return text


# --------------------------------------------------------------------------- HTML
_LABELS = {
    APPLY: "run as root",
    INTERACTIVE: "run as root (asks for input)",
    BACKUP: "back up before the step",
    ROLLBACK: "roll back (only to undo)",
    VERIFY: "check (changes nothing)",
    "diff": "changes in the file",
    "text": "",
}

_CSS = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
background:#fff;margin:0}
main{max-width:62rem;margin:0 auto;padding:1rem 1.5rem 4rem}
h1{font-size:1.9rem;border-bottom:2px solid #d0d7de;padding-bottom:.3rem}
h2{font-size:1.45rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2.5rem}
h3{font-size:1.15rem;margin-top:1.6rem}
a{color:#0969da}
code{font:.9em/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
background:#f3f4f6;padding:.1em .3em;border-radius:4px}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.7rem .9rem;
overflow-x:auto;margin:0}
pre code{background:none;padding:0;font-size:.85rem;white-space:pre}
.block{margin:.6rem 0 1rem}
.block .label{font-size:.75rem;text-transform:uppercase;letter-spacing:.05em;color:#57606a;
margin-bottom:.15rem}
.block.sh pre{border-left:4px solid #1a7f37}
.block.sh-interactive pre{border-left:4px solid #9a6700}
.block.sh-backup pre{border-left:4px solid #0969da}
.block.sh-rollback pre{border-left:4px solid #cf222e;background:#fff8f8}
.block.sh-verify pre{border-left:4px solid #8250df}
.block.diff .add{color:#1a7f37;background:#e6ffec;display:block}
.block.diff .del{color:#cf222e;background:#ffebe9;display:block}
.block.diff .hunk{color:#0969da;display:block}
details summary{cursor:pointer;color:#0969da;font-size:.9rem}
table{border-collapse:collapse;margin:.6rem 0}
th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}
@media print{details:not([open]) pre{display:block}}
"""


def _escape(s: str) -> str:
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _diff_html(body: str) -> str:
    out = []
    for line in body.splitlines():
        cls = ("hunk" if line.startswith("@@") else "add" if line.startswith("+") and not
               line.startswith("+++") else "del" if line.startswith("-") and not
               line.startswith("---") else "")
        out.append(f'<span class="{cls}">{_escape(line)}</span>' if cls else _escape(line))
    return "\n".join(out)


def render_html(markdown: str, title: str) -> str:
    """One self-contained HTML page (inline CSS, no scripts, no external resources)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    slugger = Slugger()

    def heading_open(self, tokens, idx, options, env):  # type: ignore[no-untyped-def]
        inline = tokens[idx + 1]
        text = "".join(c.content for c in (inline.children or [])
                       if c.type in ("text", "code_inline"))
        tokens[idx].attrSet("id", slugger.slug(text))
        return self.renderToken(tokens, idx, options, env)

    def fence(self, tokens, idx, options, env):  # type: ignore[no-untyped-def]
        tok = tokens[idx]
        words = tok.info.split()
        kind = words[0] if words else ""
        body = tok.content.rstrip("\n")
        code = _diff_html(body) if kind == "diff" else _escape(body)
        label = _LABELS.get(kind, kind)
        pre = f'<pre><code class="language-{_escape(kind)}">{code}</code></pre>'
        nlines = body.count("\n") + 1
        if WHOLE_FILE in words[1:] and nlines > 20:
            pre = (f"<details><summary>show the command that writes the whole file "
                   f"({nlines} lines)</summary>{pre}</details>")
        head = f'<div class="label">{_escape(label)}</div>' if label else ""
        return f'<div class="block {_escape(kind)}">{head}{pre}</div>\n'

    md.add_render_rule("heading_open", heading_open)
    md.add_render_rule("fence", fence)
    body = md.render(markdown)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            f"<main>\n{body}</main>\n</body>\n</html>\n")


def render_runbook(engine: Engine, fmt: str = "markdown") -> str:
    """The runbook for ``engine``'s plan: ``fmt`` is ``markdown`` or ``html``."""
    text = render_markdown(engine)
    if fmt == "html":
        title = f"Mail server runbook: {engine.answers.hostname} on {engine.platform.name}"
        return render_html(text, title)
    return text
