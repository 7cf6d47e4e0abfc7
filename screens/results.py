"""What a full screen hands back when it is done; the App decides where to go next.

Each full screen ``dismiss``es one :class:`Result`, and :class:`screens.app.MailWizardApp`
has one routing method per screen (``_after_welcome``, ``_after_answers``, ``_after_steps``,
``_after_step``, ``_after_summary``) that turns it into the next screen. No screen pushes or
switches another full screen. Modals keep their own results (``ConfirmModal`` a bool,
``PromptModal`` a :class:`~screens.widgets.PromptResult`) and are handled by the screen that
asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from wizard.answers import Answers


class Move(Enum):
    """Where the admin wants to go."""

    NEXT = "next"
    """Welcome: start or resume. Answers: go on with the valid answers. Step: past the last
    step (the summary)."""
    SKIP = "skip"
    """Step: the last step was skipped; go on like NEXT."""
    BACK = "back"
    """Answers: back to the welcome screen. Step, summary: back to the step list."""
    OPEN_STEP = "open-step"
    """Step list: open the step ``Result.step`` on the tab ``Result.tab``."""
    SUMMARY = "summary"
    """Step list: the summary."""
    ANSWERS = "answers"
    """Step list: edit the answers."""
    QUIT = "quit"
    """Welcome: leave the wizard."""
    REHEARSE = "rehearse"
    """Step, step list, summary (in a dry run, the admin agreed): leave the dry run for a
    rehearsal on a scratch copy, and show the step list again."""


@dataclass(frozen=True)
class Result:
    """A full screen's result: the move, and what the App needs to carry it out."""

    move: Move
    step: int = -1
    """Index in the plan: the step screen's own step, or the step to open (OPEN_STEP)."""
    tab: str = "why"
    """OPEN_STEP: the tab to show first."""
    answers: Optional[Answers] = None
    """Answers' NEXT: the validated answers."""


__all__ = ["Move", "Result"]
