"""Reusable widgets of the wizard (each keeps its own ``DEFAULT_CSS``).

The first screen needs only the banners, the footer and the modals; the others load when a
screen first asks for them (PEP 562 ``__getattr__``), not with the app.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._banner import REHEARSAL_TITLE, DryRunBanner, RehearsalBanner
from ._header import WizardHeader
from ._keys_footer import KeysFooter
from ._modals import ConfirmModal, ErrorModal, PromptModal, PromptResult

if TYPE_CHECKING:
    from ._diff_view import DiffView, preview_renderables
    from ._lazy_form import LazyForm, MoreFields
    from ._progress import StepProgress, progress_counts, status_mark
    from ._text_modal import ScrollPanel, TextModal
    from ._user_row import UserRow
    from .checkbox import StateCheckbox
    from .error_line import ErrorLine

#: Where each widget that loads on first use lives.
_LATER = {
    "DiffView": "_diff_view", "preview_renderables": "_diff_view",
    "ErrorLine": "error_line",
    "LazyForm": "_lazy_form", "MoreFields": "_lazy_form",
    "StepProgress": "_progress", "progress_counts": "_progress", "status_mark": "_progress",
    "ScrollPanel": "_text_modal", "TextModal": "_text_modal",
    "UserRow": "_user_row",
    "StateCheckbox": "checkbox",
}


def __getattr__(name: str) -> Any:
    module = _LATER.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


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
    "ScrollPanel",
    "StateCheckbox",
    "StepProgress",
    "TextModal",
    "UserRow",
    "WizardHeader",
    "preview_renderables",
    "progress_counts",
    "status_mark",
]
