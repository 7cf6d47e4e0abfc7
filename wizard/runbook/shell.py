"""How each change shows in the runbook (its shell form and prose), and each step's back-up,
roll-back and check commands."""

from __future__ import annotations

import posixpath
import re
import shlex
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

from ..changes import (
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
from ..shelltext import continued, sed_edit
from .blocks import (
    APPLY,
    BACKUP_SUFFIX,
    INTERACTIVE,
    WHOLE_FILE,
    Block,
    Rendered,
    guarded,
    is_key,
    san_kind,
    shq,
    strip_comment,
)
from .text import code_span, prose


def postconf_lines(change: PostfixParams) -> List[str]:
    """``postconf -e`` (and ``-X``) lines that set what ``change`` sets, values quoted."""
    cfg = "" if change.path == "/etc/postfix/main.cf" else (
        f" -c {shlex.quote(posixpath.dirname(change.path))}")
    out = []
    if change.params:
        out.append(continued(f"postconf{cfg} -e", [
            shlex.quote(f"{k} = {v}") for k, v in change.params.items()]))
    if change.remove_names:
        out.append(f"postconf{cfg} -X " + shq(change.remove_names))
    return out


if TYPE_CHECKING:  # pragma: no cover
    from ..answers import Answers
    from ..engine import Engine, StepPlan
    from ..platforms import Platform


class Doc:
    """Renders one plan."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.answers: Answers = engine.answers
        self.platform: Platform = engine.platform
        self.secrets = [s.reveal() for s in engine.secrets.values()]
        self.edited: Dict[str, str] = {}
        """Path -> the command that writes it whole as the last in-place edit left it (for
        the appendix)."""
        self.last_key: Optional[str] = None
        """Target path of the last private key generated (for certificate commands)."""

    # ------------------------------------------------------------------ per change
    def render_change(self, change: Change, pv: Preview,
                      changed_here: Optional[Set[str]] = None) -> Rendered:
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
        return Rendered([Block(APPLY, list(pv.commands))] if pv.commands else [])

    def _file(self, change: FileChange, pv: Preview) -> Rendered:
        mode = f"{change.mode:04o}" if change.mode is not None else None
        if not pv.changed and not pv.commands:
            return Rendered(["Already as wanted: nothing to do."])
        if pv.new_content is not None:
            return Rendered([
                f"A new file{', mode ' + mode if mode else ''}, owned by "
                f"{change.owner}:{change.group}. The command writes it in full:",
                Block(APPLY, list(pv.commands))])
        items: List[str | Block] = []
        if pv.diff:
            items.append(Block("diff", [pv.diff]))
        if pv.commands and pv.commands[0].startswith("rm "):
            items += ["The file is removed:", Block(APPLY, list(pv.commands))]
        elif pv.diff:
            in_place = self._in_place(change, pv)
            if in_place:
                self.edited[pv.path] = pv.commands[0]
                items += in_place
            else:
                self.edited.pop(pv.path, None)
                items += ["This command writes the whole file with the change above:",
                          Block(APPLY, list(pv.commands), extra=WHOLE_FILE)]
        elif pv.commands:
            items += ["The content is already right; only the mode changes:",
                      Block(APPLY, list(pv.commands))]
        return Rendered(items)

    def _in_place(self, change: FileChange, pv: Preview) -> List[str | Block]:
        """A structured edit as the commands an admin types: ``postconf -e`` for main.cf,
        else ``sed -i`` replaying the diff; [] when neither expresses it (write the file)."""
        tail = []
        if change.mode is not None:
            tail.append(f"chmod {change.mode:04o} {shlex.quote(change.path)}")
        if (change.owner, change.group) != ("root", "root"):
            tail.append(f"chown {shlex.quote(change.owner + ':' + change.group)} "
                        f"{shlex.quote(change.path)}")
        if isinstance(change, PostfixParams) and posixpath.basename(change.path) == "main.cf":
            return ["By hand, with Postfix's own editor (it adds a parameter at the end of "
                    "the file where mailwizard puts it next to its commented default: the "
                    "settings are the same, and the [appendix](#appendix-the-edited-files-in-"
                    "full) has the file byte for byte):",
                    Block(APPLY, ["\n".join(postconf_lines(change) + tail)])]
        if not isinstance(change, (PostfixParams, MasterService, DovecotSettings, ShellVars,
                                   AliasEntries)):
            return []
        edit = sed_edit(change.path, pv.diff)
        if edit is None:
            return []
        guard, cmd = edit
        return ["This command makes the change above in place (the line numbers are those "
                "of the file the diff shows; it is skipped when the change is already made):",
                Block(APPLY, ["\n".join([f"{guard} ||", cmd, *tail])])]

    def _generated(self, change: GeneratedFile, pv: Preview) -> Rendered:
        if not pv.changed:
            return Rendered(["The file exists already and is kept as it is."])
        content = pv.new_content or change.preview_text
        mode = f"{(change.mode if change.mode is not None else 0o644):04o}"
        items: List[str | Block] = [
            f"mailwizard generates this file once and keeps it if it exists. It will look like "
            f"this (mode {mode}, owned by {change.owner}:{change.group}):",
            Block("text", [content])]
        cmds = list(pv.commands) or self._openssl_for(change, content)
        if is_key(content):
            self.last_key = change.path
        if cmds:
            path = shlex.quote(change.path)
            owner = shlex.quote(f"{change.owner}:{change.group}")
            body = "\n".join([*cmds, f"chmod {mode} {path}", f"chown {owner} {path}"])
            items += ["By hand, this makes an equivalent file (the bytes differ from what "
                      "mailwizard would write: a new random key, serial number or signature):",
                      Block(APPLY, [guarded(body, f"[ ! -e {path} ]",
                                              f"only when {change.path} does not exist yet")])]
        else:
            items.append(f"There is no shell equivalent: let `mailwizard apply` make this file, "
                         f"or put a suitable file at {code_span(change.path)} yourself.")
        return Rendered(items)

    def _openssl_for(self, change: GeneratedFile, content: str) -> List[str]:
        """openssl lines for a generated key, certificate or CSR (when the recipe gave none)."""
        cert = self.answers.certificate
        path = shlex.quote(change.path)
        if is_key(content):
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
                f"{san_kind(n)}:{n}" for n in names))
        return [cmd + f" -out {path}"]

    def _command(self, change: Command, pv: Preview, changed_here: Set[str]) -> Rendered:
        """The command with the probe the engine uses, so that the block does what apply
        does: after a file it depends on changed in this step it always runs; otherwise
        ``creates``/``unless`` decide; a command that only follows files does not run."""
        cmd = pv.commands[0] if pv.commands else change.shell()
        kind = APPLY
        items: List[str | Block] = []
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
            items.append(f"Runs because {', '.join(code_span(f) for f in follows)} changed in "
                         "this step:")
        elif change.creates:
            cmd = guarded(cmd, f"[ ! -e {shlex.quote(change.creates)} ]",
                           f"only when {change.creates} does not exist yet")
        elif change.unless:
            cmd = guarded(cmd, f"! {shq(change.unless)} >/dev/null 2>&1",
                           "skipped when already done")
        elif change.after_files:
            files = ", ".join(map(code_span, change.after_files))
            items.append(f"Not needed: it runs only after {files} changed, and this step "
                         "does not change it.")
            return Rendered(items)
        if not pv.changed:
            items.append(prose(pv.note or "Nothing to do on this system.") + " (The guard "
                         "skips it.)")
        items.append(Block(kind, [cmd]))
        return Rendered(items)

    def _packages(self, change: Packages, pv: Preview) -> Rendered:
        if change.manager != "apt":
            return Rendered([Block(APPLY, list(pv.commands))])
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
                         "#   " + strip_comment(c),
                         "installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\\n' "
                         + shq(change.remove) + " 2>/dev/null | awk '$1 == \"ii\" {print $2}')",
                         "[ -z \"$installed\" ] || DEBIAN_FRONTEND=noninteractive apt-get "
                         "remove -y -q $installed"]
                continue
            if c.startswith("apt-get "):
                c = "DEBIAN_FRONTEND=noninteractive " + c
            cmds.append(c)
        return Rendered([Block(APPLY, cmds)])

    def _account(self, change: UserGroup, pv: Preview) -> Rendered:
        plain = [c for c in pv.commands if not c.startswith("passwd ")]
        items: List[str | Block] = []
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
            items.append(Block(APPLY, [guarded("\n".join(plain), guard, why)]))
        if len(plain) != len(pv.commands):
            items.append(f"Give {change.user} a password: passwd asks for it twice. Mail "
                        "clients log in with this user name and password (mailwizard sets "
                        "it when the answers give one, and never prints it).")
            items.append(Block(INTERACTIVE, [f"passwd {shlex.quote(change.user)}"]))
        return Rendered(items)

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
                    lines.append(shq(change.undo_argv))
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
                    lines.append(shq(["gpasswd", "-d", change.user, change.member_of]))
                elif change.user:
                    lines.append(shq(["userdel", *(["-r"] if change.create_home else []),
                                     change.user]) + "   # removes the mailbox too")
                else:
                    lines.append(shq(["groupdel", change.group]))
            elif isinstance(change, Directory) and pv.changed and "exists" not in pv.note:
                lines.append(f"rmdir {shlex.quote(change.path)} 2>/dev/null || true   "
                             "# only if empty")
        return lines + after

    @staticmethod
    def _packages_undo(change: Packages) -> List[str]:
        out = []
        if change.install:
            if change.manager == "apt":
                out.append("DEBIAN_FRONTEND=noninteractive " + shq(
                    ["apt-get", "purge", "-y", "-q", *change.install])
                    + "   # only what this step installed")
            else:
                out.append(shq([change.manager, "remove", "-y", *change.install])
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

