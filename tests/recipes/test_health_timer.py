"""Step health-timer: the answers it needs, its systemd and cron plans, the program path it
schedules, and apply + rollback on a temporary root (commands scripted).

The real units and cron file are proven in the lab: tests/e2e/test_health_timer_lab.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml
from treeutil import snapshot_tree as snapshot

from recipes.health_timer import (
    CRON_PATH,
    SERVICE_PATH,
    TIMER,
    TIMER_PATH,
    HealthTimerRecipe,
    cron_time,
    on_calendar,
)
from wizard import selfpath
from wizard.answers import Answers, demo_answers_path, parse_answers
from wizard.changes import View
from wizard.engine import Engine
from wizard.errors import AnswersError, RecipeError
from wizard.executor import DryRunExecutor, ScriptedExecutor
from wizard.executor.scripted import FakeCommand
from wizard.platforms import get_platform
from wizard.recipe import Facts, PlanContext
from wizard.session import Session

PROGRAM = "/opt/mw/bin/mailwizard"


def answers(**health: Any) -> Answers:
    data = yaml.safe_load(demo_answers_path().read_text())
    if health:
        data["health_check"] = health
    return parse_answers(data)


ON = answers(mail_to="postmaster@example.com", schedule="06:30")


def plan(a: Answers, facts: Facts, pid: str = "debian12") -> List[Any]:
    p = get_platform(pid)
    view = View(DryRunExecutor("/nonexistent-root"), p)
    return HealthTimerRecipe().plan(PlanContext(a, p, facts, view))


# --------------------------------------------------------------------------- answers
def test_off_by_default_and_left_out_of_the_plan() -> None:
    a = answers()
    assert a.health_check.mail_to == "" and a.health_check.schedule == "daily"
    assert not HealthTimerRecipe().enabled_for(a, get_platform("debian12"))
    assert HealthTimerRecipe().enabled_for(ON, get_platform("debian12"))
    assert ("Health report", "checked every day at 06:30, mailed to postmaster@example.com "
            "when the result changes") in ON.summary()


@pytest.mark.parametrize("health, field", [
    ({"mail_to": "root"}, "health_check.mail_to"),
    ({"mail_to": "a b@example.com"}, "health_check.mail_to"),
    ({"mail_to": "-oQ/tmp@example.com"}, "health_check.mail_to"),
    ({"mail_to": "x$(id)@example.com"}, "health_check.mail_to"),
    ({"mail_to": "x'y@example.com"}, "health_check.mail_to"),
    ({"mail_to": "x%h@example.com"}, "health_check.mail_to"),
    ({"mail_to": "a@example.com\nb@example.com"}, "health_check.mail_to"),
    ({"mail_to": 5}, "health_check.mail_to"),
    ({"mail_to": "a@example.com", "schedule": "24:00"}, "health_check.schedule"),
    ({"mail_to": "a@example.com", "schedule": "6:30"}, "health_check.schedule"),
    ({"mail_to": "a@example.com", "schedule": "*/5 * * * *"}, "health_check.schedule"),
    ({"mail_to": "a@example.com", "schedule": "daily\nmonthly"}, "health_check.schedule"),
    ({"mail_to": "a@example.com", "schedule": 630}, "health_check.schedule"),
    ({"mail_to": "a@example.com", "when": "daily"}, "health_check.when"),
])
def test_hostile_answers_are_refused_naming_the_field(health: Dict[str, Any],
                                                      field: str) -> None:
    with pytest.raises(AnswersError) as exc:
        answers(**health)
    assert field in [f for f, _ in exc.value.errors], exc.value.errors


def test_the_answers_round_trip() -> None:
    again = parse_answers(ON.to_dict())
    assert again.health_check == ON.health_check
    assert parse_answers(answers(mail_to="a@example.com", schedule="Hourly").to_dict()
                         ).health_check.schedule == "hourly"


# --------------------------------------------------------------------------- schedules
@pytest.mark.parametrize("schedule, calendar, cron", [
    ("hourly", "hourly", "0 * * * *"),
    ("daily", "daily", "0 0 * * *"),
    ("weekly", "weekly", "0 0 * * 1"),
    ("06:30", "*-*-* 06:30:00", "30 6 * * *"),
    ("00:05", "*-*-* 00:05:00", "5 0 * * *"),
    ("23:59", "*-*-* 23:59:00", "59 23 * * *"),
])
def test_schedules(schedule: str, calendar: str, cron: str) -> None:
    assert on_calendar(schedule) == calendar
    assert cron_time(schedule) == cron


# --------------------------------------------------------------------------- plans
def test_systemd_plan_writes_both_units_checks_them_and_enables_the_timer() -> None:
    changes = plan(ON, Facts(service_manager="systemd", mailwizard=PROGRAM))
    by_path = {getattr(c, "path", None): c for c in changes}
    service = by_path[SERVICE_PATH].content
    timer = by_path[TIMER_PATH].content
    assert f"ExecStart={PROGRAM} check --mail-to postmaster@example.com\n" in service
    assert "Type=oneshot" in service and "SuccessExitStatus=1 2" in service
    assert "OnCalendar=*-*-* 06:30:00\n" in timer and "WantedBy=timers.target" in timer
    argvs = [getattr(c, "argv", None) for c in changes]
    assert ["systemd-analyze", "verify", TIMER_PATH, SERVICE_PATH] in argvs
    enable = next(c for c in changes if getattr(c, "argv", None) ==
                  ["systemctl", "enable", "--now", TIMER])
    assert enable.undo_argv == ["systemctl", "disable", "--now", TIMER]
    assert CRON_PATH not in by_path


def test_cron_plan_without_systemd_is_one_quoted_line() -> None:
    a = answers(mail_to="ops+mail=x@example.com", schedule="hourly")
    changes = plan(a, Facts(service_manager="sysv", mailwizard=PROGRAM), "rocky9")
    assert [getattr(c, "path", None) for c in changes] == [CRON_PATH]
    text = changes[0].content
    assert text.splitlines()[-1] == (f"0 * * * * root {PROGRAM} check --mail-to "
                                     "ops+mail=x@example.com >/dev/null 2>&1")
    assert 'MAILTO=""' in text and changes[0].mode == 0o644


def test_a_state_dir_with_a_space_is_refused_not_quoted_into_a_unit() -> None:
    with pytest.raises(RecipeError, match="cannot stand"):
        plan(ON, Facts(service_manager="systemd", mailwizard=PROGRAM,
                       state_dir="/srv/mail wizard"))


def test_the_session_outside_the_default_is_passed_on() -> None:
    changes = plan(ON, Facts(service_manager="sysv", mailwizard=PROGRAM,
                             state_dir="/srv/mailwizard-state"))
    assert changes[0].content.splitlines()[-1] == (
        f"30 6 * * * root {PROGRAM} check --mail-to postmaster@example.com --state-dir "
        "/srv/mailwizard-state >/dev/null 2>&1")


def test_no_program_no_plan() -> None:
    with pytest.raises(RecipeError, match="no program to schedule: not installed here"):
        plan(ON, Facts(service_manager="systemd", mailwizard=None,
                       mailwizard_problem="not installed here"))


# --------------------------------------------------------------------------- the program
@pytest.mark.parametrize("path", ["bin/mailwizard", "/opt/my venv/bin/mailwizard",
                                  "/opt/../bin/mailwizard", "/opt/$HOME/mailwizard",
                                  "/opt/%h/mailwizard", "/opt/x;id/mailwizard"])
def test_unsafe_program_paths_are_refused(path: str) -> None:
    prog, why = selfpath.target_program(DryRunExecutor("/nonexistent-root"), path)
    assert prog is None and "acceptable program path" in why


def test_the_program_must_be_executable_on_the_target(tmp_path: Path) -> None:
    ex = ScriptedExecutor(tmp_path)
    assert selfpath.target_program(ex, PROGRAM)[0] is None
    (tmp_path / "opt/mw/bin").mkdir(parents=True)
    (tmp_path / "opt/mw/bin/mailwizard").write_text("#!/bin/sh\n")
    assert "not an executable" in selfpath.target_program(ex, PROGRAM)[1]
    os.chmod(tmp_path / "opt/mw/bin/mailwizard", 0o755)
    assert selfpath.target_program(ex, PROGRAM) == (PROGRAM, "")
    assert selfpath.target_program(ex, None)[0] is None


def test_the_running_program_is_this_installations_script() -> None:
    found = selfpath.running_program()
    if found is not None:  # the venv running the tests has its console script
        assert os.path.basename(found) == "mailwizard" and os.path.isabs(found)
        assert os.access(found, os.X_OK)


# --------------------------------------------------------------------------- apply, rollback
def _target(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "opt/mw/bin").mkdir(parents=True)
    prog = root / "opt/mw/bin/mailwizard"
    prog.write_text("#!/bin/sh\n")
    prog.chmod(0o755)
    (root / "etc").mkdir()
    return root


@pytest.mark.parametrize("manager", ["sysv", "systemd"])
def test_apply_then_rollback_is_byte_identical(tmp_path: Path, manager: str) -> None:
    root = _target(tmp_path)
    if manager == "systemd":
        (root / "run/systemd/system").mkdir(parents=True)
    before = snapshot(root)
    enabled: List[bool] = [False]

    def systemctl(argv: List[str], ex: Any) -> FakeCommand:
        if argv[1] == "enable":
            enabled[0] = True
        elif argv[1] == "disable":
            enabled[0] = False
        return FakeCommand()

    ex = ScriptedExecutor(root, {
        "systemctl enable": systemctl, "systemctl disable": systemctl,
        "sh -c systemctl is-enabled": FakeCommand(1),
    })
    facts = Facts(service_manager=manager, mailwizard=PROGRAM)
    session = Session.open(tmp_path / "state")
    try:
        engine = Engine(ON, get_platform("debian12"), ex, session=session,
                        recipes=[HealthTimerRecipe()], facts=facts)
        assert facts.state_dir == str(tmp_path / "state")  # not the default: passed on
        engine.facts.state_dir = ""
        results = engine.apply()
        assert [r.status for r in results] == ["applied"], [(r.error, r.output)
                                                             for r in results]
        after = snapshot(root)
        if manager == "systemd":
            assert "etc/systemd/system/mailwizard-health.timer" in after
            assert "etc/cron.d/mailwizard-health" not in after
            assert enabled[0] and ["systemctl", "daemon-reload"] in ex.calls
        else:
            assert "etc/cron.d/mailwizard-health" in after
            assert not any(c[0] == "systemctl" for c in ex.calls)
        engine.rollback()
        assert snapshot(root) == before
        assert not enabled[0]
    finally:
        session.close()
