"""Fixtures of the recipe tests (helpers live in recipe_plans.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def empty_root(tmp_path: Path) -> Path:
    root = tmp_path / "empty"
    root.mkdir()
    return root
