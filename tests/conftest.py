"""Shared fixtures: temporary target roots that look like a small Linux system."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict

import pytest
from treeutil import snapshot_tree


def make_root(base: Path, users: Dict[str, int] = None) -> Path:  # type: ignore[assignment]
    """A minimal target root: /etc/passwd, /etc/group, /etc/os-release."""
    users = users or {}
    (base / "etc").mkdir(parents=True, exist_ok=True)
    passwd = ["root:x:0:0:root:/root:/bin/bash", "postfix:x:101:101::/var/spool/postfix:/bin/false"]
    group = ["root:x:0:", "postfix:x:101:", "mail:x:12:postfix"]
    for name, uid in users.items():
        passwd.append(f"{name}:x:{uid}:{uid}::/home/{name}:/bin/bash")
        group.append(f"{name}:x:{uid}:")
    (base / "etc/passwd").write_text("\n".join(passwd) + "\n")
    (base / "etc/group").write_text("\n".join(group) + "\n")
    return base


@pytest.fixture
def target_root(tmp_path: Path) -> Path:
    return make_root(tmp_path / "root", {"alice": 1000, "bob": 1001})


@pytest.fixture
def tree() -> Callable[[Path], Dict[str, tuple]]:
    return snapshot_tree
