"""The full plan for the demo answers, per platform, against golden files.

A plan is what an admin reviews before anything changes, so any difference in it must be a
deliberate one: regenerate with ``UPDATE_GOLDEN=1 pytest tests/recipes/test_golden.py`` and
review the diff of the golden files in the commit.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from allsteps import real_engine

from wizard.answers import demo_answers_path, load_answers
from wizard.cli import print_plan
from wizard.executor import DryRunExecutor
from wizard.platforms import get_platform

GOLDEN = Path(__file__).parent / "golden"
PLATFORMS = ["rocky9", "centos7", "almalinux10", "debian12", "debian13", "ubuntu24.04"]


def render(pid: str, root: Path) -> str:
    engine = real_engine(load_answers(demo_answers_path()), get_platform(pid),
                         DryRunExecutor(root))
    out = io.StringIO()
    print_plan(engine.plan(), out, diff=True, platform=engine.platform, dry_run=True)
    return out.getvalue()


@pytest.mark.parametrize("pid", PLATFORMS)
def test_plan_matches_golden(pid: str, tmp_path: Path) -> None:
    text = render(pid, tmp_path)
    golden = GOLDEN / f"{pid}.plan.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert golden.exists(), f"missing {golden}: run with UPDATE_GOLDEN=1"
    expected = golden.read_text()
    assert text == expected, f"plan for {pid} differs from {golden} (UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize("pid", PLATFORMS)
def test_golden_plans_use_the_platforms_paths_and_packages(pid: str) -> None:
    text = (GOLDEN / f"{pid}.plan.txt").read_text()
    lines = text.splitlines()
    commands = [ln.strip()[2:] for ln in lines if ln.strip().startswith("$ ")]
    added = [ln.strip()[1:] for ln in lines if ln.strip().startswith("+") and
             not ln.strip().startswith("+++")]
    p = get_platform(pid)
    install = next(c for c in commands if " install " in c and "postfix" in c)
    if p.is_el:
        assert install.startswith("dnf install" if p.major >= 8 else "yum install"), install
        assert " dovecot" in install and "dovecot-core" not in install
        assert "/etc/pki/tls/certs/mail.example.com.crt" in text
        assert not any("/etc/ssl/" in a for a in added)
    else:
        assert install.startswith("apt-get install"), install
        assert "dovecot-core" in install
        assert "/etc/ssl/certs/mail.example.com.crt" in text
        assert not any("/etc/pki" in a for a in added + commands)
    if p.default_database_type == "lmdb":
        assert any("lmdb:/etc/aliases" in a for a in added)
        assert not any(("hash:" in x or "btree:" in x) and not x.lstrip().startswith("#")
                       for x in added + commands), "Berkeley DB map on a platform without it"
    else:
        assert any("hash:/etc/aliases" in a for a in added + lines)
    assert any("reject_unauth_destination" in a for a in added)


def test_plans_are_deterministic(tmp_path: Path) -> None:
    assert render("rocky9", tmp_path / "a") == render("rocky9", tmp_path / "b")
