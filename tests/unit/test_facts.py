"""One probe per fact: the daemon and package facts that the recipes (and the core) share."""

from __future__ import annotations

import os
from pathlib import Path

from recipes._daemons import dovecot_running, postfix_running, postfix_status
from wizard.executor import DryRunExecutor, FakeCommand, ScriptedExecutor
from wizard.facts import installed_packages, systemd_running, unit_active


def _tool(root: Path, name: str) -> None:
    exe = root / "usr/sbin" / name
    exe.parent.mkdir(parents=True, exist_ok=True)
    exe.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(exe, 0o755)


def test_postfix_status_not_installed_stopped_running(tmp_path: Path) -> None:
    ex = ScriptedExecutor(tmp_path)
    assert postfix_status(ex) is None and postfix_running(ex) is False
    assert ex.calls == []  # nothing to ask when there is no postfix
    _tool(tmp_path, "postfix")
    ex.script["postfix status"] = FakeCommand(1, "", "postfix is not running")
    assert postfix_status(ex) is False and postfix_running(ex) is False
    ex.script["postfix status"] = FakeCommand(0)
    assert postfix_status(ex) is True and postfix_running(ex) is True
    assert ex.calls[-1] == ["postfix", "status"]


def test_daemon_probes_answer_no_in_a_dry_run_without_running_anything(tmp_path: Path) -> None:
    _tool(tmp_path, "postfix")
    _tool(tmp_path, "dovecot")
    ex = DryRunExecutor(tmp_path)
    assert postfix_status(ex) is False
    assert dovecot_running(ex) is False
    assert ex.recorded == []


def test_systemd_running_is_the_run_directory(tmp_path: Path) -> None:
    ex = ScriptedExecutor(tmp_path)
    assert systemd_running(ex) is False
    (tmp_path / "run/systemd/system").mkdir(parents=True)
    assert systemd_running(ex) is True


def test_installed_packages_dpkg_counts_only_fully_installed(tmp_path: Path) -> None:
    out = ("postfix ii \nlibc6:amd64 ii \nexim4 rc \nsendmail un \n")
    ex = ScriptedExecutor(tmp_path, {"dpkg-query -W": FakeCommand(0, out)})
    assert installed_packages(ex, "apt", ["postfix", "libc6", "exim4", "sendmail"]) == {
        "postfix", "libc6"}
    assert ex.calls[0][:2] == ["dpkg-query", "-W"]
    assert installed_packages(ex, "apt", []) == set()
    assert len(ex.calls) == 1  # no query for no names


def test_installed_packages_rpm_keeps_only_asked_names(tmp_path: Path) -> None:
    out = "postfix\npackage sendmail is not installed\ndovecot\n"
    ex = ScriptedExecutor(tmp_path, {"rpm -q": FakeCommand(1, out)})
    assert installed_packages(ex, "dnf", ["postfix", "dovecot", "sendmail"]) == {
        "postfix", "dovecot"}
    assert ex.calls[0][:2] == ["rpm", "-q"]


def test_unit_active_asks_systemctl_for_that_unit(tmp_path: Path) -> None:
    ex = ScriptedExecutor(tmp_path, {"systemctl is-active --quiet postfix@-": FakeCommand(3)})
    assert unit_active(ex, "postfix@-") is False
    assert unit_active(ex, "dovecot") is True
    assert ex.calls == [["systemctl", "is-active", "--quiet", "postfix@-"],
                        ["systemctl", "is-active", "--quiet", "dovecot"]]
