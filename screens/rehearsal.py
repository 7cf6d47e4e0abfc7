"""From a dry run to a rehearsal: what the dry-run keys that would change something say.

In a dry run, Apply (``a``), Verify (``v``), Apply all (``A``) and Check all (``c``) have
nothing to work on. Instead of doing nothing they call :func:`offer_rehearsal`: a notification
says what a dry run is, and a confirmation offers the rehearsal (apply for real in a scratch
copy); when the admin agrees, the screen dismisses ``Result(Move.REHEARSE)`` and the App
switches (:meth:`screens.app.MailWizardApp` opens the scratch copy and shows the step list).
"""

from __future__ import annotations

from typing import Any, Optional

from textual.screen import Screen

from wizard.rehearsal import default_scratch_dir

from .context import WizardContext
from .results import Move, Result
from .widgets import ConfirmModal

DRY_RUN_NOTE = ("Dry run: this only previews, so there is nothing to apply or check. "
                "A rehearsal does it all for real on a scratch copy instead.")

def rehearsal_detail(ctx: WizardContext) -> str:
    """What a rehearsal does, for the confirmation."""
    where = ctx.rehearsal_dir or default_scratch_dir(ctx.platform.id)
    return (f"A rehearsal works on a scratch copy of a fresh {ctx.platform.name} server "
            f"(its stock files) in {where}. Apply, verify, roll back and resume run there "
            "exactly as on a server, with a real journal and backups; commands are recorded, "
            "not run, and checks that need a running daemon say 'not checked in a "
            "rehearsal'. Nothing else on this machine is touched.\n\n"
            f"Quit at any time: mailwizard --rehearse --platform {ctx.platform.id} "
            "resumes it.")

def offer_rehearsal(screen: Screen[Any]) -> None:
    """Say what a dry run is and offer the rehearsal; on yes ``screen`` dismisses
    ``Result(Move.REHEARSE)``."""
    ctx: WizardContext = screen.ctx  # type: ignore[attr-defined]
    screen.notify(DRY_RUN_NOTE, title="Dry run", timeout=8)

    def answered(yes: Optional[bool]) -> None:
        if yes:
            screen.dismiss(Result(Move.REHEARSE))

    screen.app.push_screen(
        ConfirmModal("Rehearse: apply for real in a scratch copy?", rehearsal_detail(ctx),
                     yes="Rehearse", no="Stay in dry run"), callback=answered)

__all__ = ["DRY_RUN_NOTE", "offer_rehearsal", "rehearsal_detail"]
