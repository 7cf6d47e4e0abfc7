"""Step health-timer (optional, on when ``health_check.mail_to`` is answered): run
``mailwizard check --mail-to ADDR`` on a schedule.

Touches, where systemd runs: /etc/systemd/system/mailwizard-health.service (a oneshot that
runs the check) and mailwizard-health.timer (``OnCalendar`` from ``health_check.schedule``),
``systemctl daemon-reload``, the timer enabled and started. Elsewhere: the cron entry
/etc/cron.d/mailwizard-health. The program is the running installation's own ``mailwizard``
(:mod:`wizard.selfpath`), checked on the target. The check itself mails only when its result
changed since the last mailed report, so a schedule every hour sends no more mail than one a
day while nothing changes.

Example answers: ``health_check: {mail_to: postmaster@example.com, schedule: "06:30"}``.
"""

from __future__ import annotations

import re
from shlex import quote as q
from typing import List, Optional, Sequence

from wizard import checks
from wizard.answers import Answers, describe_schedule
from wizard.changes import Change, Command, FileWrite, Note, SystemdDropIn, Validate
from wizard.checks import CheckResult, failed, info, passed
from wizard.errors import RecipeError
from wizard.executor import Executor
from wizard.platforms import Platform
from wizard.recipe import Facts, PlanContext, Recipe, VerifyContext

UNIT = "mailwizard-health"
SERVICE = f"{UNIT}.service"
TIMER = f"{UNIT}.timer"
UNIT_DIR = "/etc/systemd/system"
SERVICE_PATH = f"{UNIT_DIR}/{SERVICE}"
TIMER_PATH = f"{UNIT_DIR}/{TIMER}"
CRON_PATH = "/etc/cron.d/mailwizard-health"
"""No dot in the name: Debian's cron skips /etc/cron.d files with one."""
SAFE_WORD = re.compile(r"[A-Za-z0-9._+=@/:-]{1,4096}", re.ASCII)
"""A word that means itself to sh, to cron and in a systemd ``ExecStart`` (no space, quote,
``%``, ``$``, ``\\`` or ``;``): the program path, the address and the state directory pass
their own validation first; this is the last guard before a line is written."""
SUCCESS_EXIT = "1 2"
"""WARNING and CRITICAL are results, mailed; only UNKNOWN (3: the check could not run) marks
the unit failed."""


def check_argv(answers: Answers, facts: Facts) -> List[str]:
    """``mailwizard check --mail-to ADDR [--state-dir DIR]``, every word checked.

    Raises:
        RecipeError: no usable mailwizard program, or a word that is not safe on a line.
    """
    if facts.mailwizard is None:
        raise RecipeError(f"no program to schedule: {facts.mailwizard_problem}")
    argv = [facts.mailwizard, "check", "--mail-to", answers.health_check.mail_to]
    if facts.state_dir:
        argv += ["--state-dir", facts.state_dir]
    for word in argv:
        if not SAFE_WORD.fullmatch(word) or word.startswith("-") and word[:2] != "--":
            raise RecipeError(f"{word!r} cannot stand on a schedule's command line")
    return argv


def on_calendar(schedule: str) -> str:
    """systemd's ``OnCalendar`` for a schedule answer."""
    if schedule in ("hourly", "daily", "weekly"):
        return schedule
    return f"*-*-* {schedule}:00"


def cron_time(schedule: str) -> str:
    """The five time fields of a cron line, as systemd reads the same word (``daily`` is
    midnight, ``weekly`` Monday midnight)."""
    fixed = {"hourly": "0 * * * *", "daily": "0 0 * * *", "weekly": "0 0 * * 1"}
    if schedule in fixed:
        return fixed[schedule]
    hour, minute = schedule.split(":")
    return f"{int(minute)} {int(hour)} * * *"


def _header(answers: Answers) -> str:
    hc = answers.health_check
    return ("# Written by mailwizard (step health-timer): `mailwizard check` runs "
            f"{describe_schedule(hc.schedule)}\n# and mails its report to {hc.mail_to} when "
            "the result changed. Rolling the step back\n# removes this file.\n")


def service_text(answers: Answers, argv: Sequence[str]) -> str:
    return (_header(answers)
            + "[Unit]\nDescription=mailwizard health check (mailed when the result changes)\n"
            "After=network-online.target postfix.service dovecot.service\n\n"
            "[Service]\nType=oneshot\n"
            f"ExecStart={' '.join(argv)}\n"
            f"SuccessExitStatus={SUCCESS_EXIT}\n"
            "StandardOutput=null\n")


def timer_text(answers: Answers) -> str:
    return (_header(answers)
            + "[Unit]\nDescription=Run the mailwizard health check "
            f"{describe_schedule(answers.health_check.schedule)}\n\n"
            f"[Timer]\nOnCalendar={on_calendar(answers.health_check.schedule)}\n"
            "Persistent=true\n"
            f"Unit={SERVICE}\n\n"
            "[Install]\nWantedBy=timers.target\n")


def cron_text(answers: Answers, argv: Sequence[str]) -> str:
    line = " ".join(q(a) for a in argv)
    return (_header(answers)
            + "SHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
            "MAILTO=\"\"\n"
            f"{cron_time(answers.health_check.schedule)} root {line} >/dev/null 2>&1\n")


def uses_systemd(facts: Facts) -> bool:
    return facts.service_manager == "systemd"


DAEMON_RELOAD = ["systemctl", "daemon-reload"]
"""Once both units are undone (the service's undo, the last one; the runbook's roll-back
says it too)."""
_ENABLED_AND_ACTIVE = (f"systemctl is-enabled --quiet {TIMER} && "
                       f"systemctl is-active --quiet {TIMER}")


class HealthTimerRecipe(Recipe):
    id = "health-timer"
    title = "Scheduled health report (mailwizard check --mail-to)"
    guide = "None: the guides end with the install (issue 14)"
    summary = (
        "Runs `mailwizard check` on a schedule (hourly, daily, weekly or every day at a "
        "time you give) and mails its plain-text report to the address you answered, but "
        "only when the result changed since the last report: a problem is mailed once when "
        "it appears and once when it is gone. Where systemd runs, a timer and a oneshot "
        "service in /etc/systemd/system do it (missed runs are made up after a reboot); "
        "elsewhere a line in /etc/cron.d. The program is the mailwizard that applies the "
        "step, at its installed path. Warnings and critical results are mailed, not treated "
        "as a failed unit; a check that cannot run at all marks the service failed "
        "(systemctl --failed). Off unless an address is answered.")
    optional = True
    touches = (SERVICE_PATH, TIMER_PATH, CRON_PATH, f"timer {TIMER}")

    def enabled_for(self, answers: Answers, platform: Platform) -> bool:
        # driven by an answer: without an address the step is not in the plan at all
        return bool(answers.health_check.mail_to)

    # ------------------------------------------------------------------ plan
    def plan(self, ctx: PlanContext) -> List[Change]:
        a = ctx.answers
        argv = check_argv(a, ctx.facts)
        if not uses_systemd(ctx.facts):
            return [FileWrite(CRON_PATH, cron_text(a, argv), mode=0o644,
                              reason="no systemd here: cron runs the check")]
        return [
            SystemdDropIn(SERVICE_PATH, service_text(a, argv), mode=0o644,
                          undo_then=[DAEMON_RELOAD], reason="the check as a oneshot service"),
            SystemdDropIn(TIMER_PATH, timer_text(a), mode=0o644, reason="when it runs: "
                                 f"OnCalendar={on_calendar(a.health_check.schedule)}"),
            Validate(["systemd-analyze", "verify", TIMER_PATH, SERVICE_PATH],
                     "check the units (systemd-analyze verify)", [TIMER_PATH, SERVICE_PATH]),
            Command(["systemctl", "enable", "--now", TIMER],
                    undo=["systemctl", "disable", "--now", TIMER],
                    unless=["sh", "-c", _ENABLED_AND_ACTIVE],
                    description=f"enable and start {TIMER}"),
            Command(["systemctl", "restart", TIMER], after_files=[TIMER_PATH, SERVICE_PATH],
                    description=f"restart {TIMER} when its units changed (the new schedule "
                                "counts from now)"),
            Note(f"the check is mailed to {a.health_check.mail_to} only when its result "
                 "changes", f"see the schedule: systemctl list-timers {TIMER}"),
        ]

    # ------------------------------------------------------------------ verify
    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        a, ex, facts = ctx.answers, ctx.executor, ctx.facts
        try:
            argv = check_argv(a, facts)
        except RecipeError as exc:
            return [failed("mailwizard program for the schedule", str(exc),
                           "apply the step with the installed mailwizard")]
        out = [_program_check(ex, argv[0])]
        if not uses_systemd(facts):
            out.append(_as_planned(ex, CRON_PATH, cron_text(a, argv)))
            out.append(checks.file_mode(ex, CRON_PATH, 0o644))
            if ex.which("cron") or ex.which("crond"):
                out.append(passed("cron daemon installed"))
            else:
                out.append(info("cron daemon installed", "no cron or crond on this system",
                                "the entry runs once a cron daemon is installed"))
            return out
        out.append(_as_planned(ex, SERVICE_PATH, service_text(a, argv)))
        out.append(_as_planned(ex, TIMER_PATH, timer_text(a)))
        if ex.rehearsal:
            out.append(checks.not_checked("units valid (systemd-analyze verify)",
                                          "a running systemd"))
            out.append(checks.not_checked(f"{TIMER} enabled and active", "a running systemd"))
            return out
        out.append(_analyze(ex))
        enabled = ex.run(["systemctl", "is-enabled", TIMER], quiet=True, timeout=60)
        active = ex.run(["systemctl", "is-active", TIMER], quiet=True, timeout=60)
        state = f"{enabled.stdout.strip() or 'unknown'}, {active.stdout.strip() or 'unknown'}"
        name = f"{TIMER} enabled and active"
        if enabled.ok and active.ok:
            out.append(passed(name, state))
        else:
            out.append(failed(name, state, f"systemctl enable --now {TIMER}"))
        return out

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        return [
            f"systemctl list-timers {TIMER}   # with systemd: the next run",
            f"systemd-analyze verify {TIMER_PATH} {SERVICE_PATH} && echo units OK",
            f"cat {CRON_PATH}   # without systemd",
            f"mailwizard check --mail-to {q(answers.health_check.mail_to)}; echo $?"
            "   # 0 ok, 1 warning, 2 critical, 3 unknown; mails only when the result changed",
        ]


def _program_check(ex: Executor, program: str) -> CheckResult:
    name = "mailwizard program for the schedule"
    st = ex.stat(program, follow=True)
    if st is not None and not st.is_dir and st.mode & 0o111:
        return passed(name, program)
    return failed(name, f"{program} is not an executable file",
                  "apply the step again with the installed mailwizard")


def _as_planned(ex: Executor, path: str, want: str) -> CheckResult:
    have: Optional[str] = ex.read_text(path)
    ok = have == want
    return CheckResult(f"{path} as planned", ok,
                       "as planned" if ok else ("missing" if have is None else "edited since"),
                       "" if ok else "apply the step health-timer again")


def _analyze(ex: Executor) -> CheckResult:
    name = "units valid (systemd-analyze verify)"
    if not ex.which("systemd-analyze"):
        return info(name, "systemd-analyze is not installed")
    res = ex.run(["systemd-analyze", "verify", TIMER_PATH, SERVICE_PATH], quiet=True,
                 timeout=120)
    if res.ok:
        return passed(name)
    return failed(name, " ".join(res.output.split())[-300:],
                  f"systemd-analyze verify {TIMER_PATH} {SERVICE_PATH}")
