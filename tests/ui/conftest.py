"""Fixtures for the TUI tests: a frozen machine, a seeded target root (helpers: uikit)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from fake_target import make_root  # noqa: E402
from tmuxkit import Pane  # noqa: E402
from uikit import FROZEN_MACHINE, MAIN_CF  # noqa: E402

if os.environ.get("MAILWIZARD_TEST_LATENESS"):  # test.sh's second TUI run (tests/ui/lateness)
    import lateness

    lateness.apply(float(os.environ["MAILWIZARD_TEST_LATENESS"]))

from screens.context import Machine  # noqa: E402


@pytest.fixture
def machine() -> Machine:
    return FROZEN_MACHINE


@pytest.fixture
def target_root(tmp_path: Path) -> Path:
    """A small target system: accounts, and a main.cf to edit."""
    return make_root(tmp_path / "root", {"alice": 1000, "bob": 1001}, daemons=False,
                     main_cf=MAIN_CF)


@pytest.fixture(autouse=True)
def frozen_dkim_month(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default DKIM selector is dated (s + year and month): screens built in-process see
    December 2026 whatever the month the tests run in, so snapshots stay put."""
    import datetime

    from wizard.answers import dkim

    monkeypatch.setattr(dkim, "today", lambda: datetime.date(2026, 12, 1))


@pytest.fixture
def pane() -> Iterator[Pane]:
    """The real program's tmux pane (tests/ui/tmuxkit.py); its tmux server ends with the test."""
    p = Pane()
    yield p
    p.close()
