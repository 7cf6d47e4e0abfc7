"""Shared fixtures: temporary target roots that look like a small Linux system."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Callable, Dict

import pytest
from fake_target import make_root
from treeutil import snapshot_tree


def pytest_configure(config: pytest.Config) -> None:
    """The signal tests (hang-up, Ctrl-C, SIGTERM of the wizard and of its children) assume
    a terminal session's defaults. A run started from ``nohup`` or as a background job of a
    non-interactive shell inherits SIGHUP or SIGINT *ignored*, and every child would too (an
    ignored signal stays ignored across exec), so the wizard under test would rightly ignore
    them. Give the run the defaults back; a disposition someone set on purpose is kept."""
    for sig, default in ((signal.SIGHUP, signal.SIG_DFL), (signal.SIGTERM, signal.SIG_DFL),
                         (signal.SIGINT, signal.default_int_handler)):
        if signal.getsignal(sig) == signal.SIG_IGN:
            signal.signal(sig, default)


@pytest.fixture
def target_root(tmp_path: Path) -> Path:
    return make_root(tmp_path / "root", {"alice": 1000, "bob": 1001})


@pytest.fixture
def tree() -> Callable[[Path], Dict[str, tuple]]:
    return snapshot_tree
