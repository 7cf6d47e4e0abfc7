"""What the runbook says for each change and each step, from the changes' shell forms
(:meth:`wizard.changes.Change.shell_form`): the blocks of a change, a step's back-up, roll-back
and check commands, and the files kept for the appendix."""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import replace
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

from ..changes import Change, Preview, ShellForm
from ..shelltext import guarded, negate
from .blocks import APPLY, BACKUP_SUFFIX, INTERACTIVE, WHOLE_FILE, Block, Rendered
from .text import code_span, prose

if TYPE_CHECKING:  # pragma: no cover
    from ..answers import Answers
    from ..engine import Engine, StepPlan
    from ..platforms import Platform

BATCH_WHY = {"directories": "Each directory is created if missing and gets the mode and owner "
                            "shown (parents first):"}
"""What a block of several batched changes does, by batch name (:attr:`ShellForm.batch`)."""


def san_kind(name: str) -> str:
    """``IP`` for an address, ``DNS`` for a name (openssl's subjectAltName syntax)."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return "DNS"
    return "IP"


def is_key(content: str) -> bool:
    low = content.lower()
    return "private key" in low and "certificate" not in low


class Doc:
    """Renders one plan: asks each change for its shell form, once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.answers: Answers = engine.answers
        self.platform: Platform = engine.platform
        self.secrets = [s.reveal() for s in engine.secrets.values()]
        self.edited: Dict[str, str] = {}
        """Path -> the command that writes it whole as the last in-place edit leaves it (for
        the appendix)."""
        self.last_key: Optional[str] = None
        """Target path of the last private key generated (for certificate commands)."""
        self._forms: Dict[int, ShellForm] = {}

    # ------------------------------------------------------------------ per change
    def form(self, change: Change, pv: Preview) -> ShellForm:
        """The change's shell form; a generated key or certificate without commands of its
        own gets openssl lines made from the answers."""
        done = self._forms.get(id(pv))
        if done is not None:
            return done
        form = change.shell_form(pv)
        if pv.changed and form.show and not form.do:
            cmds = self.openssl_for(pv.path, form.show)
            if cmds:
                form = change.shell_form(replace(pv, commands=cmds))
        if form.show and is_key(form.show):
            self.last_key = pv.path
        if form.in_place and pv.commands:
            self.edited[pv.path] = pv.commands[0]
        elif pv.changed and pv.diff:  # the whole new content is shown in the step
            self.edited.pop(pv.path, None)
        self._forms[id(pv)] = form
        return form

    def render_change(self, change: Change, pv: Preview,
                      changed_here: Optional[Set[str]] = None) -> Rendered:
        """Prose and blocks for one change, in reading order. A command that only follows
        files runs when one of them changed in this step (``changed_here``), else its guard
        decides, else it is not needed; so the blocks do what apply does."""
        form = self.form(change, pv)
        items: List[str | Block] = []
        if form.show:
            items += [prose(form.show_why), Block("text", [form.show])]
        if pv.diff and pv.new_content is None:
            items.append(Block("diff", [pv.diff]))
        do, kind = list(form.do), APPLY
        if any(s and s in line for s in self.secrets for line in do):
            for s in self.secrets:
                if s:
                    do = [line.replace(s, "PASSWORD") for line in do]
            kind = INTERACTIVE
            items.append("Replace PASSWORD with the real password before you run this:")
        follows = [f for f in form.runs_after if f in (changed_here or set())]
        if follows:
            items.append(f"Runs because {', '.join(code_span(f) for f in follows)} changed in "
                         "this step:")
        elif form.guard and do:
            do = [guarded(do, negate(form.guard), form.guard_why or "skipped when done")]
        elif form.runs_after:
            files = ", ".join(map(code_span, form.runs_after))
            items.append(f"Not needed: it runs only after {files} changed, and this step "
                         "does not change it.")
            return Rendered(items)
        if form.why:
            items.append(prose(form.why))
        if do:
            items.append(Block(kind, do, extra=WHOLE_FILE if form.whole_file else ""))
        if form.ask:
            items += [prose(form.ask_why), Block(INTERACTIVE, list(form.ask))]
        items += [prose(n) for n in form.notes]
        return Rendered(items)

    def openssl_for(self, path: str, content: str) -> List[str]:
        """openssl lines for a generated key, certificate or CSR (when the recipe gave none)."""
        cert = self.answers.certificate
        target = shlex.quote(path)
        if is_key(content):
            kt = cert.key_type
            if kt.startswith("rsa"):
                alg = f"-algorithm RSA -pkeyopt rsa_keygen_bits:{kt[3:]}"
            else:
                alg = f"-algorithm EC -pkeyopt ec_paramgen_curve:P-{kt.split('-p')[-1]}"
            return [f"(umask 077 && openssl genpkey {alg} -out {target})"]
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
                    f"-out {target}"]
        cmd = (f"openssl req -new -x509 -sha256 -days {int(cert.days)} -key {key}{utf8} "
               f"-subj {shlex.quote(subj)}")
        # a leaf, never a CA: CA:FALSE, serverAuth, keyUsage as fits the key type
        old_openssl = self.platform.is_el and self.platform.major <= 8  # OpenSSL < 3
        if old_openssl:
            # before OpenSSL 3, -addext cannot replace the config's CA:TRUE (v3_ca); the
            # stock config's v3_req section is the leaf profile (CA:FALSE)
            cmd += " -extensions v3_req"
        if not (self.platform.is_el and self.platform.major <= 7):  # OpenSSL >= 1.1.1
            names = [self.answers.cert_cn, *[n for n in cert.extra_names
                                             if n != self.answers.cert_cn]]
            cmd += " -addext " + shlex.quote("subjectAltName=" + ",".join(
                f"{san_kind(n)}:{n}" for n in names))
            cmd += " -addext extendedKeyUsage=serverAuth"
        if not old_openssl:
            usage = ("digitalSignature,keyEncipherment" if cert.key_type.startswith("rsa")
                     else "digitalSignature")
            cmd += (" -addext basicConstraints=critical,CA:FALSE"
                    f" -addext keyUsage=critical,{usage}")
        return [cmd + f" -out {target}"]

    def section_note(self, change: Change, pv: Preview) -> str:
        """The preview's note as the section shows it: without the undo (the roll-back has
        it), the by-hand form (the blocks are it) or a skip reason the blocks repeat."""
        note = pv.note.partition("by hand: ")[0].strip(" ;")
        if note.startswith("undo:"):
            return ""
        form = self.form(change, pv)
        if not pv.changed and form.guard and form.do:
            return ""  # said with the guard ("The guard skips it")
        return note

    # ------------------------------------------------------------------ backups and undo
    def file_paths(self, sp: StepPlan) -> List[Tuple[str, bool]]:
        """(path, existed before the step) of every file the step changes, in order."""
        out: Dict[str, bool] = {}
        for change, pv in zip(sp.changes, sp.previews):
            form = self.form(change, pv)
            if form.restore and pv.changed:
                out.setdefault(form.restore, pv.new_content is None)
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
        """Newest change first: files back from the step's copies, then each change's own
        undo; what must come last (reloads) at the end."""
        suffix = BACKUP_SUFFIX + sp.id
        existed = dict(self.file_paths(sp))
        lines: List[str] = []
        restored: Set[str] = set()
        last: List[str] = []
        for change, pv in reversed(list(zip(sp.changes, sp.previews))):
            form = self.form(change, pv)
            path = form.restore
            if path in existed and path not in restored:
                restored.add(path)
                f, b = shlex.quote(path), shlex.quote(path + suffix)
                if existed[path]:
                    lines.append(f"f=$(readlink -f {f}) && mv -f \"$f{suffix}\" \"$f\"")
                else:
                    lines.append(f"if [ -e {b} ]; then mv -f {b} {f}; else rm -f {f}; fi")
            lines += form.undo
            last += form.undo_last
        return lines + last

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
        """Every change's checks in order, each once; ``postfix check`` last."""
        out: List[str] = []
        for change, pv in zip(sp.changes, sp.previews):
            out += self.form(change, pv).check
        postfix = "postfix check" in out
        seen: Set[str] = {"postfix check"}
        checks = [c for c in out if not (c in seen or seen.add(c))]  # type: ignore[func-returns-value]
        return checks + (["postfix check"] if postfix else [])
