"""The banners at the top of every screen: a dry run's, and a rehearsal's."""

from __future__ import annotations

from textual.widgets import Static


class DryRunBanner(Static):
    """One line saying that nothing will be changed, and why."""

    DEFAULT_CSS = """
    DryRunBanner {
        height: auto;
        max-height: 2;
        padding: 0 1;
        background: $warning;
        color: $background;
        text-style: bold;
    }
    """

    def __init__(self, reason: str) -> None:
        text = "DRY RUN - nothing is changed on this machine"
        if reason:
            text += f" ({reason})"
        super().__init__(text, id="dry-run-banner")


REHEARSAL_TITLE = "mailwizard REHEARSAL"
"""The header's title in a rehearsal."""


class RehearsalBanner(Static):
    """One line saying that this is a rehearsal (in words: a console without colour still
    tells it from a real run; the welcome screen says where the scratch copy is)."""

    DEFAULT_CSS = """
    RehearsalBanner {
        height: auto;
        max-height: 2;
        padding: 0 1;
        background: $accent;
        color: $background;
        text-style: bold;
    }
    """

    def __init__(self) -> None:
        super().__init__("REHEARSAL - a scratch copy is changed; commands are recorded, not run",
                         id="rehearsal-banner")

    def on_mount(self) -> None:
        self.screen.title = REHEARSAL_TITLE  # the header says it too
