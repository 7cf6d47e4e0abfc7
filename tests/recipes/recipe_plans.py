"""Shared helpers of the recipe tests: the demo answers, the platforms planned, and plans of
steps against a temporary root (previewed against the stock files).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional

from fake_target import DEMO_ANSWERS

from recipes.aliases import AliasesRecipe
from recipes.certificate import CertificateRecipe
from recipes.dovecot_basics import DovecotBasicsRecipe
from recipes.firewall import FirewallRecipe
from recipes.maildir import MaildirRecipe
from recipes.packages import PackagesRecipe
from recipes.postfix_basics import PostfixBasicsRecipe
from recipes.preflight import PreflightRecipe
from recipes.restrictions import RestrictionsRecipe
from recipes.sasl import SaslRecipe
from recipes.services import ServicesRecipe
from recipes.tls_dovecot import TlsDovecotRecipe
from recipes.tls_postfix import TlsPostfixRecipe
from wizard import changes as ch
from wizard import confedit
from wizard.answers import Answers
from wizard.engine import Engine, StepPlan
from wizard.executor import DryRunExecutor
from wizard.platforms import STOCK_DIR, Platform, get_platform
from wizard.recipe import Facts, PlanContext, Recipe, gather_facts

ANSWERS = DEMO = DEMO_ANSWERS
PLATFORMS = ["rocky9", "centos7", "almalinux10", "debian12", "debian13", "ubuntu24.04"]
PASSWORD = "Corr3ct-Horse-Battery"


def steps_1_6() -> List[Recipe]:
    """Preflight ... aliases."""
    return [PreflightRecipe(), PackagesRecipe(), PostfixBasicsRecipe(), DovecotBasicsRecipe(),
            MaildirRecipe(), AliasesRecipe()]


def steps_7_13() -> List[Recipe]:
    """Restrictions ... firewall."""
    return [RestrictionsRecipe(), CertificateRecipe(), SaslRecipe(), TlsPostfixRecipe(),
            TlsDovecotRecipe(), ServicesRecipe(), FirewallRecipe()]


def dry_plan(tmp_path: Path, pid: str, answers=ANSWERS) -> Dict[str, StepPlan]:
    root = tmp_path / "empty"
    root.mkdir(exist_ok=True)
    engine = Engine(answers, get_platform(pid), DryRunExecutor(root), recipes=steps_1_6())
    plans = {p.id: p for p in engine.plan()}
    for p in plans.values():
        assert not p.error, (p.id, p.error)
    return plans


def stock_text(pid: str, path: str) -> Optional[str]:
    p = STOCK_DIR / get_platform(pid).stock / path.lstrip("/")
    return p.read_text() if p.is_file() else None


def edited(pid: str, plan: StepPlan, path: str) -> str:
    """Apply every planned edit of ``path`` in ``plan`` to the platform's stock file."""
    text = stock_text(pid, path)
    for c in plan.changes:
        if isinstance(c, ch.FileChange) and c.path == path:
            text = c.transform(text)
    assert text is not None
    return text


def active_lines(text: str) -> List[str]:
    return [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def with_(answers: Answers, **kw: object) -> Answers:
    return replace(answers, **kw)  # type: ignore[arg-type]


class Planned:
    """Every change and preview of the steps, and the view of the files afterwards."""

    def __init__(self, root: Path, platform: Platform, answers: Answers = DEMO,
                 facts: Optional[Facts] = None) -> None:
        ex = DryRunExecutor(root)
        self.platform = platform
        self.facts = facts or gather_facts(ex, platform, dry_run=True)
        self.view = ch.View(ex, platform)
        self.changes: Dict[str, List[ch.Change]] = {}
        self.previews: Dict[str, List[ch.Preview]] = {}
        for r in steps_7_13():
            if not r.enabled_for(answers, platform):
                continue
            cs = r.plan(PlanContext(answers, platform, self.facts, self.view))
            self.changes[r.id] = cs
            self.previews[r.id] = [c.preview(self.view) for c in cs]

    def text(self, path: str) -> str:
        return self.view.read_text(path) or ""

    def main_cf(self) -> Dict[str, str]:
        return confedit.read_main_cf(self.text("/etc/postfix/main.cf"))

    def all(self) -> List[ch.Change]:
        return [c for cs in self.changes.values() for c in cs]
