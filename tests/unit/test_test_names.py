"""Test modules have unique base names across tests/ (pytest imports them by base name in one
whole-suite run, so a second ``test_x.py`` elsewhere stops the run at collection)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Dict, List

TESTS = Path(__file__).resolve().parents[1]


def test_test_modules_have_unique_base_names() -> None:
    seen: Dict[str, List[str]] = defaultdict(list)
    for path in TESTS.rglob("*.py"):
        if path.name != "conftest.py" and "__pycache__" not in path.parts:
            seen[path.name].append(str(path.relative_to(TESTS)))
    assert not {k: v for k, v in seen.items() if len(v) > 1}
