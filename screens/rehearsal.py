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

DRY_RUN_NOTE = "A dry run only previews: nothing is applied or checked here."


def rehearsal_detail(ctx: WizardContext) -> str:
    """What a rehearsal does, for the confirmation (short: it fits 80x24 with the note)."""
    where = ctx.rehearsal_dir or default_scratch_dir(ctx.platform.id)
    return (f"A scratch copy of a fresh {ctx.platform.name} server, in {where}, is changed "
            "for real: apply, verify, roll back and resume work as on a server; commands "
            "are recorded, not run. Nothing else on this machine is touched. "
            f"mailwizard --rehearse --platform {ctx.platform.id} resumes it.")


def offer_rehearsal(screen: Screen[Any]) -> None:
    """Say what a dry run is and offer the rehearsal; on yes ``screen`` dismisses
    ``Result(Move.REHEARSE)``."""
    ctx: WizardContext = screen.ctx  # type: ignore[attr-defined]
    def answered(yes: Optional[bool]) -> None:
        if yes:
            screen.dismiss(Result(Move.REHEARSE))

    screen.app.push_screen(
        ConfirmModal("Rehearse: apply for real in a scratch copy?", rehearsal_detail(ctx),
                     yes="Rehearse", no="Stay in dry run"), callback=answered)
    screen.notify(DRY_RUN_NOTE, title="Dry run", timeout=8)  # shown over the question

__all__ = ["DRY_RUN_NOTE", "offer_rehearsal", "rehearsal_detail"]
