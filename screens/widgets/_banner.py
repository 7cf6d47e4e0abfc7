"""The dry-run banner shown at the top of every screen in a dry run."""

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
