"""wizard.target, the composition root both front ends use: options -> platform, root and
executor -> answers, session -> engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from wizard.answers import demo_answers_path, load_answers
from wizard.errors import AnswersError, PlatformError, SessionError
from wizard.executor import DryRunExecutor
from wizard.recipe import Recipe
from wizard.session import Session
from wizard.target import TargetOptions, open_target, state_dir_for

DEBIAN12 = 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'


@pytest.fixture
def debian_root(target_root: Path) -> Path:
    (target_root / "etc/os-release").write_text(DEBIAN12)
    return target_root


class Nothing(Recipe):
    id = "nothing"
    title = "Nothing"

    def plan(self, ctx):  # type: ignore[no-untyped-def]
        return []


def test_the_platform_of_the_root_is_detected_and_changed_for_real(debian_root: Path):
    t = open_target(TargetOptions(root=str(debian_root), verb="apply"))
    assert t.platform.id == "debian12" and not t.dry_run and t.dry_run_reason == ""
    assert t.root == debian_root and t.state_dir == debian_root / "var/lib/mailwizard"
    assert not isinstance(t.executor, DryRunExecutor)


def test_dry_run_option(debian_root: Path, tmp_path: Path):
    t = open_target(TargetOptions(root=str(debian_root), dry_run=True,
                                  state_dir=str(tmp_path / "s")))
    assert t.dry_run and t.dry_run_reason == "--dry-run" and t.state_dir == tmp_path / "s"


def test_another_platform_is_only_planned(debian_root: Path):
    t = open_target(TargetOptions(root=str(debian_root), platform="rocky9", verb="plan"))
    assert t.platform.id == "rocky9" and t.dry_run
    assert t.dry_run_reason == "rocky9 is not this system"
    assert t.root == debian_root  # --root given: planned against it
    with pytest.raises(PlatformError, match="does not match this system"):
        open_target(TargetOptions(root=str(debian_root), platform="rocky9", verb="apply"))


def test_a_platform_without_root_plans_a_fresh_server_in_a_throwaway_root():
    t = open_target(TargetOptions(platform="centos7", verb="docs"))
    assert t.dry_run and t.root != Path("/") and t.root.is_dir()
    assert t.state_dir == t.root / "var/lib/mailwizard"
    assert not (t.root / "etc").exists()  # never this machine's /etc


def test_answers_from_a_file_or_the_session(debian_root: Path):
    t = open_target(TargetOptions(root=str(debian_root), dry_run=True))
    assert t.load_answers("demo") == load_answers(demo_answers_path())
    with pytest.raises(AnswersError, match="no session"):
        t.load_answers(None)
    with Session.open(t.state_dir) as s:
        s.bind("debian12", str(debian_root), load_answers(demo_answers_path()).to_dict())
    assert t.load_answers(None).hostname == load_answers(demo_answers_path()).hostname


def test_a_session_of_another_platform_is_refused_and_left_unlocked(debian_root: Path):
    t = open_target(TargetOptions(root=str(debian_root)))
    with Session.open(t.state_dir) as s:
        s.bind("rocky9", str(debian_root), {})
    with pytest.raises(SessionError, match="is for rocky9, not debian12"):
        t.open_session()
    t.open_session(check_platform=False).close()  # the verify verb's way; lock released


def test_the_engine_runs_the_recipes_it_is_given(debian_root: Path):
    t = open_target(TargetOptions(root=str(debian_root), dry_run=True))
    steps = [Nothing()]
    engine = t.engine(t.load_answers("demo"), steps)
    assert engine.recipes == steps and engine.executor is t.executor
    assert [p.id for p in engine.plan()] == ["nothing"]


def test_state_dir_for():
    assert state_dir_for(None, None) == Path("/var/lib/mailwizard")
    assert state_dir_for("/srv/r", None) == Path("/srv/r/var/lib/mailwizard")
    assert state_dir_for("/srv/r", "/x") == Path("/x")
