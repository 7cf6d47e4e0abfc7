"""Tree snapshots for the tests: compare a target root before and after (content, mode, owner)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Tuple


def snapshot_tree(root: Path) -> Dict[str, Tuple]:
    """path -> (type, mode, uid, gid, content or link target) for everything under root."""
    out: Dict[str, Tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            meta = (st.st_mode & 0o7777, st.st_uid, st.st_gid)
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", *meta)
            else:
                out[rel] = ("file", *meta, p.read_bytes())
    return out

