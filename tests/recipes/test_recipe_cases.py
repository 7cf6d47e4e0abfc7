"""Recipe cases as data: ``cases/<step>/<case>.yaml``, one folder per step (as pyinfra keeps
one folder of cases per operation).

A case gives what the target holds and how the answers differ from the demo answers, and says
what the plan must contain. Every step runs in install order against one view of the target
(as ``mailwizard plan`` does), so the files are checked as the whole plan leaves them; the
changes are those of the case's step (the folder name) unless an entry names another ``step``.

Keys of a case (unknown keys are an error, so a typo cannot make a case check nothing):

``about``
    what the case shows (required).
``platform``
    a platform id; ``platform_overrides`` replaces fields of it (e.g. an older Postfix).
``root``
    ``empty`` (default: only the files below) or ``stock`` (the distribution's stock /etc).
``stock_files``
    false: a missing file is missing (default true: the plan previews against the stock file,
    as a dry run on a fresh install does).
``files``
    target path -> text, written before planning (``/etc/passwd`` gives the accounts).
``answers``
    overrides merged into the demo answers (nested mappings merge, other values replace).
``real_run``
    true: plan as a real run does (a dry run assumes what a real run would refuse).
``expect``
    ``error``: text the case's step must fail with (nothing else is checked);
    ``main_cf``: key -> value, or null for "not set";
    ``main_cf_lists``: key -> ``has``/``lacks``/``last`` items of the comma-separated value;
    ``master_cf``: "service type" -> ``has``/``lacks`` substrings of the entry;
    ``dovecot``, ``shell_vars``: path -> key -> value (null: not set);
    ``files``: path -> ``has``/``lacks`` substrings;
    ``changes``: entries that must each match a change (``type``: a class name in its MRO,
    ``step``: another step's changes, ``attr~``: full-match regex on the value, ``attr+``:
    items the list value holds, any other key: the attribute's value); ``no_changes``:
    entries no change may match;
    ``notes``: substrings each found in a preview note of the step.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import pytest
import yaml

from recipes import all_recipes
from wizard import changes as ch
from wizard import confedit
from wizard.answers import Answers, demo_answers_path, parse_answers
from wizard.errors import MailwizardError
from wizard.executor import DryRunExecutor
from wizard.platforms import STOCK_DIR, Platform, get_platform
from wizard.recipe import PlanContext, gather_facts

CASES = Path(__file__).parent / "cases"
CASE_FILES = sorted(CASES.glob("*/*.yaml"))
TOP_KEYS = {"about", "platform", "platform_overrides", "root", "stock_files", "files",
            "answers", "real_run", "expect"}
EXPECT_KEYS = {"error", "main_cf", "main_cf_lists", "master_cf", "dovecot", "shell_vars",
               "files", "changes", "no_changes", "notes"}
MAIN_CF = "/etc/postfix/main.cf"
MASTER_CF = "/etc/postfix/master.cf"


# --------------------------------------------------------------------------- building a case
def merged(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merged(base.get(k), v)
        return out
    return over


def case_answers(overrides: Mapping[str, Any]) -> Answers:
    demo = yaml.safe_load(demo_answers_path().read_text())
    return parse_answers(merged(demo, dict(overrides)))


def case_platform(case: Mapping[str, Any]) -> Platform:
    p = get_platform(case["platform"])
    over = {k: tuple(v) if isinstance(v, list) else v
            for k, v in (case.get("platform_overrides") or {}).items()}
    return dataclasses.replace(p, **over)


def make_root(base: Path, case: Mapping[str, Any], platform: Platform) -> Path:
    root = base / "root"
    root.mkdir()
    if case.get("root", "empty") == "stock":
        shutil.copytree(STOCK_DIR / platform.stock / "etc", root / "etc")
    else:
        assert case.get("root", "empty") == "empty", case["root"]
    for path, text in (case.get("files") or {}).items():
        f = root / path.lstrip("/")
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return root


class Outcome:
    """The plan of every step for one case: each step's changes and previews, the view."""

    def __init__(self, case: Mapping[str, Any], step: str, root: Path) -> None:
        self.platform = case_platform(case)
        answers = case_answers(case.get("answers") or {})
        ex = DryRunExecutor(make_root(root, case, self.platform))
        facts = gather_facts(ex, self.platform, dry_run=True)
        if case.get("real_run"):
            facts = dataclasses.replace(facts, dry_run=False)
        self.view = ch.View(ex, self.platform, use_stock=case.get("stock_files", True))
        self.changes: Dict[str, List[ch.Change]] = {}
        self.previews: Dict[str, List[ch.Preview]] = {}
        self.error: Optional[str] = None
        for recipe in all_recipes():
            if not recipe.enabled_for(answers, self.platform):
                continue
            try:
                cs = recipe.plan(PlanContext(answers, self.platform, facts, self.view))
            except MailwizardError as exc:
                assert recipe.id == step, f"step {recipe.id} failed: {exc}"
                self.error = str(exc)
                return
            self.changes[recipe.id] = cs
            self.previews[recipe.id] = [c.preview(self.view) for c in cs]
        assert step in self.changes, f"step {step} is not planned with these answers"

    def text(self, path: str) -> str:
        return self.view.read_text(path) or ""


# --------------------------------------------------------------------------- matching
def plain(value: Any) -> Any:
    """Tuples as lists, mappings as dicts: how YAML writes them."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    return value


def matches(change: ch.Change, entry: Mapping[str, Any]) -> bool:
    for key, want in entry.items():
        if key == "step":
            continue
        if key == "type":
            if want not in [k.__name__ for k in type(change).__mro__]:
                return False
        elif key.endswith("+"):
            have = plain(getattr(change, key[:-1], None))
            if not isinstance(have, list) or any(x not in have for x in want):
                return False
        elif key.endswith("~"):
            if re.fullmatch(want, str(getattr(change, key[:-1], ""))) is None:
                return False
        elif not hasattr(change, key) or plain(getattr(change, key)) != want:
            return False
    return True


def describe(c: ch.Change) -> str:
    fields = {k: plain(v) for k, v in vars(c).items() if not k.startswith("_")}
    return f"{type(c).__name__} {fields}"


def check_items(label: str, items: List[str], spec: Mapping[str, Any]) -> None:
    assert set(spec) <= {"has", "lacks", "last"}, (label, spec)
    for x in spec.get("has", []):
        assert x in items, f"{label}: {x!r} missing from {items}"
    for x in spec.get("lacks", []):
        assert x not in items, f"{label}: {x!r} present in {items}"
    if "last" in spec:
        assert items and items[-1] == spec["last"], f"{label}: last of {items}"


def check_values(label: str, got: Mapping[str, str], want: Mapping[str, Any]) -> None:
    for key, value in want.items():
        if value is None:
            assert key not in got, f"{label}: {key} is set ({got[key]!r})"
        else:
            assert got.get(key) == str(value), f"{label}: {key} = {got.get(key)!r}, not {value!r}"


def check(out: Outcome, step: str, expect: Mapping[str, Any]) -> None:
    unknown = set(expect) - EXPECT_KEYS
    assert not unknown, f"unknown expectations {unknown}"
    if "error" in expect:
        assert out.error is not None and expect["error"] in out.error, out.error
        return
    assert out.error is None, out.error
    main = confedit.read_main_cf(out.text(MAIN_CF))
    check_values("main.cf", main, expect.get("main_cf") or {})
    for key, spec in (expect.get("main_cf_lists") or {}).items():
        assert key in main, f"main.cf: {key} is not set"
        check_items(f"main.cf {key}", [x.strip() for x in main[key].split(",")], spec)
    master = confedit.read_master_cf(out.text(MASTER_CF))
    for entry, spec in (expect.get("master_cf") or {}).items():
        name, kind = entry.split()
        line = master[(name, kind)]
        assert set(spec) <= {"has", "lacks"}, spec
        for x in spec.get("has", []):
            assert x in line, f"master.cf {entry}: {x!r} missing from {line!r}"
        for x in spec.get("lacks", []):
            assert x not in line, f"master.cf {entry}: {x!r} in {line!r}"
    for path, want in (expect.get("dovecot") or {}).items():
        check_values(path, confedit.read_dovecot_conf(out.text(path)), want)
    for path, want in (expect.get("shell_vars") or {}).items():
        check_values(path, confedit.read_shell_vars(out.text(path)), want)
    for path, spec in (expect.get("files") or {}).items():
        text = out.text(path)
        assert set(spec) <= {"has", "lacks"}, spec
        for x in spec.get("has", []):
            assert x in text, f"{path}: {x!r} missing"
        for x in spec.get("lacks", []):
            assert x not in text, f"{path}: {x!r} present"
    for entry in expect.get("changes") or []:
        cs = out.changes[entry.get("step", step)]
        assert any(matches(c, entry) for c in cs), (
            f"no change matches {entry} among:\n" + "\n".join(describe(c) for c in cs))
    for entry in expect.get("no_changes") or []:
        cs = out.changes[entry.get("step", step)]
        hits = [describe(c) for c in cs if matches(c, entry)]
        assert not hits, f"{entry} matches:\n" + "\n".join(hits)
    notes = [p.note for p in out.previews[step]]
    for x in expect.get("notes") or []:
        assert any(x in n for n in notes), f"{x!r} in no note of {notes}"


# --------------------------------------------------------------------------- the tests
def test_there_are_cases_for_every_folder() -> None:
    steps = {r.id for r in all_recipes()}
    folders = {p.name for p in CASES.iterdir() if p.is_dir()}
    assert folders and folders <= steps, folders - steps
    assert all(list(CASES.glob(f"{f}/*.yaml")) for f in folders)


@pytest.mark.parametrize("path", CASE_FILES, ids=[f"{p.parent.name}/{p.stem}" for p in CASE_FILES])
def test_recipe_case(path: Path, tmp_path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    unknown = set(case) - TOP_KEYS
    assert not unknown, f"unknown keys {unknown}"
    assert case.get("about") and case.get("platform") and case.get("expect"), (
        "a case needs about, platform and expect")
    step = path.parent.name
    check(Outcome(case, step, tmp_path), step, case["expect"])


WRONG = [
    {"main_cf": {"smtpd_sasl_type": "dovecot"}},
    {"main_cf": {"smtpd_sasl_path": None}},
    {"main_cf_lists": {"smtpd_helo_restrictions": {"has": ["reject_unknown_helo_hostname"]}}},
    {"main_cf_lists": {"smtpd_helo_restrictions": {"lacks": ["permit_mynetworks"]}}},
    {"main_cf_lists": {"smtpd_helo_restrictions": {"last": "permit_mynetworks"}}},
    {"master_cf": {"submission inet": {"has": ["smtpd_sasl_auth_enable=no"]}}},
    {"master_cf": {"submission inet": {"lacks": ["smtpd_sasl_auth_enable=yes"]}}},
    {"dovecot": {"/etc/dovecot/conf.d/10-auth.conf": {"auth_mechanisms": "plain"}}},
    {"shell_vars": {"/etc/default/saslauthd": {"START": "no"}}},
    {"files": {"/etc/postfix/sasl/smtpd.conf": {"has": ["pwcheck_method: auxprop"]}}},
    {"files": {"/etc/postfix/sasl/smtpd.conf": {"lacks": ["pwcheck_method: saslauthd"]}}},
    {"changes": [{"type": "UserGroup", "user": "postfix", "member_of": "mail"}]},
    {"changes": [{"type": "Command", "argv+": ["--remove"]}]},
    {"changes": [{"type": "FileWrite", "path~": "/etc/sasl2/.*"}]},
    {"changes": [{"step": "services", "type": "Packages"}]},
    {"no_changes": [{"type": "Command"}]},
    {"notes": ["no such note"]},
    {"error": "dave does not exist"},
    {"no_such_expectation": 1},
]


@pytest.mark.parametrize("wrong", WRONG, ids=[str(i) for i in range(len(WRONG))])
def test_a_wrong_expectation_fails(wrong: Dict[str, Any], tmp_path: Path) -> None:
    """The checks can fail: each kind of expectation, wrong for a real plan, is caught."""
    case = yaml.safe_load((CASES / "sasl" / "cyrus-debian13.yaml").read_text())
    out = Outcome(case, "sasl", tmp_path)
    check(out, "sasl", case["expect"])  # the case itself holds
    with pytest.raises(AssertionError):
        check(out, "sasl", wrong)
