"""The summary's "Next steps": what the admin does after the wizard, in the order it matters,
for the state the install is in (a dry run, steps left, a self-signed or ACME certificate)."""

from __future__ import annotations

import shlex
from typing import List

from rich.text import Text

from .context import WizardContext


def next_steps(ctx: WizardContext) -> Text:
    items = next_step_lines(ctx)
    text = Text()
    for n, item in enumerate(items, 1):
        text.append(f"  {n}. ", style="bold")
        text.append(item + "\n")
    return text


def next_step_lines(ctx: WizardContext) -> List[str]:
    a, p = ctx.answers, ctx.platform
    if a is None:
        return ["Fill in the answers (a on the step list): the next steps follow from them."]
    out: List[str] = []
    if ctx.dry_run:
        out.append("This was a dry run. On the server itself, as root, run mailwizard without "
                   "--dry-run to apply the plan (or follow the runbook, e writes it).")
    else:
        left = len(ctx.remaining())
        if left:
            out.append(f"{left} step(s) are not applied yet: A on the step list applies them "
                       "in order.")
    out.append("Publish the DNS records below at your DNS provider, then run "
               "'mailwizard dns --check' until every required one says ok.")
    user = a.admin_user or (a.users[0].name if a.users else "alice")
    out.append("Send a test message through the submission port with a real client, or: "
               + " ".join(shlex.quote(w) for w in (
                   "swaks", "--to", f"postmaster@{a.domain}", "--server",
                   f"{a.hostname}:587", "--tls", "--auth-user", user)))
    log = ("journalctl -u postfix -u dovecot -f" if p.family == "debian"
           else "tail -f /var/log/maillog (or journalctl -u postfix -u dovecot -f)")
    out.append(f"Watch the delivery in the mail log: {log}.")
    out.append("Make sure port 25 is reachable from the internet: many hosting providers block "
               "it until asked, and mail from other servers cannot arrive without it.")
    mode = a.certificate.mode
    if mode == "self-signed":
        out.append("The certificate is self-signed: once the host name resolves to this "
                   "server, switch the certificate answer to acme for a trusted one.")
    elif mode == "acme":
        out.append("certbot renews the certificate by itself; 'certbot renew --dry-run' "
                   "checks that a renewal would work.")
    out.append("DMARC starts at p=none: after a few weeks of reports without surprises, raise "
               "it to quarantine, later to reject.")
    if not ctx.dry_run:
        out.append("Keep the session directory: 'mailwizard status' shows what was done and "
                   "'mailwizard rollback' undoes it, newest first.")
    return out
