"""wizard.answers and wizard.executor became packages: every name importable from the old
modules still is, so recipes, screens, bench and the e2e suite import them as before."""

from __future__ import annotations

import importlib

import pytest

OLD_NAMES = {
    "wizard.answers": [
        "KEY_TYPES", "SASL_BACKENDS", "CERT_MODES", "INET_PROTOCOLS", "OPTIONAL_STEPS",
        "MAX_YAML_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_NODES", "Errors", "check_hostname",
        "check_domain", "normalize_network", "check_user", "check_address", "check_path",
        "text_problem", "User", "Certificate", "Sasl", "Restrictions", "Answers",
        "parse_answers", "_find_loop", "read_answers_file", "load_answers", "dump_answers",
        "DEMO_DIR", "demo_answers_path",
    ],
    "wizard.executor": [
        "OutputCallback", "DEFAULT_PATH", "MAX_LINKS", "FileStat", "CommandResult", "Recorded",
        "sha256", "Executor", "TERM_GRACE", "DryRunExecutor", "FakeCommand", "ScriptedExecutor",
    ],
}


@pytest.mark.parametrize("module", sorted(OLD_NAMES))
def test_every_old_name_is_still_exported(module: str) -> None:
    mod = importlib.import_module(module)
    missing = [name for name in OLD_NAMES[module] if not hasattr(mod, name)]
    assert missing == []
    public = [name for name in OLD_NAMES[module] if not name.startswith("_")]
    assert set(public) <= set(mod.__all__)


def test_demo_answers_are_found_from_the_package() -> None:
    from wizard.answers import DEMO_DIR, demo_answers_path

    assert DEMO_DIR.name == "demo" and DEMO_DIR.parent.name == "wizard"
    assert demo_answers_path().is_file()


def test_the_fakes_are_executors() -> None:
    from wizard.executor import DryRunExecutor, Executor, ScriptedExecutor

    assert issubclass(DryRunExecutor, Executor) and issubclass(ScriptedExecutor, Executor)
    assert DryRunExecutor.dry_run and not ScriptedExecutor.dry_run
