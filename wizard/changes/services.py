"""Services: enable and (re)start or reload daemons through systemd, SysV or directly."""

from __future__ import annotations

import contextlib
import hashlib
import shlex
from typing import ContextManager, Dict, List, Optional, Sequence, Tuple

from ..errors import CommandFailed, ExecutorError, ValidationFailed
from ..executor import Executor
from ..facts import systemd_running, unit_active
from ..shelltext import code_span
from .base import Change, ChangeContext, Preview, Record, ShellForm, View, quote_argv
from .files import FileWrite


# --------------------------------------------------------------------------- services
def service_manager(executor: Executor, name: str = "") -> str:
    """How to control service ``name`` on the target: ``systemd`` when systemd runs it,
    ``sysv`` when an init script exists, else ``direct`` (containers and chroots without an
    init system: mailwizard starts the daemons itself)."""
    if systemd_running(executor):
        return "systemd"
    if name and executor.exists(f"/etc/init.d/{name}"):
        return "sysv"
    return "direct" if name else "sysv"


# Direct control of the daemons we manage when no init system runs (containers, chroots).
DIRECT: Dict[str, Dict[str, List[List[str]]]] = {
    "postfix": {
        "start": [["postfix", "start"]],
        "stop": [["postfix", "stop"]],
        "reload": [["postfix", "reload"]],
        "status": [["postfix", "status"]],
    },
    "dovecot": {
        "start": [["dovecot"]],
        "stop": [["doveadm", "stop"]],
        "reload": [["doveadm", "reload"]],
        "status": [["doveadm", "service", "status"]],
    },
}


class Service(Change):
    """Enable and (re)start or reload a service, through systemd, SysV or directly.

    ``action`` is ``start`` (start if stopped, else restart when ``restart_if_running``), or
    ``reload`` (reload if running, else start). Undo stops what this run started and disables
    what it enabled. ``wake`` is the daemon's listening socket (``local:/path`` or
    ``inet:PORT@127.0.0.1``) when it notices a stop only at its listener's next poll
    (libmilter: up to 5 s): while a stop runs, mailwizard knocks on it (see
    :mod:`wizard.executor.knock`).
    """

    recheck_on_resume = True

    kind = "service"

    def __init__(self, name: str, action: str = "start", enable: bool = True,
                 units: Optional[Sequence[str]] = None, restart_if_running: bool = False,
                 direct: Optional[Dict[str, List[List[str]]]] = None,
                 status_unit: Optional[str] = None, wake: str = "") -> None:
        self.name = name
        self.wake = wake
        self.action = action
        self.enable = enable
        self.unit = (units or [name])[0]
        self.status_unit = status_unit or self.unit
        self.restart_if_running = restart_if_running
        self.direct = direct or DIRECT.get(name, {})

    def describe(self) -> str:
        verb = {"start": "start", "reload": "reload or start", "restart": "restart"}[self.action]
        return f"{'enable and ' if self.enable else ''}{verb} {self.name}"

    def preview(self, view: View) -> Preview:
        cmds = []
        if self.enable:
            cmds.append(f"systemctl enable {shlex.quote(self.unit)}")
        if self.action == "reload":
            cmds.append(f"systemctl reload-or-restart {shlex.quote(self.unit)}")
        elif self.action == "restart" or self.restart_if_running:
            cmds.append(f"systemctl restart {shlex.quote(self.unit)}")
        else:
            cmds.append(f"systemctl start {shlex.quote(self.unit)}")
        note = f"without systemd: service {self.name} start (init script)"
        if self.direct.get("start"):
            note += ", else " + "; ".join(quote_argv(c) for c in self.direct["start"])
        return Preview(self.kind, self.describe(), commands=cmds, note=note)

    # -- state probes
    def _running(self, ctx: ChangeContext, mgr: str) -> bool:
        ex = ctx.executor
        if mgr == "systemd":
            return unit_active(ex, self.status_unit)
        pidfile = self.direct.get("pidfile")  # [[path, name...]]: read from /proc, no tool
        if pidfile:
            return ex.daemon_pid(pidfile[0][0], pidfile[0][1:]) is not None
        if mgr == "direct" or self.direct.get("status"):
            cmds = self.direct.get("status", [])
            return bool(cmds) and all(ex.run(c, quiet=True, timeout=60).ok for c in cmds)
        return ex.run(["service", self.name, "status"], quiet=True, timeout=60).ok

    def _enabled(self, ctx: ChangeContext, mgr: str) -> bool:
        if mgr != "systemd":
            return True
        return ctx.executor.run(["systemctl", "is-enabled", "--quiet", self.unit], quiet=True,
                                timeout=60).ok

    def _do(self, ctx: ChangeContext, mgr: str, verb: str) -> None:
        ex = ctx.executor
        if mgr == "systemd":
            cmds = [["systemctl", verb, self.unit]]
        elif mgr == "sysv":
            cmds = [["service", self.name, verb]]
        elif self.direct.get(verb):
            cmds = self.direct[verb]
        elif verb == "stop" and self.direct.get("pidfile"):
            spec = self.direct["pidfile"][0]
            with self._knocking(ex, verb):
                ex.stop_daemon(spec[0], spec[1:])
            return
        else:
            raise ExecutorError(f"no way to {verb} {self.name}: no systemd, no init script")
        with self._knocking(ex, verb):
            for cmd in cmds:
                res = ex.run(cmd, daemon=verb in ("start", "restart", "reload"), timeout=180)
                if not res.ok:
                    raise CommandFailed(cmd, res.returncode, res.output)

    def _knocking(self, ex: Executor, verb: str) -> ContextManager[object]:
        """Knock on the daemon's listener while it stops (``stop``, ``restart``), so that it
        exits when told to instead of at its next poll; nothing else."""
        if self.wake and verb in ("stop", "restart"):
            try:
                return ex.knocking(self.wake)
            except ValueError:
                pass  # not a loopback listener (a changed record): stop without knocking
        return contextlib.nullcontext()

    def prepare(self, ctx: ChangeContext) -> Optional[Record]:
        mgr = service_manager(ctx.executor, self.name)
        running = self._running(ctx, mgr)
        enabled = self._enabled(ctx, mgr)
        rec: Record = {"manager": mgr, "was_running": running, "was_enabled": enabled,
                       "name": self.name, "unit": self.unit, "status_unit": self.status_unit,
                       "enable": self.enable, "direct": self.direct}
        if self.wake:
            rec["wake"] = self.wake
        if self.action == "start" and running and not self.restart_if_running and (
                enabled or not self.enable):
            return None
        return rec

    def commit(self, ctx: ChangeContext, rec: Record) -> None:
        mgr = rec["manager"]
        if self.enable and not rec["was_enabled"] and mgr == "systemd":
            self._do(ctx, mgr, "enable")
        action = rec.get("action") or self.action  # a forced restart is in the record
        running = self._running(ctx, mgr)
        if not running:
            self._do(ctx, mgr, "start")
        elif action == "reload":
            self._do(ctx, mgr, "reload")
        elif action == "restart" or self.restart_if_running:
            if mgr == "systemd":
                self._do(ctx, mgr, "restart")
            else:
                self._do(ctx, mgr, "stop")
                self._do(ctx, mgr, "start")

    @classmethod
    def undo_ahead(cls, ctx: ChangeContext, rec: Record) -> bool:
        """Stop the daemon when this run started it (the first part of :meth:`undo_record`),
        so that a rollback stops every daemon of the run at once: OpenDKIM takes up to 5 s
        to exit, Dovecot about 1 s. A failure is left for :meth:`undo_record` to report."""
        if rec["was_running"]:
            return False
        self = Service(rec["name"], enable=rec["enable"], units=[rec["unit"]],
                       direct=rec.get("direct"), status_unit=rec.get("status_unit"),
                       wake=str(rec.get("wake") or ""))
        try:
            if self._running(ctx, rec["manager"]):
                self._do(ctx, rec["manager"], "stop")
        except ExecutorError:
            pass
        return True

    @classmethod
    def undo_record(cls, ctx: ChangeContext, rec: Record, force: bool = False) -> List[str]:
        """Stop what this run started, disable what it enabled; a daemon that ran before is
        reloaded, or restarted again when the record says it was restarted (``action``:
        saslauthd and postgrey cannot reload, and postfix must rebind its sockets)."""
        self = Service(rec["name"], enable=rec["enable"], units=[rec["unit"]],
                       direct=rec.get("direct"), status_unit=rec.get("status_unit"),
                       wake=str(rec.get("wake") or ""))
        mgr = rec["manager"]
        warnings = []
        try:
            if not rec["was_running"] and self._running(ctx, mgr):
                self._do(ctx, mgr, "stop")
            elif rec["was_running"] and self._running(ctx, mgr):
                if rec.get("action") != "restart":
                    self._do(ctx, mgr, "reload")
                elif mgr == "systemd":
                    self._do(ctx, mgr, "restart")
                else:
                    self._do(ctx, mgr, "stop")
                    self._do(ctx, mgr, "start")
            if self.enable and not rec["was_enabled"] and mgr == "systemd":
                self._do(ctx, mgr, "disable")
        except ExecutorError as exc:
            warnings.append(str(exc))
        return warnings


    def shell_form(self, preview: Preview) -> ShellForm:
        """The systemctl lines; what apply does without systemd is said after them."""
        unit = shlex.quote(self.unit)
        last: Tuple[str, ...] = ()
        if self.action != "start" or self.restart_if_running:
            last = (f"# if {self.unit} ran before this step, keep it and let it read the "
                    f"restored files instead:\n#   systemctl reload-or-restart {unit}",)
        sysv = code_span(f"service {self.name} start")
        direct = "; ".join(quote_argv(c) for c in self.direct.get("start", []))
        if direct:
            note = (f"Without systemd, mailwizard runs {sysv} where the init script "
                    f"/etc/init.d/{self.name} exists, else (a container with no init system) "
                    f"{code_span(direct)}.")
        else:
            note = f"Without systemd, mailwizard runs {sysv}."
        return ShellForm(do=tuple(preview.commands), notes=(note,), undo_last=last,
                         undo=(f"systemctl disable --now {unit}   # if it was not running "
                               "before this step",),
                         check=(f"systemctl is-enabled {unit}",
                                f"systemctl is-active {shlex.quote(self.status_unit)}"))


# --------------------------------------------------------------------------- checks
# --------------------------------------------------------------------------- fingerprints
def fingerprint(ex: Executor, paths: Sequence[str]) -> str:
    """SHA-256 over the content of the given files (directories: their files, sorted)."""
    h = hashlib.sha256()
    for path in paths:
        st = ex.stat(path)
        if st is not None and st.is_dir:
            files = [f"{path}/{n}" for n in ex.listdir(path)]
        else:
            files = [path]
        for f in files:
            fst = ex.stat(f)
            if fst is not None and fst.is_dir:
                continue
            data = ex.read_bytes(f)
            h.update(f.encode() + b"\0")
            h.update(hashlib.sha256(data).digest() if data is not None else b"-")
    return h.hexdigest()


class Validate(Change):
    """Run a configuration checker before any daemon is (re)started; stop the step if it
    complains.

    Nothing is changed, so nothing is journaled: ``prepare`` runs the command and returns None
    (reported "unchanged"), or raises :class:`ValidationFailed` with the checker's output, which
    stops the step before any daemon is (re)started with a broken configuration. When the
    ``config`` files are byte for byte those of the last successful check, the check is not
    repeated (``postfix check`` alone costs about 2 s): nothing new could fail it, and the
    services step reloads only changed configurations.
    """

    kind = "check"
    journaled = False

    def __init__(self, argv: Sequence[str], description: str = "",
                 config: Sequence[str] = ()) -> None:
        self.argv = [str(a) for a in argv]
        self.description = description
        self.config = list(config)

    def _stamp_key(self) -> str:
        return "validate-stamp-" + "-".join(self.argv).replace("/", "_")

    def describe(self) -> str:
        return self.description or f"check {quote_argv(self.argv)}"

    def preview(self, view: View) -> Preview:
        return Preview(self.kind, self.describe(), commands=[quote_argv(self.argv)], changed=False,
                       note="runs before any daemon is (re)started, whenever the "
                            "configuration changed since the last successful check")

    def prepare(self, ctx: ChangeContext) -> Optional[Record]:
        fp = fingerprint(ctx.executor, self.config) if self.config else None
        if fp is not None:
            try:
                if ctx.backups.load(self._stamp_key()).decode() == fp:
                    self._remember(ctx, fp, "an earlier apply's validation accepted these "
                                   "very files")
                    return None
            except OSError:
                pass
        res = ctx.executor.run(self.argv, quiet=True, timeout=300)
        if not res.ok:
            raise ValidationFailed(
                f"`{quote_argv(self.argv)}` rejected the configuration (exit {res.returncode}); "
                f"nothing was restarted:\n{res.output[-3000:]}")
        warned = False
        for line in res.output.splitlines():
            if "warning" in line.lower():
                ctx.log(line)
                warned = True
        if fp is not None:
            ctx.backups.save(self._stamp_key(), fp.encode())
            if not warned:
                self._remember(ctx, fp, "this apply's validation accepted these very files")
        return None

    def _remember(self, ctx: ChangeContext, fp: str, how: str) -> None:
        """Tell the apply's checks that the validator is satisfied while the files keep the
        fingerprint ``fp`` (:attr:`Executor.validated`): they say so instead of running it a
        second time (``postfix check`` costs 0.5-2 s)."""
        ex, config = ctx.executor, list(self.config)
        names = ", ".join(config)

        def still() -> Optional[str]:
            if fingerprint(ex, config) != fp:
                return None
            return f"{how} (SHA-256 of {names} unchanged)"

        ex.validated[tuple(self.argv)] = still

    def commit(self, ctx: ChangeContext, rec: Record) -> None:  # pragma: no cover - never
        return None


class ConfiguredService(Service):
    """A service that is (re)loaded only when its configuration changed since the last time.

    The fingerprint (SHA-256 of the configuration files) of the last successful reload is
    kept in the session's state directory, so a converged re-run reports "unchanged" instead
    of reloading every time. ``must_restart`` forces a full restart (e.g. new listen address).
    """

    def __init__(self, name: str, action: str = "reload", enable: bool = True,
                 units: Optional[Sequence[str]] = None, restart_if_running: bool = False,
                 direct: Optional[Dict[str, List[List[str]]]] = None,
                 status_unit: Optional[str] = None, config: Sequence[str] = (),
                 must_restart: bool = False, why: str = "", wake: str = "") -> None:
        super().__init__(name, action=action, enable=enable, units=units,
                         restart_if_running=restart_if_running, direct=direct,
                         status_unit=status_unit, wake=wake)
        self.config = list(config)
        self.must_restart = must_restart
        self.why = why

    def _stamp_key(self) -> str:
        return f"service-stamp-{self.name}"

    def _stamp(self, ctx: ChangeContext) -> Optional[str]:
        try:
            return ctx.backups.load(self._stamp_key()).decode()
        except OSError:
            return None

    def preview(self, view: View) -> Preview:
        p = super().preview(view)
        if self.must_restart:
            p.commands = [c.replace("reload-or-restart", "restart") for c in p.commands]
        notes = [n for n in (self.why, p.note,
                             "skipped when running and its configuration is unchanged since "
                             "the last reload") if n]
        p.note = "; ".join(notes)
        return p

    def prepare(self, ctx: ChangeContext) -> Optional[Record]:
        rec = super().prepare(ctx)
        if rec is None:  # "start" action and already running
            return None
        fp = fingerprint(ctx.executor, self.config)
        enabled_ok = rec["was_enabled"] or not self.enable or rec["manager"] != "systemd"
        if (rec["was_running"] and enabled_ok and not self.must_restart
                and fp == self._stamp(ctx)):
            return None
        rec["fingerprint"] = fp
        rec["action"] = "restart" if self.must_restart else self.action
        return rec

    def commit(self, ctx: ChangeContext, rec: Record) -> None:
        super().commit(ctx, rec)  # rec["action"] says "restart" when must_restart
        ctx.backups.save(self._stamp_key(), fingerprint(ctx.executor, self.config).encode())



# --------------------------------------------------------------------------- systemd
class SystemdDropIn(FileWrite):
    """A systemd drop-in; ``systemctl daemon-reload`` follows the write and its undo."""

    @staticmethod
    def _reload(ctx: ChangeContext) -> List[str]:
        if not service_manager(ctx.executor) == "systemd":
            return []
        res = ctx.executor.run(["systemctl", "daemon-reload"], timeout=120)
        return [] if res.ok else [f"systemctl daemon-reload failed: {res.output}"]

    def preview(self, view: View) -> Preview:
        p = super().preview(view)
        if p.changed:
            p.commands.append("systemctl daemon-reload")
        return p

    def commit(self, ctx: ChangeContext, rec: Record) -> None:
        if service_manager(ctx.executor) == "systemd":
            # the undo (core FileChange, from the record alone) reloads systemd after it
            rec["undo_then"] = [["systemctl", "daemon-reload"]]
        super().commit(ctx, rec)
        self._reload(ctx)
