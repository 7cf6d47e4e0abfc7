"""Reusable widgets of the wizard (each keeps its own ``DEFAULT_CSS``)."""

from __future__ import annotations

from ._banner import DryRunBanner
from ._diff_view import DiffView, preview_renderables
from ._modals import ConfirmModal, ErrorModal, PromptModal, PromptResult
from ._progress import StepProgress, progress_counts, status_mark
from ._user_row import UserRow
from .checkbox import StateCheckbox

__all__ = [
    "ConfirmModal",
    "DiffView",
    "DryRunBanner",
    "ErrorModal",
    "PromptModal",
    "PromptResult",
    "StateCheckbox",
    "StepProgress",
    "UserRow",
    "preview_renderables",
    "progress_counts",
    "status_mark",
]
