"""The full plan for the demo answers, per platform, against golden files.

A plan is what an admin reviews before anything changes, so any difference in it must be a
deliberate one: regenerate with ``UPDATE_GOLDEN=1 pytest tests/recipes/test_golden.py`` and
review the diff of the golden files in the commit.
"""

from __future__ import annotations

import copy
import io
import os
from pathlib import Path
from typing import Any, Dict

import pytest
import yaml
from allsteps import real_engine

from wizard.answers import Answers, demo_answers_path, load_answers, parse_answers
from wizard.executor import DryRunExecutor
from wizard.platforms import get_platform
from wizard.report import print_plan

GOLDEN = Path(__file__).parent / "golden"
PLATFORMS = ["rocky9", "centos7", "almalinux10", "debian12", "debian13", "ubuntu24.04"]


ACME: Dict[str, Any] = {"mode": "acme", "acme_email": "postmaster@example.com",
                        "extra_names": ["smtp.example.com"]}
"""The demo answers' certificate section in acme mode (the ``*.acme.plan.txt`` goldens)."""
HEALTH: Dict[str, Any] = {"mail_to": "postmaster@example.com", "schedule": "06:30"}
"""The scheduled health report, off in the demo answers, on in the ``*.acme.plan.txt``
goldens (the variant with the optional steps the demo leaves off)."""
PROGRAM = "/usr/local/bin/mailwizard"
"""The installed program the goldens schedule (not this test run's interpreter's)."""


@pytest.fixture(autouse=True)
def _installed_program(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("wizard.selfpath.running_program", lambda: PROGRAM)


def acme_answers() -> Answers:
    data = yaml.safe_load(demo_answers_path().read_text())
    data["certificate"] = copy.deepcopy(ACME)
    data["health_check"] = copy.deepcopy(HEALTH)
    return parse_answers(data)


def render(pid: str, root: Path, answers: Any = None) -> str:
    engine = real_engine(answers or load_answers(demo_answers_path()), get_platform(pid),
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


@pytest.mark.parametrize("pid", PLATFORMS)
def test_acme_plan_matches_golden(pid: str, tmp_path: Path) -> None:
    text = render(pid, tmp_path, acme_answers())
    golden = GOLDEN / f"{pid}.acme.plan.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert golden.exists(), f"missing {golden}: run with UPDATE_GOLDEN=1"
    assert text == golden.read_text(), f"acme plan for {pid} differs from {golden}"


@pytest.mark.parametrize("pid", PLATFORMS)
def test_acme_golden_plans_get_certbot_open_80_and_end_with_the_acme_step(pid: str) -> None:
    text = (GOLDEN / f"{pid}.acme.plan.txt").read_text()
    p = get_platform(pid)
    steps = [ln for ln in text.splitlines() if ln[:3].strip().rstrip(".").isdigit()
             and " step(s)." not in ln]
    # the scheduled health report comes last, once the certificate is there
    assert "[health-timer]" in steps[-1], steps[-3:]
    assert "[acme]" in steps[-2] and "[firewall]" in steps[-3], steps[-4:]
    install = next(ln for ln in text.splitlines()
                   if ln.strip().startswith("$ ") and " install " in ln and "postfix" in ln)
    assert install.split()[-1] == "certbot" or " certbot " in install
    cmds = [ln.strip()[2:] for ln in text.splitlines() if ln.strip().startswith("$ ")]
    certbot = [c for c in cmds if c.startswith("certbot certonly ")]
    assert len(certbot) == 1
    assert "-d mail.example.com -d smtp.example.com" in certbot[0]
    assert "--deploy-hook /etc/letsencrypt/renewal-hooks/deploy/mailwizard" in certbot[0]
    if p.is_el:
        assert text.count("[epel]") == 1 and "systemctl enable certbot-renew.timer" in cmds
        assert "firewall-cmd --permanent --add-service=http" in cmds
    else:
        assert "[epel]" not in text and not any("certbot-renew" in c for c in cmds)
    if p.firewall == "ufw":
        assert "ufw allow 80/tcp" in cmds


@pytest.mark.parametrize("pid", PLATFORMS)
def test_acme_golden_plans_schedule_the_health_report(pid: str) -> None:
    text = (GOLDEN / f"{pid}.acme.plan.txt").read_text()
    section = text[text.index("[health-timer]"):]
    assert f"+ExecStart={PROGRAM} check --mail-to postmaster@example.com" in section
    assert "+OnCalendar=*-*-* 06:30:00" in section and "+WantedBy=timers.target" in section
    assert "$ systemctl enable --now mailwizard-health.timer" in section
    assert "health-timer" not in (GOLDEN / f"{pid}.plan.txt").read_text()  # off by default


def test_plans_are_deterministic(tmp_path: Path) -> None:
    assert render("rocky9", tmp_path / "a") == render("rocky9", tmp_path / "b")
