"""Step dkim: OpenDKIM as Postfix's milter (issue 11).

The plan's contents per platform are recipe cases (cases/dkim); here: apply, a converged
second run, a byte-exact rollback, and the verify checks (key, socket, main.cf)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import List

import pytest
from fake_target import DEMO_ANSWERS, FakeTarget
from treeutil import snapshot_tree as snapshot

from recipes import all_recipes
from recipes.dkim import (
    CONF,
    SPOOL_DIR,
    SPOOL_SOCKET,
    DkimRecipe,
    milter_params,
    opendkim_conf_text,
    record_lines,
    socket_check,
)
from wizard import dkimkey
from wizard.answers import Dkim
from wizard.engine import Engine
from wizard.executor import FakeCommand, ScriptedExecutor
from wizard.platforms import get_platform
from wizard.recipe import Facts, VerifyContext
from wizard.session import Session

KEY = dkimkey.key_path(DEMO_ANSWERS.dkim.selector)


def add_accounts(root: Path) -> None:
    """The accounts the opendkim package makes (uid/gid 120)."""
    with open(root / "etc/passwd", "a") as f:
        f.write("opendkim:x:120:120::/run/opendkim:/usr/sbin/nologin\n")
    with open(root / "etc/group", "a") as f:
        f.write("opendkim:x:120:\n")


def test_the_step_sits_between_relay_and_services() -> None:
    ids = [r.id for r in all_recipes()]
    assert ids.index("relay") + 1 == ids.index("dkim") == ids.index("services") - 1


def test_the_step_follows_the_answer() -> None:
    off = DEMO_ANSWERS.with_changes(dkim=Dkim(enabled=False, selector="s1"))
    assert DkimRecipe().enabled(DEMO_ANSWERS) and not DkimRecipe().enabled(off)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown the key to opendkim")
@pytest.mark.parametrize("pid", ["debian12", "debian13", "rocky9"])
def test_apply_twice_then_rollback_is_byte_identical(pid: str, tmp_path: Path) -> None:
    fake = FakeTarget.stock(tmp_path, pid)
    root = fake.root
    add_accounts(root)
    before = snapshot(root)
    calls: List[List[str]] = []

    def record(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
        calls.append(argv)
        return FakeCommand(0)

    ex = fake.executor({"opendkim -n": record})
    p = get_platform(pid)
    with Session.open(tmp_path / "state") as s:
        e = Engine(DEMO_ANSWERS, p, ex, session=s, recipes=[DkimRecipe()], facts=Facts(
            service_manager="direct"))
        first = e.apply()
        assert [r.status for r in first] == ["applied"], [(r.error, r.output) for r in first]
        st = (root / KEY.lstrip("/")).stat()
        assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o600, 120, 120)
        pem = (root / KEY.lstrip("/")).read_bytes()
        assert dkimkey.public_key_from_pem(pem).key_size == 2048
        assert calls == [["opendkim", "-n", "-x", CONF]]
        if p.smtpd_chroot:
            d = (root / SPOOL_DIR.lstrip("/")).stat()
            assert (d.st_mode & 0o7777, d.st_uid, d.st_gid) == (0o2750, 120, 101)
        second = e.apply()
        assert [(r.step, r.changed) for r in second] == [("dkim", 0)]
        assert (root / KEY.lstrip("/")).read_bytes() == pem  # the key is kept
        undo = e.rollback()
        assert undo.errors == []
    assert snapshot(root) == before


def _verify(tmp_path: Path, pid: str, extra: dict) -> dict:
    fake = FakeTarget.stock(tmp_path, pid)
    add_accounts(fake.root)
    binary = fake.root / "usr/sbin/opendkim"  # installed: verify asks whether it runs
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    ex = fake.executor(extra)
    with Session.open(tmp_path / "state") as s:
        e = Engine(DEMO_ANSWERS, get_platform(pid), ex, session=s, recipes=[DkimRecipe()],
                   facts=Facts(service_manager="direct"))
        assert [r.status for r in e.apply()] == ["applied"]
        res = DkimRecipe().verify(VerifyContext(DEMO_ANSWERS, get_platform(pid), Facts(), ex))
    return {r.name: r for r in res}


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown the key to opendkim")
def test_verify_checks_key_config_main_cf_and_the_socket(tmp_path: Path) -> None:
    running = {"opendkim -n": FakeCommand(0), "daemon-pid": FakeCommand(0, "4242")}
    # no socket yet: opendkim "runs" (scripted) but nothing listens
    res = _verify(tmp_path / "a", "debian12", running)
    assert res[f"{KEY} permissions"].ok
    assert res[f"{CONF} as planned"].ok
    assert all(res[f"main.cf {k}"].ok for k in milter_params(get_platform("debian12")))
    assert res["opendkim running"].ok
    sock = res["OpenDKIM socket reachable by Postfix"]
    assert sock.ok is False and "missing" in sock.detail
    record = res["DKIM record to publish"]
    assert "s202612._domainkey.example.com. IN TXT \"v=DKIM1; k=rsa; p=" in record.detail
    assert "s202612._domainkey.example.net." in record.detail


def _listen(root: Path, gid: int, mode: int) -> socket.socket:
    path = root / SPOOL_SOCKET.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    here = os.getcwd()
    os.chdir(path.parent)  # bind by a short relative name: the root may be deep
    try:
        s.bind(path.name)
    finally:
        os.chdir(here)
    s.listen(1)
    os.chown(path, 120, gid)
    os.chmod(path, mode)
    return s


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown the socket")
@pytest.mark.parametrize("gid,mode,ok", [(101, 0o770, True), (120, 0o770, False),
                                         (101, 0o750, False)])
def test_socket_check_wants_group_postfix_with_write(tmp_path: Path, gid: int, mode: int,
                                                     ok: bool) -> None:
    fake = FakeTarget.stock(tmp_path / ("d" * 60), "debian12")  # past the AF_UNIX limit
    add_accounts(fake.root)
    s = _listen(fake.root, gid, mode)
    try:
        res = socket_check(fake.executor(), get_platform("debian12"))
    finally:
        s.close()
    assert res.ok is ok, res.detail


def test_the_config_sits_where_each_platform_looks() -> None:
    deb, el = get_platform("debian13"), get_platform("almalinux10")
    assert "local:/var/spool/postfix/opendkim/opendkim.sock" in opendkim_conf_text(
        DEMO_ANSWERS, deb)
    assert "inet:8891@127.0.0.1" in opendkim_conf_text(DEMO_ANSWERS, el)
    assert milter_params(deb)["smtpd_milters"] == "unix:opendkim/opendkim.sock"
    assert milter_params(el)["non_smtpd_milters"] == "inet:127.0.0.1:8891"


def test_record_lines_cut_the_value_into_255_character_strings() -> None:
    value = dkimkey.txt_value(dkimkey.generate_key())
    assert len(value) > 255
    lines = record_lines(DEMO_ANSWERS, value)
    assert [ln.split(" IN TXT ")[0] for ln in lines] == [
        "s202612._domainkey.example.com.", "s202612._domainkey.example.net."]
    strings = lines[0].split(" IN TXT ")[1]
    parts = strings[1:-1].split('" "')
    assert "".join(parts) == value and all(len(x) <= 255 for x in parts) and len(parts) == 2


def test_manual_checks_quote_and_print_the_record() -> None:
    cmds = DkimRecipe().manual_checks(DEMO_ANSWERS, get_platform("debian12"))
    text = "\n".join(cmds)
    assert "openssl pkey -in /etc/opendkim/keys/s202612.private -pubout -outform DER" in text
    assert "opendkim-testkey -d example.com -s s202612" in text
    assert SPOOL_SOCKET in text
