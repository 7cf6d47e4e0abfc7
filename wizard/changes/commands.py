"""Commands: run a command (with a probe that says whether it is needed) and plan notes."""

from __future__ import annotations

import shlex
from typing import List, Mapping, Optional, Sequence, Set

from ..errors import CommandFailed
from .base import Change, ChangeContext, Preview, Record, ShellForm, View, quote_argv


# --------------------------------------------------------------------------- commands
class Command(Change):
    """Run a command.

    Args:
        argv: the command.
        undo: command that reverses it (None: nothing to undo, e.g. ``newaliases`` whose
            effect is redone by the undo of the file change plus ``undo_rerun``).
        unless: probe; when it exits 0 the change is already satisfied.
        creates: target path; when it exists the change is already satisfied.
        after_files: run only when one of these paths changed in this apply (e.g. ``postmap``
            after its source changed), or when ``creates`` is missing.
    """

    kind = "command"

    def __init__(self, argv: Sequence[str], *, undo: Optional[Sequence[str]] = None,
                 unless: Optional[Sequence[str]] = None, creates: Optional[str] = None,
                 description: str = "", daemon: bool = False,
                 env: Optional[Mapping[str, str]] = None,
                 after_files: Sequence[str] = (),
                 input: Optional[str] = None, timeout: float = 600) -> None:
        self.argv = [str(a) for a in argv]
        self.undo_argv = [str(a) for a in undo] if undo else None
        self.unless = [str(a) for a in unless] if unless else None
        self.creates = creates
        self.description = description
        self.daemon = daemon
        self.env = dict(env or {})
        self.after_files = list(after_files)
        self.input = input
        self.timeout = timeout

    def describe(self) -> str:
        return self.description or f"run {quote_argv(self.argv)}"

    def shell(self) -> str:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        return (env + " " if env else "") + quote_argv(self.argv)

    def preview(self, view: View) -> Preview:
        if self.creates and view.exists(self.creates):
            return Preview(self.kind, self.describe(), commands=[self.shell()], changed=False,
                           note=f"{self.creates} exists: skipped")
        return Preview(self.kind, self.describe(), commands=[self.shell()],
                       note=("undo: " + quote_argv(self.undo_argv)) if self.undo_argv else "")

    def satisfied(self, ctx: ChangeContext, changed_paths: Set[str]) -> bool:
        """True when running the command would change nothing."""
        ex = ctx.executor
        if self.after_files and any(p in changed_paths for p in self.after_files):
            return False
        if self.creates:
            return ex.exists(self.creates)
        if self.unless:
            return ex.run(self.unless, quiet=True, timeout=120).ok
        if self.after_files:
            return True
        # no probe: the session's ledger says whether it already ran
        return tuple(self.argv) in ctx.done_commands

    def prepare(self, ctx: ChangeContext) -> Optional[Record]:
        if self.satisfied(ctx, ctx.changed_paths):
            return None
        return {"argv": self.argv, "undo": self.undo_argv, "env": self.env,
                "unless": self.unless, "creates": self.creates,
                "after_files": self.after_files}

    def commit(self, ctx: ChangeContext, rec: Record) -> None:
        if rec.get("resumed") and type(self).took_effect(ctx, rec):
            return  # the interrupted run got it done: its probe says so
        res = ctx.executor.run(self.argv, env=self.env, daemon=self.daemon, input=self.input,
                               timeout=self.timeout)
        if not res.ok:
            raise CommandFailed(self.argv, res.returncode, res.output)

    @classmethod
    def took_effect(cls, ctx: ChangeContext, rec: Record) -> Optional[bool]:
        if rec.get("unless"):
            return ctx.executor.run(rec["unless"], quiet=True, timeout=120).ok
        if rec.get("creates") and not rec.get("after_files"):
            return ctx.executor.exists(rec["creates"])
        return None

    @classmethod
    def undo_record(cls, ctx: ChangeContext, rec: Record, force: bool = False) -> List[str]:
        if rec.get("undo"):
            res = ctx.executor.run(rec["undo"], env=rec.get("env") or {}, timeout=600)
            if not res.ok:
                return [f"undo command `{quote_argv(rec['undo'])}` failed: {res.output}"]
        return []


    def shell_form(self, preview: Preview) -> ShellForm:
        """The command (its input as a here-document) behind the probe apply uses: ``creates``
        or ``unless`` as the guard, ``after_files`` as the files that make it run."""
        cmd = preview.commands[0] if preview.commands else self.shell()
        if self.input is not None:
            data = self.input
            marker = "MAILWIZARD_INPUT"
            while marker in data:
                marker += "_"
            if not data.endswith("\n"):
                data += "\n"
            cmd = f"{cmd} <<'{marker}'\n{data}{marker}"
        guard = guard_why = ""
        if self.creates:
            guard = f"[ -e {shlex.quote(self.creates)} ]"
            guard_why = f"only when {self.creates} does not exist yet"
        elif self.unless:
            guard = f"{quote_argv(self.unless)} >/dev/null 2>&1"
            guard_why = "skipped when already done"
        why = "" if preview.changed else (
            (preview.note or "Nothing to do on this system.") + " (The guard skips it.)")
        return ShellForm(do=(cmd,), guard=guard, guard_why=guard_why, why=why,
                         runs_after=tuple(self.after_files),
                         undo=(quote_argv(self.undo_argv),) if self.undo_argv else (),
                         check=(f"ls -l {shlex.quote(self.creates)}",) if self.creates else ())


# --------------------------------------------------------------------------- a note in a plan
class Note(Change):
    """Changes nothing; shows a remark in the plan (e.g. why a step has nothing to do)."""

    kind = "note"
    journaled = False

    def __init__(self, title: str, note: str = "") -> None:
        self.title = title
        self.note = note

    def describe(self) -> str:
        return self.title

    def preview(self, view: View) -> Preview:
        return Preview(self.kind, self.title, note=self.note, changed=False)

    def prepare(self, ctx: ChangeContext) -> None:
        return None

    def commit(self, ctx: ChangeContext, rec: Record) -> None:
        return None


    def shell_form(self, preview: Preview) -> ShellForm:
        """Nothing to run: the note says it all."""
        return ShellForm()
