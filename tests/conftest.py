"""Shared fixtures: temporary target roots that look like a small Linux system."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Dict

import pytest


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


def snapshot_tree(root: Path) -> Dict[str, tuple]:
    """path -> (type, mode, content) for every entry under root (lstat, no following)."""
    out: Dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", st.st_mode & 0o7777)
            else:
                out[rel] = ("file", st.st_mode & 0o7777, p.read_bytes())
    return out


@pytest.fixture
def target_root(tmp_path: Path) -> Path:
    return make_root(tmp_path / "root", {"alice": 1000, "bob": 1001})


@pytest.fixture
def tree() -> Callable[[Path], Dict[str, tuple]]:
    return snapshot_tree
