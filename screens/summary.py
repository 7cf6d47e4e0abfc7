"""Summary: what changed, every check, where the session and backups are, how to roll back,
the settings users type into their mail clients, the next steps and the DNS records to
publish."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from wizard.answers import Answers
from wizard.checks import CheckResult, summarize
from wizard.dnsrecords import ADVICE, FILL, PENDING
from wizard.dnsrecords.gather import DnsPlan

from .common import StyledOnMount, export_runbook, runbook_written, show_error
from .context import WizardContext
from .messages import TaskDone, TaskFailed
from .next_steps import next_steps
from .rehearsal import offer_rehearsal
from .render import checks_text
from .results import Move, Result
from .widgets import DryRunBanner, KeysFooter, RehearsalBanner, StepProgress, WizardHeader


def client_settings(answers: Answers) -> Text:
    """What a user configures in Thunderbird, Outlook, a phone, ..."""
    host = answers.hostname
    text = Text()
    rows: List[Tuple[str, str]] = []
    if answers.imap:
        rows.append(("Incoming (IMAP)", f"{host}, port 993, SSL/TLS"))
    if answers.pop3:
        rows.append(("Incoming (POP3)", f"{host}, port 995, SSL/TLS"))
    rows.append(("Outgoing (SMTP)", f"{host}, port 587, STARTTLS"))
    rows.append(("Authentication", "normal password, on both"))
    rows.append(("User name", "the account name (e.g. "
                 f"{answers.admin_user or 'alice'}), without @{answers.domain}"))
    rows.append(("Password", "the account's system password"))
    for label, value in rows:
        text.append(f"  {label:17}", style="bold")
        text.append(value + "\n")
    if answers.certificate.mode == "self-signed":
        text.append("  The certificate is self-signed: clients ask once to accept it; "
                    "compare its fingerprint before you do.\n", style="italic")
    return text


def dns_text(plan: Optional[DnsPlan]) -> Text:
    """The records the domain needs, one block each (what ``mailwizard dns --format table``
    prints), with the notes and the MTA-STS policy file."""
    text = Text()
    if plan is None:
        return Text("The records follow from the answers: valid answers first.")
    for note in plan.notes:
        text.append(note + "\n", style="italic")
    for r in plan.records:
        text.append(f"  {r.display_name} {r.type}", style="bold")
        state = {FILL: ", fill in", PENDING: ", made at apply",
                 ADVICE: ", at your hosting provider"}.get(r.state, "")
        text.append(f"  {r.purpose}, {r.level}{state}\n", style="dim")
        text.append(f"    {r.value}\n")
    for url, policy in plan.policies:
        text.append(f"  MTA-STS policy file at {url}:\n", style="bold")
        text.append("".join(f"    {line}\n" for line in policy.splitlines()))
    text.append("mailwizard dns prints these as a zone file; mailwizard dns --check says "
                "which are published.", style="dim")
    return text


class SummaryScreen(StyledOnMount, Screen[Result]):
    """The end of the walk-through (also reachable with ``s`` from the step list).
    Dismisses with BACK (Escape: the step list)."""

    HELP_TITLE = "Summary"
    HELP = (
        "Where the install stands: every step's state, the checks, what to test from a mail "
        "client, the DNS records to publish (at the end: End or Page Down) and what to do "
        "next. c runs every check again; e writes the runbook.")
    TITLE = "mailwizard"
    SUB_TITLE = "Summary"
    AUTO_FOCUS = None  # on_mount focuses the body

    BINDINGS = [
        Binding("c", "check_all", "Check all"),
        Binding("e", "export", "Export runbook"),
        Binding("escape", "back", "Back"),
        Binding("q", "quit_app", "Quit", show=False),
    ]

    def __init__(self, ctx: WizardContext) -> None:
        super().__init__()
        self.ctx = ctx

    def compose(self) -> ComposeResult:
        yield WizardHeader()
        if self.ctx.dry_run:
            yield DryRunBanner(self.ctx.dry_run_reason)
        elif self.ctx.rehearsal:
            yield RehearsalBanner()
        yield StepProgress(id="summary-progress")
        with VerticalScroll(id="summary-body", can_focus=True):
            yield Static("What changed", classes="section")
            yield Static(self._changes_text(), id="summary-changes")
            yield Static("Checks", classes="section")
            yield Static(self._checks_text(), id="summary-checks")
            yield Static("Session, backups and rollback", classes="section")
            yield Static(self._session_text(), id="summary-session")
            yield Static("Mail client settings for your users", classes="section")
            yield Static(client_settings(self.ctx.answers) if self.ctx.answers else "",
                         id="summary-clients")
            yield Static("Next steps", classes="section")
            yield Static(next_steps(self.ctx), id="summary-next")
            yield Static("DNS records to publish", classes="section")
            yield Static(dns_text(self.ctx.dns_records()), id="summary-dns")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one(StepProgress).set_steps(self.ctx.statuses(), dry_run=self.ctx.dry_run)
        self.query_one("#summary-body").focus()

    # ------------------------------------------------------------------ sections
    def _changes_text(self) -> Text:
        ctx = self.ctx
        text = Text()
        if ctx.dry_run:
            total = sum(sp.changed for sp in ctx.plans if sp.enabled)
            steps = sum(1 for sp in ctx.plans if sp.enabled)
            text.append(f"Nothing was changed (dry run). The plan makes {total} change(s) "
                        f"in {steps} step(s):\n")
            for n, sp in enumerate(ctx.plans, 1):
                what = f"{sp.changed} change(s)" if sp.enabled else "off"
                if sp.error:
                    what = "CANNOT PLAN"
                text.append(f"  {n:2}. {sp.recipe.title}: {what}\n")
            text.append("e writes all of it, diffs and commands, as a runbook.", style="dim")
            return text
        by_step: Dict[str, List[str]] = {}
        for e in ctx.applied_entries():
            by_step.setdefault(e["step"], []).append(e["desc"])
        if not by_step:
            text.append("Nothing is applied (yet).")
        for n, sp in enumerate(ctx.plans, 1):
            status = ctx.status(sp)
            descs = by_step.get(sp.id, [])
            text.append(f"  {n:2}. {sp.recipe.title}: ", style="bold")
            text.append(f"{status}" + (f", {len(descs)} change(s)" if descs else "") + "\n")
            for d in descs[:8]:
                text.append(f"        {d}\n", style="dim")
            if len(descs) > 8:
                text.append(f"        ... {len(descs) - 8} more\n", style="dim")
        return text

    def _checks_text(self) -> Text:
        ctx = self.ctx
        if ctx.dry_run:
            return Text("The checks run on the real server after each step; a dry run has "
                        "none. The runbook lists the commands to check by hand.")
        everything: List[CheckResult] = []
        text = Text()
        for sp in ctx.plans:
            checks = ctx.state(sp.id).checks
            if checks is None:
                continue
            everything.extend(checks)
            text.append(f"{sp.recipe.title}\n", style="bold")
            text.append_text(checks_text(checks))
            text.append("\n")
        if not everything:
            return Text("No checks have run yet: c runs the checks of every step.")
        text.append(f"All steps: {summarize(everything)}", style="bold")
        return text

    def _session_text(self) -> Text:
        ctx = self.ctx
        if ctx.dry_run or ctx.session is None:
            return Text("A dry run keeps no session and no backups: nothing to roll back.")
        s = ctx.session
        text = Text()
        text.append("Session:  ", style="bold")
        text.append(f"{s.file}\n")
        text.append("Backups:  ", style="bold")
        text.append(f"{s.backups.directory}\n")
        text.append("Undo everything, newest first:  ", style="bold")
        text.append(ctx.rollback_hint() + "\n", style="cyan")
        text.append("One step: add --step ID. `mailwizard status` shows the journal.",
                    style="dim")
        return text

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: Tuple[Any, ...]) -> Optional[bool]:
        if action == "check_all":
            return None if getattr(self.app, "busy", None) else True  # dry run: offers
        return True

    def action_check_all(self) -> None:
        if self.ctx.dry_run:
            offer_rehearsal(self)
            return
        engine = self.ctx.engine
        assert engine is not None

        def task() -> Dict[str, List[CheckResult]]:
            return engine.verify()

        if self.app.start_task("verify-all", task, self):  # type: ignore[attr-defined]
            self.notify("Running every step's checks...")

    def action_export(self) -> None:
        export_runbook(self)

    def action_back(self) -> None:
        self.dismiss(Result(Move.BACK))

    def action_quit_app(self) -> None:
        self.app.action_request_quit()  # type: ignore[attr-defined]

    def on_task_done(self, message: TaskDone) -> None:
        if message.kind == "verify-all":
            for step, checks in message.result.items():
                self.ctx.state(step).checks = checks
            self.query_one("#summary-checks", Static).update(self._checks_text())
            self.query_one(StepProgress).set_steps(self.ctx.statuses(),
                                                   dry_run=self.ctx.dry_run)
        elif message.kind == "runbook":
            runbook_written(self, message.result)

    def on_task_failed(self, message: TaskFailed) -> None:
        show_error(self, message)
