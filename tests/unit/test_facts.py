"""One probe per fact: the daemon and package facts that the recipes (and the core) share."""

from __future__ import annotations

import os
from pathlib import Path

from recipes._daemons import dovecot_running, postfix_running, postfix_status
from wizard.executor import DryRunExecutor, FakeCommand, ScriptedExecutor
from wizard.facts import installed_packages, interface_addresses, systemd_running, unit_active


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


def test_interface_addresses_leave_out_loopback_and_link_local(tmp_path: Path) -> None:
    out = ("1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n"
           "1: lo    inet6 ::1/128 scope host \\       valid_lft forever\n"
           "2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\\  valid_lft forever\n"
           "2: eth0    inet6 2a01:4f8:0:0::25/64 scope global \\       valid_lft forever\n"
           "2: eth0    inet6 fe80::1/64 scope link \\       valid_lft forever\n"
           "3: eth1    inet 10.0.0.5/24 scope global eth1\\  valid_lft forever\n"
           "4: bad    inet not-an-address scope global\n")
    ex = ScriptedExecutor(tmp_path, {"ip -o addr show": FakeCommand(0, out)})
    assert interface_addresses(ex) == []  # no ip on the target
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/ip").write_text("#!/bin/sh\n")
    (tmp_path / "usr/bin/ip").chmod(0o755)
    assert interface_addresses(ex) == ["10.0.0.5", "2a01:4f8::25"]
    dry = DryRunExecutor(tmp_path)
    assert interface_addresses(dry) == []  # a dry run's probe answers nothing
