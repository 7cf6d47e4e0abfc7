"""Reusable widgets of the wizard (each keeps its own ``DEFAULT_CSS``)."""

from __future__ import annotations

from ._banner import REHEARSAL_TITLE, DryRunBanner, RehearsalBanner
from ._diff_view import DiffView, preview_renderables
from ._error_line import ErrorLine
from ._keys_footer import KeysFooter
from ._lazy_form import LazyForm, MoreFields
from ._modals import ConfirmModal, ErrorModal, PromptModal, PromptResult
from ._progress import StepProgress, progress_counts, status_mark
from ._text_modal import TextModal
from ._user_row import UserRow
from .checkbox import StateCheckbox

__all__ = [
    "REHEARSAL_TITLE",
    "ConfirmModal",
    "DiffView",
    "DryRunBanner",
    "ErrorLine",
    "ErrorModal",
    "KeysFooter",
    "LazyForm",
    "MoreFields",
    "PromptModal",
    "PromptResult",
    "RehearsalBanner",
    "StateCheckbox",
    "StepProgress",
    "TextModal",
    "UserRow",
    "preview_renderables",
    "progress_counts",
    "status_mark",
]
