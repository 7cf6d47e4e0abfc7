"""The answers package: one section type per part of the file, defaults in one place.

The parsing itself (every message, every field) is tested by test_answers.py,
test_hostile_answers.py and test_fuzz_answers.py; these tests hold the composition: which
section owns which answer, the order of the file and of the summary, and the defaults."""

from __future__ import annotations

import copy
from dataclasses import fields

import pytest
import yaml

from wizard.answers import (
    PARSE_ORDER,
    SECTIONS,
    TOP_KEYS,
    Admin,
    Aliases,
    Answers,
    Certificate,
    Identity,
    MailAccess,
    Network,
    Parser,
    Restrictions,
    Sasl,
    Steps,
    Users,
    default_answers,
    demo_answers_path,
    form_defaults,
    load_answers,
    parse_answers,
)
from wizard.errors import AnswersError

DEMO = yaml.safe_load(demo_answers_path().read_text())

#: What the TUI's form started with before the defaults moved into the sections
#: (screens/context.py's literal), host name and domain left empty.
FORM_START = {
    "hostname": "",
    "domain": "",
    "admin_user": "",
    "mynetworks": ["127.0.0.0/8", "[::1]/128"],
    "inet_interfaces": "all",
    "inet_protocols": "all",
    "users": [],
    "aliases": {"postmaster": "root", "abuse": "root"},
    "certificate": {"mode": "self-signed", "days": 825, "key_type": "rsa2048"},
    "sasl": {"backend": "dovecot", "pam_group": ""},
    "restrictions": {"rbl": [], "helo_required": True, "reject_unknown_helo": False},
    "imap": True,
    "pop3": True,
    "dkim": {"enabled": True},
    "steps": {"firewall": True, "postgrey": False, "virtual-aliases": True},
}


def test_every_answer_is_owned_by_exactly_one_section() -> None:
    owned = [key for kind in SECTIONS for key in kind.keys()]
    assert len(owned) == len(set(owned))
    assert owned == [f.name for f in fields(Answers)]  # the file's order is the model's
    assert TOP_KEYS == set(owned)
    assert set(PARSE_ORDER) == set(SECTIONS) and len(PARSE_ORDER) == len(SECTIONS)


def test_admin_is_parsed_after_the_users_and_aliases_after_identity_and_users() -> None:
    order = list(PARSE_ORDER)
    assert order.index(Users) < order.index(Admin)
    assert order.index(Identity) < order.index(Aliases)
    assert order.index(Users) < order.index(Aliases)


def test_form_starts_with_the_same_answers_as_before() -> None:
    start = form_defaults()
    assert start == FORM_START
    assert list(start) == list(FORM_START)  # same order: the form and saved files keep it
    start["aliases"]["x"] = "y"  # a fresh copy every time
    assert form_defaults() == FORM_START


def test_tui_defaults_come_from_the_sections() -> None:
    from screens.context import Machine, default_raw_answers

    raw = default_raw_answers(Machine(hostname="mail.ci.example", platform_name=""))
    assert raw == {**FORM_START, "hostname": "mail.ci.example", "domain": "ci.example"}
    assert list(raw) == list(FORM_START)


def test_the_models_defaults_are_the_parsers_defaults() -> None:
    """An answers file with only the required answers gives the dataclass defaults."""
    minimal = {"hostname": "mail.example.com", "domain": "example.com", "admin_user": "alice",
               "users": ["alice"]}
    parsed = parse_answers(minimal)
    built = Answers(hostname="mail.example.com", domain="example.com", admin_user="alice",
                    users=parsed.users)
    assert parsed == built
    assert parsed.certificate == Certificate() and parsed.sasl == Sasl()
    assert parsed.restrictions == Restrictions()
    assert Network.of(parsed) == Network() and MailAccess.of(parsed) == MailAccess()
    assert Steps.of(parsed) == Steps()


def test_default_answers_hold_every_answer_and_the_form_a_subset() -> None:
    defaults = default_answers()
    assert list(defaults) == [f.name for f in fields(Answers)]
    start = form_defaults()
    for key, value in start.items():
        if key == "aliases":  # the form suggests two aliases; the file has none by default
            assert defaults[key] == {}
        elif isinstance(value, dict) and key != "steps":
            assert value.items() <= defaults[key].items(), key
        else:
            assert defaults[key] == value, key


def test_sections_write_back_what_they_read() -> None:
    answers = load_answers(demo_answers_path())
    for kind in SECTIONS:
        section = kind.of(answers)
        assert isinstance(section, kind)
        again = parse_answers(answers.to_dict(include_secrets=True))
        assert kind.of(again) == section
    assert parse_answers(answers.to_dict()) == answers


def test_summary_is_the_sections_lines_in_file_order() -> None:
    answers = load_answers(demo_answers_path())
    labels = [label for label, _ in answers.summary()]
    assert labels == ["Host name", "Mail domain", "Admin (receives root's mail)",
                      "Trusted networks", "Listen on", "Users", "Aliases", "Virtual aliases",
                      "Certificate", "SASL", "Block lists", "Mail access",
                      "Mailbox quota", "DKIM signing"]
    assert ("Certificate", "self-signed, rsa2048, CN=mail.example.com") in answers.summary()


def test_a_section_parses_alone_and_names_its_fields() -> None:
    p = Parser({"certificate": {"mode": "import", "days": 0, "bogus": 1}}, None)
    cert = p.parse(Certificate)
    assert cert.mode == "import" and cert.days == 825  # a bad value falls back to the default
    assert p.errors == [("certificate.bogus", "unknown key"),
                        ("certificate.days", "must be a whole number from 1 to 3650"),
                        ("certificate.cert_file", "is required when mode is import"),
                        ("certificate.key_file", "is required when mode is import")]


def test_later_sections_see_the_earlier_ones() -> None:
    data = copy.deepcopy(DEMO)
    data["admin_user"] = "carol"
    with pytest.raises(AnswersError) as info:
        parse_answers(data)
    assert ("admin_user", "'carol' must be one of the users") in info.value.errors
    assert parse_answers(data, {"carol"}).admin_user == "carol"  # an account on the target
