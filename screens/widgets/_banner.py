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


class RehearsalBanner(Static):
    """One line saying that this is a rehearsal and where its scratch copy is (in words:
    a console without colour still tells it from a real run)."""

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

    def __init__(self, directory: object) -> None:
        super().__init__(f"REHEARSAL - a scratch copy is changed ({directory}); commands are "
                         "recorded, not run", id="rehearsal-banner")
