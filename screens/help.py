"""The help screen (``?`` or F1 anywhere but in a text field): what the screen under it does,
every key it takes (the footer has room for only some), and the keys that work everywhere."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from rich.table import Table
from rich.text import Text
from textual.actions import parse
from textual.binding import Binding
from textual.screen import Screen

from .widgets import ScrollPanel

#: keys every screen takes (the app's own bindings and Textual's)
GLOBAL_KEYS: Tuple[Tuple[str, str], ...] = (
    ("? / F1", "this help"),
    ("Ctrl+P", "command palette: every action of this screen, open step N, help, "
               "Mail queue (queued messages: show, flush, hold, release, delete), "
               "Mail log (recent deliveries, rejects, failed logins); on the welcome "
               "screen and the step list also Users and aliases (add or remove mail users "
               "and aliases, change a password, each undoable); Health check (the "
               "server's health: ports, certificates, DNS, queue, log, drift)"),
    ("Tab / Shift+Tab", "move between fields and lists"),
    ("q / Ctrl+Q", "quit (asks first while a step runs or answers are not kept); in the "
                   "answers form only Ctrl+Q, q types a q"),
    ("Ctrl+C", "the same as Ctrl+Q"),
)

_KEY_NAMES: Dict[str, str] = {"escape": "Esc", "enter": "Enter", "question_mark": "?",
                              "ctrl+n": "Ctrl+N", "ctrl+t": "Ctrl+T", "ctrl+r": "Ctrl+R",
                              "ctrl+s": "Ctrl+S", "ctrl+o": "Ctrl+O"}


_GLOBAL_ACTIONS = ("request_quit", "quit_app", "help", "command_palette")


def key_name(key: str) -> str:
    return _KEY_NAMES.get(key, key.upper() if key.startswith("f") and key[1:].isdigit()
                          else key)


def screen_keys(screen: Screen[Any]) -> List[Tuple[str, str, bool]]:
    """(key, what it does, available now) for every described binding of ``screen`` itself
    (hidden ones included), in the order the screen declares them."""
    rows: List[Tuple[str, str, bool]] = []
    # the screen's own bindings, not the app's or the focused widget's
    bindings = [(key, b) for key, b in screen._bindings
                if b.description and b.action not in _GLOBAL_ACTIONS]
    # a shown binding with a key_display stands for its hidden siblings (1-4: the tabs)
    grouped = {parse(b.action)[1] for _k, b in bindings if b.show and b.key_display}
    for key, binding in bindings:
        _dest, name, params = parse(binding.action)
        if not binding.show and name in grouped:
            continue
        what = binding.description
        if binding.tooltip:
            what += f": {binding.tooltip}"
        enabled = screen.check_action(name, params) is True
        rows.append((binding.key_display or key_name(key), what, enabled))
    return rows


class HelpScreen(ScrollPanel):
    """Keys and purpose of ``screen``. Esc, q, ? or F1 close it."""

    PANEL = "help"
    FOOT = "Esc, q, ? or F1 closes this help; arrows or PgUp/PgDn scroll."
    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close")]

    def __init__(self, title: str, about: str, keys: List[Tuple[str, str, bool]]) -> None:
        super().__init__()
        self.title_text = title
        self.about = about
        self.keys = keys

    def panel_body(self) -> Table:
        return self._body()

    def _body(self) -> Table:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True, style="bold")
        grid.add_column()
        grid.add_row(Text(f"Help: {self.title_text}", style="bold underline"), "")
        grid.add_row("", Text(self.about))
        grid.add_row("", "")
        grid.add_row(Text("Keys here", style="bold underline"), "")
        for key, what, enabled in self.keys:
            note = "" if enabled else " (not now)"
            grid.add_row(key, Text(what + note, style="" if enabled else "dim"))
        grid.add_row("", "")
        grid.add_row(Text("Everywhere", style="bold underline"), "")
        for key, what in GLOBAL_KEYS:
            grid.add_row(key, what)
        return grid

    def plain(self) -> str:
        """The help as plain text, one line per row (for tests and screen readers)."""
        lines = [f"Help: {self.title_text}", self.about, "Keys here"]
        lines += [f"{key}  {what}{'' if on else ' (not now)'}" for key, what, on in self.keys]
        lines += ["Everywhere"] + [f"{key}  {what}" for key, what in GLOBAL_KEYS]
        return "\n".join(lines)
