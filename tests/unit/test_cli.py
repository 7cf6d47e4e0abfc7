"""The headless CLI: exit codes, dry runs that touch nothing, status, import hygiene."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fake_target import debian12_root

from wizard import cli
from wizard.answers import demo_answers_path


def run_cli(*args: str, cwd: Path = None):  # type: ignore[assignment]
    return subprocess.run([sys.executable, "-m", "wizard.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120, stdin=subprocess.DEVNULL)


def test_plan_dry_run_for_another_platform_touches_nothing(tmp_path: Path, capsys):
    state = tmp_path / "state"
    rc = cli.main(["plan", "--answers", "demo", "--platform", "rocky9", "--state-dir",
                   str(state)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "Rocky Linux 9 (rocky9) - dry run" in out
    assert not state.exists()


def test_bad_answers_exit_2_with_every_error(tmp_path: Path):
    data = yaml.safe_load(demo_answers_path().read_text())
    data["hostname"] = "nodots"
    data["mynetworks"] = ["0.0.0.0/0"]
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(data))
    res = run_cli("plan", "--answers", str(f), "--platform", "rocky9")
    assert res.returncode == 2
    assert "hostname: must be fully qualified" in res.stderr
    assert "mynetworks[0]:" in res.stderr and "open relay" in res.stderr
    assert "nothing was changed" in res.stderr


def test_unknown_platform_exit_2():
    res = run_cli("plan", "--answers", "demo", "--platform", "slackware15")
    assert res.returncode == 2 and "unknown platform" in res.stderr


def test_apply_on_other_platform_is_refused(tmp_path: Path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text("ID=debian\nVERSION_ID=12\n")
    res = run_cli("apply", "--answers", "demo", "--platform", "rocky9", "--root", str(root),
                  "--yes")
    assert res.returncode == 2 and "does not match this system" in res.stderr


def test_apply_without_confirmation_is_refused(tmp_path: Path):
    root = debian12_root(tmp_path / "root")
    res = run_cli("apply", "--answers", "demo", "--root", str(root), "--step", "preflight")
    assert res.returncode == 4, res.stdout + res.stderr
    assert "pass --yes" in res.stdout


def test_lock_held_exit_4(tmp_path: Path):
    from wizard.session import Session

    root = debian12_root(tmp_path / "root")
    with Session.open(root / "var/lib/mailwizard"):
        res = run_cli("rollback", "--root", str(root), "--answers", "demo", "--yes")
    assert res.returncode == 4 and "another mailwizard" in res.stderr


def test_status_without_session(tmp_path: Path, capsys):
    assert cli.main(["status", "--state-dir", str(tmp_path / "none")]) == 0
    assert "No session" in capsys.readouterr().out


def test_no_terminal_falls_back_to_plan():
    res = run_cli("--answers", "demo", "--platform", "debian12")
    assert res.returncode == 0
    assert "No terminal" in res.stdout and "Debian 12" in res.stdout


@pytest.mark.parametrize("module", ["wizard.engine", "wizard.cli", "recipes"])
def test_headless_core_never_imports_textual(module: str):
    code = (f"import sys, {module}\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'screens')]\n"
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def test_failed_step_reason_is_printed_once(tmp_path: Path, capsys, monkeypatch):
    """The reason a step failed shows under the step (FAILED: ...), not a second time in the
    closing lines, which say what happened to the changes and what to do."""
    from wizard import changes as ch
    from wizard.errors import ExecutorError
    from wizard.executor import Executor
    from wizard.recipe import Recipe

    class Two(Recipe):
        id = "two"
        title = "Two files"

        def plan(self, ctx):  # type: ignore[no-untyped-def]
            return [ch.FileWrite(f"/etc/mw/{n}.conf", n + "\n") for n in "ab"]

    real_write = Executor.write_atomic

    def write_atomic(self, target, *a, **kw):  # type: ignore[no-untyped-def]
        if target == "/etc/mw/b.conf":
            raise ExecutorError("disk said no to b.conf")
        return real_write(self, target, *a, **kw)

    monkeypatch.setattr(cli, "default_recipes", lambda: [Two()])
    monkeypatch.setattr(Executor, "write_atomic", write_atomic)
    root = debian12_root(tmp_path / "root")
    rc = cli.main(["apply", "--answers", "demo", "--root", str(root), "--yes"])
    out = capsys.readouterr().out
    assert rc == 1
    assert out.count("disk said no to b.conf") == 1, out
    assert "Step two failed (the reason is above)" in out
    assert not (root / "etc/mw/a.conf").exists()  # the step's first write was undone


def test_rollback_dry_run_is_bad_usage(tmp_path: Path):
    res = run_cli("rollback", "--dry-run", "--answers", "demo", "--platform", "rocky9")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "rollback has no dry run" in res.stderr


@pytest.mark.parametrize(("name", "fmt", "first"), [
    ("book.html", None, "<!DOCTYPE html>"), ("book.HTM", None, "<!DOCTYPE html>"),
    ("book.md", None, "# "), ("book.txt", None, "# "), ("book.txt", "html", "<!DOCTYPE html>"),
])
def test_docs_format_follows_the_file_name(tmp_path: Path, name: str, fmt, first: str):
    out = tmp_path / name
    args = ["docs", "--answers", "demo", "--platform", "rocky9", "-o", str(out)]
    rc = cli.main(args + (["--format", fmt] if fmt else []))
    assert rc == 0
    assert out.read_text(encoding="utf-8").lstrip().startswith(first)


def test_docs_format_contradicting_the_file_name_is_refused(tmp_path: Path):
    out = tmp_path / "book.html"
    rc = cli.main(["docs", "--answers", "demo", "--platform", "rocky9", "-o", str(out),
                   "--format", "markdown"])
    assert rc == 2 and not out.exists()


def test_status_lists_every_step_of_the_run(tmp_path: Path, capsys):
    """A run stopped after preflight: status shows the steps still ahead as not started, in
    the order apply takes them, not only the ones the journal has touched."""
    from wizard.answers import load_answers
    from wizard.session import Session

    state = tmp_path / "state"
    answers = load_answers(demo_answers_path())
    with Session.open(state) as s:
        s.bind("debian12", "/", answers.to_dict())
        s.set_step("preflight", "verified")
    assert cli.main(["status", "--state-dir", str(state)]) == 0
    out = capsys.readouterr().out
    lines = [ln.split() for ln in out.splitlines() if ln.startswith("  ")]
    steps = {ln[0]: " ".join(ln[1:]) for ln in lines}
    assert steps["preflight"] == "verified"
    assert steps["postfix-basics"] == "not started"
    assert steps["services"] == "not started"
    assert "epel" not in steps  # not a step on Debian
    ids = [ln[0] for ln in lines]
    assert ids.index("preflight") < ids.index("packages") < ids.index("services")
