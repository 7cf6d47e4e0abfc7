"""One mail user's row in the answers form."""

from __future__ import annotations

from typing import Any, Dict, List

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Checkbox, Input

from .checkbox import StateCheckbox
from .error_line import ErrorLine
from .fields import FormInput


class UserRow(Vertical):
    """One mail user: name, create the account, initial password (masked), its errors."""

    def __init__(self, user: Any) -> None:
        super().__init__(classes="user-row")
        if isinstance(user, str):
            user = {"name": user}
        self.user = dict(user) if isinstance(user, dict) else {}

    def compose(self) -> ComposeResult:
        with Horizontal(classes="user-fields"):
            yield FormInput(str(self.user.get("name", "") or ""), placeholder="user name",
                        classes="user-name", compact=True)
            yield StateCheckbox("create", bool(self.user.get("create", False)),
                           classes="user-create", compact=True)
            yield FormInput(str(self.user.get("password", "") or ""),
                        placeholder="password (if created)", password=True,
                        classes="user-password", compact=True)
        yield ErrorLine(classes="field-error user-error")

    def show_errors(self, messages: List[str]) -> None:
        self.query_one(".user-error", ErrorLine).show(messages)

    def value(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"name": self.query_one(".user-name", Input).value.strip(),
                               "create": self.query_one(".user-create", Checkbox).value}
        pw = self.query_one(".user-password", Input).value
        if pw:
            out["password"] = pw
        if self.user.get("shell"):  # not shown in the form: kept from the answers file
            out["shell"] = self.user["shell"]
        return out
