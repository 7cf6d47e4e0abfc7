"""Step relay (guide 004's relayhost): answers, apply and byte-exact rollback, verify, and the
password kept out of the session, the plan and the check results."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml
from fake_target import DEMO_ANSWERS, FakeTarget

from recipes.relay import SASL_PASSWD, RelayRecipe
from recipes.tls_postfix import TlsPostfixRecipe
from wizard import confedit
from wizard.answers import demo_answers_path, parse_answers
from wizard.engine import Engine
from wizard.errors import AnswersError
from wizard.executor import FakeCommand, ScriptedExecutor
from wizard.platforms import get_platform
from wizard.recipe import Facts, VerifyContext
from wizard.session import Session

SECRET = "Sm4rthost-Secret-42"
DEMO: Dict[str, Any] = yaml.safe_load(demo_answers_path().read_text())


def relay_answers(**kw: Any):
    data = copy.deepcopy(DEMO)
    data.update({"relayhost": "[smtp.provider.example]:587", "relay_user": "mailer@example.com",
                 "relay_password": SECRET, **kw})
    return parse_answers(data)


def errors_of(**kw: Any) -> Dict[str, str]:
    try:
        relay_answers(**kw)
    except AnswersError as exc:
        return dict(exc.errors)
    return {}


@pytest.mark.parametrize("value", ["[smtp.provider.example]:587", "smtp.provider.example",
                                   "smtp.provider.example:2525", "[smtp.provider.example]",
                                   "[192.0.2.25]", "[192.0.2.25]:587", "SMTP.Provider.Example"])
def test_relayhost_forms_postfix_takes(value: str) -> None:
    assert relay_answers(relayhost=value).relayhost == value.lower()


@pytest.mark.parametrize("value,words", [
    ("smtp.provider.example:0", "between 1 and 65535"),
    ("smtp.provider.example:70000", "between 1 and 65535"),
    ("192.0.2.25", "needs brackets"),
    ("[2001:db8::25]", "IPv6"),
    ("smtp.provider.example:587\nrelayhost = evil", ""),
    ("smtp.provider.example 587", "host name with an optional port"),
    ("[smtp.provider.example", "host name with an optional port"),
    ("smtp..example", "not valid"),
    ("localhost", "fully qualified"),
    ("smtp.provider.example:587$", "host name with an optional port"),
])
def test_bad_relayhost_is_named(value: str, words: str) -> None:
    errs = errors_of(relayhost=value)
    assert "relayhost" in errs and words in errs["relayhost"], errs


@pytest.mark.parametrize("kw,field", [
    ({"relay_user": "mail er"}, "relay_user"),
    ({"relay_user": "user:x"}, "relay_user"),
    ({"relay_user": "us\u00e9r"}, "relay_user"),
    ({"relay_password": " padded"}, "relay_password"),
    ({"relay_password": 1234}, "relay_password"),
    ({"relay_user": ""}, "relay_user"),  # a password without a user
    ({"relayhost": ""}, "relayhost"),  # a login without a relay
])
def test_bad_relay_login_is_named(kw: Dict[str, Any], field: str) -> None:
    assert field in errors_of(**kw)


def test_the_password_is_a_secret_kept_out_of_the_session_and_summary() -> None:
    a = relay_answers()
    assert a.relay_password is not None and a.relay_password.reveal() == SECRET
    assert SECRET not in repr(a) and SECRET not in str(a.summary())
    assert "relay_password" not in a.to_dict() and "password" not in str(a.to_dict())
    assert a.to_dict(include_secrets=True)["relay_password"] == SECRET
    # what the session stores parses again (no password: the step says so, see the cases)
    again = parse_answers(a.to_dict())
    assert again.relay_user == "mailer@example.com" and again.relay_password is None
    assert ("Outbound relay", "[smtp.provider.example]:587 as mailer@example.com "
            "(password not shown)") in a.summary()


def test_without_relayhost_the_step_is_not_planned() -> None:
    p = get_platform("debian12")
    assert not RelayRecipe().enabled_for(DEMO_ANSWERS, p)
    assert RelayRecipe().enabled_for(relay_answers(), p)


def _postmap(root: Path):
    """postmap TYPE:FILE writes an indexed copy holding the file's lines (mode 0644, as a
    careless umask would); postmap -q KEY TYPE:FILE answers from it."""
    def run(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
        if argv[1] == "-q":
            db, _, src = argv[3].partition(":")
            out = root / (src.lstrip("/") + (".lmdb" if db == "lmdb" else ".db"))
            for line in out.read_text().splitlines() if out.exists() else []:
                key, _, value = line.partition(" ")
                if key == argv[2]:
                    return FakeCommand(0, value + "\n")
            return FakeCommand(1)
        db, _, src = argv[1].partition(":")
        out = root / (src.lstrip("/") + (".lmdb" if db == "lmdb" else ".db"))
        out.write_bytes((root / src.lstrip("/")).read_bytes())
        os.chmod(out, 0o644)
        return FakeCommand()

    return run


def _chmod(root: Path):
    def run(argv: List[str], ex: ScriptedExecutor) -> FakeCommand:
        os.chmod(root / argv[2].lstrip("/"), int(argv[1], 8))
        return FakeCommand()

    return run


@pytest.mark.parametrize("pid", ["debian12", "almalinux10", "rocky9"])
def test_relay_apply_verify_and_byte_exact_rollback(pid: str, tmp_path: Path) -> None:
    p = get_platform(pid)
    fake = FakeTarget.stock(tmp_path, p)
    root = fake.root
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/sbin/postmap").write_text("#!/bin/sh\n")
    (root / "usr/sbin/postmap").chmod(0o755)
    main_cf = root / "etc/postfix/main.cf"
    before = main_cf.read_bytes()
    ex = fake.executor({"postmap": _postmap(root), "chmod": _chmod(root)})
    answers = relay_answers()
    ext = ".lmdb" if p.default_database_type == "lmdb" else ".db"
    with Session.open(tmp_path / "state") as s:
        e = Engine(answers, p, ex, session=s, recipes=[TlsPostfixRecipe(), RelayRecipe()],
                   facts=Facts())
        assert [r.status for r in e.apply()] == ["applied", "applied"]
        passwd = root / SASL_PASSWD.lstrip("/")
        assert passwd.read_text() == f"[smtp.provider.example]:587 mailer@example.com:{SECRET}\n"
        for f in (passwd, root / (SASL_PASSWD.lstrip("/") + ext)):
            assert f.stat().st_mode & 0o777 == 0o600, f
        values = confedit.read_main_cf(main_cf.read_text())
        assert values["relayhost"] == "[smtp.provider.example]:587"
        assert values["smtp_tls_security_level"] == "encrypt"
        # the secret is in no session file (journal, session.yaml), only in 0600 backups
        state = tmp_path / "state"
        for f in state.rglob("*"):
            if f.is_file() and SECRET.encode() in f.read_bytes():
                assert "backups" in f.parts and f.stat().st_mode & 0o077 == 0, f
        results = RelayRecipe().verify(VerifyContext(answers, p, Facts(), ex))
        assert all(r.ok for r in results), [(r.name, r.detail) for r in results if not r.ok]
        assert not [r for r in results if SECRET in r.detail + r.explanation]
        login = next(r for r in results if r.name == "relay login in the password map")
        assert "mailer@example.com" in login.detail
        e.rollback()
    assert main_cf.read_bytes() == before
    assert not (root / SASL_PASSWD.lstrip("/")).exists()
    assert not (root / (SASL_PASSWD.lstrip("/") + ext)).exists()


def test_verify_fails_when_the_map_has_no_entry_for_the_relay(tmp_path: Path) -> None:
    p = get_platform("debian12")
    fake = FakeTarget.stock(tmp_path, p)
    root = fake.root
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/sbin/postmap").write_text("#!/bin/sh\n")
    (root / "usr/sbin/postmap").chmod(0o755)
    ex = fake.executor({"postmap -q": lambda argv, ex: FakeCommand(1)})
    results = RelayRecipe().verify(VerifyContext(relay_answers(), p, Facts(), ex))
    login = next(r for r in results if r.name == "relay login in the password map")
    assert login.ok is False
