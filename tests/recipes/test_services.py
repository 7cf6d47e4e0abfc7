"""Step 12 (services): validation before any reload, and when a reload is not enough."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_target import FakeTarget, stock_root
from recipe_plans import DEMO

from recipes.services import ServicesRecipe
from wizard import changes as ch
from wizard import confedit
from wizard.engine import Engine
from wizard.executor import DryRunExecutor, FakeCommand, ScriptedExecutor
from wizard.platforms import get_platform
from wizard.recipe import Facts, PlanContext
from wizard.session import Session


def test_validation_failure_stops_before_any_reload(tmp_path: Path) -> None:
    p = get_platform("rocky9")
    root = stock_root(tmp_path, p)
    fake = FakeTarget(root)
    fake.fail["postfix"] = 1
    ex = ScriptedExecutor(root, script=fake.script())
    with Session.open(tmp_path / "state") as s:
        e = Engine(DEMO, p, ex, session=s, recipes=[ServicesRecipe()], facts=Facts())
        res = e.apply()
    assert res[0].status == "failed"
    assert "postfix check" in res[0].error and "fatal: broken" in res[0].error
    assert not any(c[:2] in (["postfix", "reload"], ["postfix", "start"]) for c in ex.calls)
    assert isinstance(ServicesRecipe().plan(PlanContext(
        DEMO, p, Facts(), ch.View(ex, p)))[0], ch.Validate)


def _proc_tcp(root: Path, local: str) -> None:
    (root / "proc/net").mkdir(parents=True, exist_ok=True)
    (root / "proc/net/tcp").write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
        f"   0: {local}:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n")


def test_postfix_restarts_when_it_listens_on_localhost_only(tmp_path: Path) -> None:
    p = get_platform("rocky9")
    root = stock_root(tmp_path, p)
    ex = DryRunExecutor(root)

    def postfix_change(main_cf_interfaces: str) -> ch.Change:
        text = confedit.edit_main_cf((root / "etc/postfix/main.cf").read_text(),
                                     {"inet_interfaces": main_cf_interfaces})
        (root / "etc/postfix/main.cf").write_text(text)
        changes = ServicesRecipe().plan(PlanContext(DEMO, p, Facts(), ch.View(ex, p)))
        return [c for c in changes if getattr(c, "name", "") == "postfix"][0]

    assert not postfix_change("all").must_restart  # type: ignore[attr-defined]
    _proc_tcp(root, "0100007F")  # 127.0.0.1:25
    assert postfix_change("all").must_restart  # type: ignore[attr-defined]
    assert not postfix_change("localhost").must_restart  # type: ignore[attr-defined]
    _proc_tcp(root, "00000000")  # 0.0.0.0:25
    assert not postfix_change("all").must_restart  # type: ignore[attr-defined]


def test_postfix_restarts_when_inet_protocols_drops_a_family_it_listens_on(
        tmp_path: Path) -> None:
    """A reload keeps the old protocols: all -> ipv4 with an IPv6 listener needs a restart
    (seen in the systemd e2e scenario: the master died binding submission on IPv6)."""
    p = get_platform("rocky9")
    root = stock_root(tmp_path, p)
    ex = DryRunExecutor(root)
    _proc_tcp(root, "00000000")  # 0.0.0.0:25
    (root / "proc/net/tcp6").write_text(
        "  sl  local_address                         remote_address                        st\n"
        "   0: 00000000000000000000000000000000:0019 00000000000000000000000000000000:0000 0A\n")

    def must_restart(protocols: str) -> bool:
        main = root / "etc/postfix/main.cf"
        main.write_text(confedit.edit_main_cf(main.read_text(), {"inet_interfaces": "all",
                                                                  "inet_protocols": protocols}))
        changes = ServicesRecipe().plan(PlanContext(DEMO, p, Facts(), ch.View(ex, p)))
        svc = [c for c in changes if getattr(c, "name", "") == "postfix"][0]
        return bool(svc.must_restart)  # type: ignore[attr-defined]

    assert not must_restart("all")
    assert must_restart("ipv4")
    (root / "proc/net/tcp6").write_text("  sl  local_address\n")  # IPv4 listener only
    assert not must_restart("ipv4")
    assert must_restart("ipv6")


def test_validate_runs_when_the_configuration_changed_since_the_last_good_check(
        tmp_path: Path) -> None:
    from wizard.changes import Validate
    from wizard.errors import ValidationFailed
    from wizard.executor import FakeCommand, ScriptedExecutor

    root = tmp_path / "root"
    (root / "etc/postfix").mkdir(parents=True)
    main = root / "etc/postfix/main.cf"
    main.write_text("a = 1\n")
    answer = {"rc": 0}
    ex = ScriptedExecutor(root, {"postfix check": lambda argv, e: FakeCommand(answer["rc"],
                                                                              "", "bad")})
    ctx = ch.ChangeContext(ex, get_platform("debian12"), ch.BackupStore(tmp_path / "bk"))
    v = Validate(["postfix", "check"], config=["/etc/postfix/main.cf"])
    assert v.prepare(ctx) is None and len(ex.calls) == 1
    assert v.prepare(ctx) is None and len(ex.calls) == 1  # same config: not repeated
    main.write_text("a = 2\n")
    answer["rc"] = 1
    with pytest.raises(ValidationFailed, match="nothing was restarted"):
        v.prepare(ctx)
    assert len(ex.calls) == 2
    with pytest.raises(ValidationFailed):  # a failed check is never remembered as good
        v.prepare(ctx)


@pytest.mark.parametrize("pid, unit", [("debian12", "postfix@-"), ("ubuntu24.04", "postfix@-"),
                                       ("debian13", "postfix"), ("rocky9", "postfix")])
def test_postfix_restart_under_systemd_asks_the_unit_that_runs_the_master(
        pid: str, unit: str, tmp_path: Path) -> None:
    """Debian 12's postfix.service is a oneshot wrapper around postfix@-; Debian 13's (Postfix
    3.10) is the instance itself and postfix@- stays inactive.  Asking postfix@- there made
    mailwizard believe Postfix was stopped: its restart became a no-op ``systemctl start`` and
    the new master.cf (submission, 587) never loaded (tests/e2e/test_trixie_systemd.py)."""
    p = get_platform(pid)
    root = stock_root(tmp_path, p)
    (root / "run/systemd/system").mkdir(parents=True)
    ex = ScriptedExecutor(root, {
        # only the unit that runs the master is active
        "systemctl is-active --quiet postfix@-": FakeCommand(0 if unit == "postfix@-" else 3),
        "systemctl is-active --quiet postfix": FakeCommand(0 if unit == "postfix" else 3),
        "systemctl is-enabled": FakeCommand(0)})
    _proc_tcp(root, "00000000")  # 0.0.0.0:25
    (root / "proc/net/tcp6").write_text(
        "  sl  local_address                         remote_address                        st\n"
        "   0: 00000000000000000000000000000000:0019 00000000000000000000000000000000:0000 0A\n")
    main = root / "etc/postfix/main.cf"
    main.write_text(confedit.edit_main_cf(main.read_text(), {"inet_interfaces": "all",
                                                              "inet_protocols": "ipv4"}))
    changes = ServicesRecipe().plan(PlanContext(DEMO, p, Facts(), ch.View(ex, p)))
    svc = [c for c in changes if getattr(c, "name", "") == "postfix"][0]
    assert svc.must_restart  # type: ignore[attr-defined]
    ctx = ch.ChangeContext(ex, p, ch.BackupStore(tmp_path / "bk"))
    rec = svc.prepare(ctx)
    assert rec is not None and rec["was_running"], rec
    svc.commit(ctx, rec)
    assert ["systemctl", "restart", "postfix"] in ex.calls, ex.calls
    assert ["systemctl", "start", "postfix"] not in ex.calls, ex.calls
