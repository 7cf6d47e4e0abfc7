"""Modal dialogs with typed results: confirm (bool), error (None), prompt (path + flag)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from .checkbox import StateCheckbox
from .styled import WizardButton


class ConfirmModal(ModalScreen[bool]):
    """Ask a yes/no question. ``y``/``n``, Enter on a button, Escape = no."""

    DEFAULT_CSS = """
    ConfirmModal {
        align: center middle;
        & > Vertical {
            width: 70;
            max-width: 95%;
            height: auto;
            max-height: 90%;
            border: thick $warning;
            background: $surface;
            padding: 0 1;
        }
        & #confirm-question { text-style: bold; margin-bottom: 1; }
        & #confirm-detail { height: auto; max-height: 12; }
        & Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
        & Button { margin-left: 1; min-width: 12; }
    }
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, detail: str = "", yes: str = "Yes",
                 no: str = "No") -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.yes_label = yes
        self.no_label = no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, id="confirm-question")
            if self.detail:
                with VerticalScroll(id="confirm-detail"):
                    yield Static(Text(self.detail))
            with Horizontal():
                yield WizardButton(f"{self.yes_label} (y)", id="yes", variant="warning")
                yield WizardButton(f"{self.no_label} (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class ErrorModal(ModalScreen[None]):
    """Show an error in words (never a traceback) and, if any, the command's output."""

    DEFAULT_CSS = """
    ErrorModal {
        align: center middle;
        & > Vertical {
            width: 76;
            max-width: 98%;
            height: auto;
            max-height: 90%;
            border: thick $error;
            background: $surface;
            padding: 0 1;
        }
        & #error-title { text-style: bold; color: $error; }
        & #error-message { margin: 1 0; }
        & #error-output { height: auto; max-height: 10; background: $panel; }
        & Horizontal { height: auto; align-horizontal: right; }
    }
    """

    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, title: str, message: str, output: str = "") -> None:
        super().__init__()
        self.error_title = title
        self.message = message
        self.output = output

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.error_title, id="error-title")
            yield Static(Text(self.message), id="error-message")
            if self.output.strip():
                with VerticalScroll(id="error-output"):
                    yield Static(Text(self.output.rstrip()))
            with Horizontal():
                yield WizardButton("Close (Esc)", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class PromptResult:
    """What a :class:`PromptModal` returns."""

    value: str
    flag: bool = False


class PromptModal(ModalScreen[Optional[PromptResult]]):
    """Ask for one value (a file name), optionally with a checkbox. Escape cancels."""

    DEFAULT_CSS = """
    PromptModal {
        align: center middle;
        & > Vertical {
            width: 72;
            max-width: 98%;
            height: auto;
            border: thick $primary;
            background: $surface;
            padding: 0 1;
        }
        & #prompt-title { text-style: bold; margin-bottom: 1; }
        & Input { margin-bottom: 1; }
        & #prompt-help { color: $text-muted; }
        & Horizontal { height: auto; align-horizontal: right; }
        & Button { margin-left: 1; }
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str = "", flag_label: str = "",
                 help_text: str = "") -> None:
        super().__init__()
        self.prompt_title = title
        self.value = value
        self.flag_label = flag_label
        self.help_text = help_text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.prompt_title, id="prompt-title")
            yield Input(self.value, id="prompt-input")
            if self.flag_label:
                yield StateCheckbox(self.flag_label, False, id="prompt-flag")
            if self.help_text:
                yield Static(self.help_text, id="prompt-help")
            with Horizontal():
                yield WizardButton("OK (Enter)", id="ok", variant="primary")
                yield WizardButton("Cancel (Esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#prompt-input", Input).focus()

    def _result(self) -> Optional[PromptResult]:
        value = self.query_one("#prompt-input", Input).value.strip()
        if not value:
            return None
        flag = bool(self.flag_label) and self.query_one("#prompt-flag", Checkbox).value
        return PromptResult(value, flag)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(self._result())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self._result() if event.button.id == "ok" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
