"""Shared fixtures: temporary target roots that look like a small Linux system."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict

import pytest
from fake_target import make_root
from treeutil import snapshot_tree


@pytest.fixture
def target_root(tmp_path: Path) -> Path:
    return make_root(tmp_path / "root", {"alice": 1000, "bob": 1001})


@pytest.fixture
def tree() -> Callable[[Path], Dict[str, tuple]]:
    return snapshot_tree
