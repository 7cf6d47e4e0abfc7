"""Apply and rollback on a temporary root, with the system's commands emulated: steps 1-6
(FakeSystem) and steps 7-13 (FakeTarget) leave the root byte for byte as it was.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Optional

import pytest
from fake_system import FakeSystem, make_target
from fake_target import FakeTarget, stock_root
from recipe_plans import ANSWERS, DEMO, PASSWORD, steps_1_6, steps_7_13, with_
from treeutil import snapshot_tree as snapshot

from recipes._postfix import map_ext
from recipes.certificate import cert_paths
from wizard import confedit
from wizard.answers import Answers, User
from wizard.engine import Engine
from wizard.executor import ScriptedExecutor
from wizard.platforms import get_platform
from wizard.recipe import Facts
from wizard.secret import Secret
from wizard.session import Session


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown the emulated accounts")
@pytest.mark.parametrize("pid", ["rocky9", "almalinux10", "debian12", "debian13"])
def test_apply_then_rollback_is_byte_identical(tmp_path: Path, pid: str) -> None:
    p = get_platform(pid)
    root = make_target(tmp_path, pid, selinux=p.is_el)
    answers = ANSWERS.with_changes(users=tuple(
        User(u.name, u.create, Secret(PASSWORD)) for u in ANSWERS.users))
    before = snapshot(root)
    fs = FakeSystem(p)
    ex = fs.executor(root)
    session = Session.open(tmp_path / "state")
    try:
        engine = Engine(answers, p, ex, session=session, recipes=steps_1_6())
        results = engine.apply()
        assert [r.status for r in results] == ["applied"] * 6, [
            (r.step, r.error, r.output) for r in results]
        after = snapshot(root)
        assert after != before
        db = "lmdb" if pid == "almalinux10" else "hash"
        ext = map_ext(db)
        assert f"etc/aliases{ext}" in after and f"etc/postfix/virtual{ext}" in after
        other = ".db" if ext == ".lmdb" else ".lmdb"
        assert f"etc/aliases{other}" not in after
        alice = ex.users()["alice"]
        st = (root / "home/alice/Maildir/new").stat()
        assert (st.st_mode & 0o777, st.st_uid) == (0o700, alice[0])
        assert fs.mta_alternative == (p.major >= 8 and p.is_el)
        assert any(c[0] == "restorecon" for c in ex.calls) == p.is_el
        # the password went to chpasswd only, never to the session file
        assert any(c == ["chpasswd"] for c in ex.calls)
        assert PASSWORD not in (tmp_path / "state/session.yaml").read_text()

        # verify what can be checked without the daemons
        checks = engine.verify(["postfix-basics", "maildir", "aliases"])
        for step, res in checks.items():
            bad = [r for r in res if r.ok is False]
            assert not bad, (step, [(r.name, r.detail) for r in bad])
        assert any(r.ok for r in checks["maildir"])

        # second run: everything already done
        again = Engine(answers, p, ex, session=session, recipes=steps_1_6()).apply()
        assert [(r.step, r.changed) for r in again] == [(r.step, 0) for r in again]
        assert snapshot(root) == after

        rb = Engine(answers, p, ex, session=session, recipes=steps_1_6()).rollback()
        assert rb.errors == [], rb.errors
        assert snapshot(root) == before
        assert fs.installed == set()
    finally:
        session.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown the emulated accounts")
@pytest.mark.parametrize("pid", ["rocky9", "almalinux10"])
def test_rollback_rebuilds_an_existing_alias_database(tmp_path: Path, pid: str) -> None:
    """The .db existed before: after rollback it must match the restored /etc/aliases again
    (the rebuild has to run after the file is restored, not before)."""
    p = get_platform(pid)
    root = make_target(tmp_path, pid)
    fs = FakeSystem(p)
    ex = fs.executor(root)
    ext = map_ext(p.default_database_type)
    FakeSystem.build(ex, "/etc/aliases", f"/etc/aliases{ext}")
    original_db = (root / f"etc/aliases{ext}").read_bytes()
    before = snapshot(root)
    session = Session.open(tmp_path / "state")
    try:
        engine = Engine(ANSWERS, p, ex, session=session, recipes=steps_1_6())
        assert all(r.status == "applied" for r in engine.apply())
        assert (root / f"etc/aliases{ext}").read_bytes() != original_db  # rebuilt
        rb = engine.rollback()
        assert rb.errors == []
        assert (root / f"etc/aliases{ext}").read_bytes() == original_db
        assert snapshot(root) == before
    finally:
        session.close()


CASES = [
    ("rocky9", DEMO, "firewalld"),
    ("almalinux10", DEMO, "firewalld"),
    ("centos7", DEMO, None),
    ("debian13", DEMO, None),
    ("ubuntu24.04", DEMO, "ufw"),
    ("debian12", with_(DEMO, sasl=replace(DEMO.sasl, backend="cyrus", pam_group="mailusers"),
                       steps=(("firewall", True), ("postgrey", True),
                              ("virtual-aliases", True))), None),
    ("debian13", with_(DEMO, sasl=replace(DEMO.sasl, backend="cyrus")), None),
    ("rocky9", with_(DEMO, sasl=replace(DEMO.sasl, pam_group="mailusers"),
                     certificate=replace(DEMO.certificate, csr=True, key_type="ecdsa-p384")),
     "firewalld"),
]


@pytest.mark.parametrize("pid,answers,firewall", CASES)
def test_apply_twice_then_rollback_is_byte_identical(pid: str, answers: Answers,
                                                     firewall: Optional[str],
                                                     tmp_path: Path) -> None:
    p = get_platform(pid)
    root = stock_root(tmp_path, p)
    before = snapshot(root)
    fake = FakeTarget(root)
    ex = ScriptedExecutor(root, script=fake.script())
    facts = Facts(service_manager="systemd" if pid == "debian13" else "direct",
                  firewall=firewall, selinux_enforcing=p.is_el)
    with Session.open(tmp_path / "state") as s:
        e = Engine(answers, p, ex, session=s, recipes=steps_7_13(), facts=facts)
        first = e.apply()
        assert all(r.status in ("applied", "skipped") for r in first), [
            (r.step, r.error, r.output) for r in first]
        # the result is what the plan said
        cert, key = cert_paths(answers, p)
        assert (root / key.lstrip("/")).stat().st_mode & 0o777 == 0o600
        values = confedit.read_main_cf((root / "etc/postfix/main.cf").read_text())
        assert "reject_unauth_destination" in values["smtpd_recipient_restrictions"]
        if answers.sasl.pam_group:
            group = (root / "etc/group").read_text()
            assert "mailusers:" in group and "alice" in group.split("mailusers:")[1]
        # a converged second run changes nothing
        second = e.apply()
        assert [(r.step, r.changed) for r in second if r.changed] == []
        assert all(r.status in ("applied", "skipped") for r in second)
        undo = e.rollback()
        assert undo.errors == []
    assert snapshot(root) == before
    assert fake.fw_perm == set() and fake.overrides == set()
