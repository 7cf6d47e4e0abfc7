"""The executor never leaves the target root, whatever symlinks the target holds.

Links are resolved with chroot semantics: an absolute link target starts again at the root and
``..`` stops at the root. Every test puts a host directory *outside* the root (``outside``) and
checks that nothing there is written, changed or read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Tuple

import pytest

from wizard.errors import ExecutorError
from wizard.executor import Executor


@pytest.fixture
def world(tmp_path: Path) -> Tuple[Executor, Path, Path]:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host secret\n")
    os.chmod(outside / "secret", 0o600)
    return Executor(root, host_commands=True), root, outside


def _tree(path: Path) -> Dict[str, Tuple[int, bytes]]:
    out = {}
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            p = Path(dirpath, name)
            out[str(p.relative_to(path))] = (os.lstat(p).st_mode, p.read_bytes())
    return out


def test_write_through_absolute_link_lands_inside_the_root(world) -> None:
    ex, root, outside = world
    # an absolute link naming a host path: in the target it means <root><that path>
    os.symlink(str(outside / "secret"), root / "etc/mailname")
    before = _tree(outside)
    ex.write_atomic("/etc/mailname", b"mail.example.com\n", 0o644, os.getuid(), os.getgid())
    assert _tree(outside) == before
    inside = root / str(outside / "secret").lstrip("/")
    assert inside.read_bytes() == b"mail.example.com\n"
    assert os.path.islink(root / "etc/mailname")  # the link is kept, its target written
    assert ex.read_bytes("/etc/mailname") == b"mail.example.com\n"


def test_write_below_a_directory_link_climbing_out_stays_inside(world) -> None:
    ex, root, outside = world
    # ../../.. climbs to the host in a host realpath; in the root it stops at the root
    os.symlink("../../../../../../../../" + str(outside).lstrip("/"), root / "etc/postfix")
    before = _tree(outside)
    ex.write_atomic("/etc/postfix/main.cf", b"x = 1\n", 0o644, os.getuid(), os.getgid())
    assert _tree(outside) == before
    assert (root / str(outside).lstrip("/") / "main.cf").read_bytes() == b"x = 1\n"


def test_makedirs_and_remove_follow_links_inside_the_root(world) -> None:
    ex, root, outside = world
    os.symlink(str(outside), root / "etc/dovecot")
    created = ex.makedirs("/etc/dovecot/conf.d/sub")
    assert not (outside / "conf.d").exists()
    assert (root / str(outside).lstrip("/") / "conf.d/sub").is_dir()
    assert created[-1] == "/etc/dovecot/conf.d/sub"
    for d in reversed(created):
        ex.remove(d)
    assert not (root / str(outside).lstrip("/") / "conf.d").exists()
    (outside / "victim").write_text("keep\n")
    ex.remove("/etc/dovecot/victim")  # absent in the root: nothing to do
    assert (outside / "victim").read_text() == "keep\n"


def test_set_meta_changes_the_in_root_target_only(world) -> None:
    ex, root, outside = world
    os.symlink(str(outside / "secret"), root / "etc/key.pem")
    inside = root / str(outside / "secret").lstrip("/")
    inside.parent.mkdir(parents=True)
    inside.write_text("in root\n")
    os.chmod(inside, 0o600)
    ex.set_meta("/etc/key.pem", 0o644, os.getuid(), os.getgid())
    assert os.stat(outside / "secret").st_mode & 0o777 == 0o600
    assert os.stat(inside).st_mode & 0o777 == 0o644


def test_reads_never_see_host_files(world, tmp_path: Path) -> None:
    ex, root, outside = world
    os.symlink(str(outside / "secret"), root / "etc/shadow")
    os.symlink("../../../../../../../../" + str(outside).lstrip("/"), root / "etc/up")
    assert ex.read_bytes("/etc/shadow") is None
    assert ex.read_bytes("/etc/up/secret") is None
    assert ex.stat("/etc/shadow", follow=True) is None
    assert ex.listdir("/etc/up") == []
    with pytest.raises(FileNotFoundError):
        ex.copy_file("/etc/shadow", tmp_path / "copy")
    assert not (tmp_path / "copy").exists()
    # the in-root link target is what they see
    inside = root / str(outside / "secret").lstrip("/")
    inside.parent.mkdir(parents=True)
    inside.write_text("target copy\n")
    assert ex.read_bytes("/etc/shadow") == b"target copy\n"
    assert ex.read_bytes("/etc/up/secret") == b"target copy\n"
    st = ex.stat("/etc/shadow", follow=True)
    assert st is not None and st.size == len("target copy\n") and not st.is_link
    ex.copy_file("/etc/shadow", tmp_path / "copy")
    assert (tmp_path / "copy").read_text() == "target copy\n"


def test_dotdot_in_a_path_stops_at_the_root(world) -> None:
    ex, root, outside = world
    rel = "/../../../../../../../.." + str(outside)
    ex.write_atomic(rel + "/new", b"n\n", 0o644, os.getuid(), os.getgid())
    assert not (outside / "new").exists()
    assert (root / str(outside).lstrip("/") / "new").read_bytes() == b"n\n"


def test_a_link_loop_is_refused_naming_the_path(world) -> None:
    ex, root, _outside = world
    os.symlink("/etc/loop", root / "etc/loop")  # in chroot terms, itself
    with pytest.raises(ExecutorError, match="/etc/loop/x"):
        ex.write_atomic("/etc/loop/x", b"y", 0o644, os.getuid(), os.getgid())
    with pytest.raises(ExecutorError, match="/etc/loop"):
        ex.read_bytes("/etc/loop")


def test_a_link_swapped_in_after_resolution_is_refused(world, monkeypatch) -> None:
    """Defence in depth: the kernel's view of the directory is checked right before writing
    (a link planted between resolution and use, here simulated)."""
    ex, root, outside = world
    os.symlink(str(outside), root / "etc/swapped")
    monkeypatch.setattr(Executor, "_resolve",
                        lambda self, target, follow: Path(str(self.root) + target))
    with pytest.raises(ExecutorError, match="refusing /etc/swapped/f.*outside the target root"):
        ex.write_atomic("/etc/swapped/f", b"x", 0o644, os.getuid(), os.getgid())
    with pytest.raises(ExecutorError, match="outside the target root"):
        ex.set_meta("/etc/swapped/secret", 0o666)
    with pytest.raises(ExecutorError, match="outside the target root"):
        ex.read_bytes("/etc/swapped/secret")
    assert sorted(os.listdir(outside)) == ["secret"]
    assert os.stat(outside / "secret").st_mode & 0o777 == 0o600


def test_special_files_are_not_read(world) -> None:
    ex, root, _outside = world
    os.mkfifo(root / "etc/fifo")
    with pytest.raises(ExecutorError, match="/etc/fifo is not a regular file"):
        ex.read_bytes("/etc/fifo")  # would block forever in a plain open()


def test_real_root_keeps_kernel_resolution(tmp_path: Path) -> None:
    ex = Executor("/")
    (tmp_path / "real").write_text("r\n")
    os.symlink(tmp_path / "real", tmp_path / "link")
    assert ex.path(str(tmp_path / "link")) == tmp_path / "link"
    assert ex.resolve(str(tmp_path / "link")) == tmp_path / "real"
    ex.write_atomic(str(tmp_path / "link"), b"w\n", 0o640, os.getuid(), os.getgid())
    assert os.path.islink(tmp_path / "link")
    assert (tmp_path / "real").read_bytes() == b"w\n"
    assert ex.read_bytes(str(tmp_path / "link")) == b"w\n"
