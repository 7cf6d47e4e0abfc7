"""The runbook's package blocks, run by a real shell with stand-ins for rpm/dpkg-query and
dnf/apt-get: the undo removes only the packages the install block found missing, never one
the server had before (openssl here)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from wizard import changes as ch
from wizard.changes import packages as packages_mod
from wizard.executor import DryRunExecutor
from wizard.platforms import get_platform

QUERY = {  # exits 0 for an installed package, like the real tools
    "rpm": '#!/bin/sh\n[ "$2" = openssl ]\n',
    "dpkg-query": '#!/bin/sh\nfor a; do p=$a; done\n[ "$p" = openssl ] && printf "ii "\n'
                  '[ "$p" = openssl ]\n',
}
MANAGER = '#!/bin/sh\necho "$(basename "$0") $*" >> "$LOG"\n'


@pytest.mark.parametrize("manager", ["dnf", "apt"])
def test_undo_removes_only_what_the_block_added(tmp_path: Path, manager: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packages_mod, "RUNBOOK_DIR", str(tmp_path / "runbook"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in [("rpm", QUERY["rpm"]), ("dpkg-query", QUERY["dpkg-query"]),
                       ("dnf", MANAGER), ("apt-get", MANAGER)]:
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    pk = ch.Packages(manager, install=["postfix", "openssl", "dovecot-core"])
    (tmp_path / "root").mkdir()
    view = ch.View(DryRunExecutor(str(tmp_path / "root")),
                   get_platform("rocky9" if manager == "dnf" else "debian12"))
    form = pk.shell_form(pk.preview(view))
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}",
               LOG=str(tmp_path / "log"))

    def sh(lines: tuple) -> None:  # type: ignore[type-arg]
        subprocess.run(["bash", "-euc", "\n".join(lines)], env=env, check=True, timeout=30)

    sh(form.do)
    listed = list((tmp_path / "runbook").glob("installed-packages-*.txt"))
    assert len(listed) == 1 and listed[0].read_text().split() == ["postfix", "dovecot-core"]
    (tmp_path / "log").write_text("")
    sh(form.undo)
    removed = (tmp_path / "log").read_text().split()
    assert "openssl" not in removed
    assert removed[-2:] == ["postfix", "dovecot-core"]
    assert not listed[0].exists()  # the note goes with the undo
