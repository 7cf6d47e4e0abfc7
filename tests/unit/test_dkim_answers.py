"""The ``dkim`` answers section and the shared key facts of wizard/dkimkey.py (issue 11)."""

from __future__ import annotations

import base64
import copy
import datetime
from typing import Any, Dict

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from wizard import dkimkey
from wizard.answers import (
    Dkim,
    default_selector,
    demo_answers_path,
    load_answers,
    parse_answers,
    signing_domains,
)
from wizard.answers import dkim as dkim_section
from wizard.errors import AnswersError

DEMO: Dict[str, Any] = yaml.safe_load(demo_answers_path().read_text())


def with_dkim(**dkim: Any) -> Dict[str, Any]:
    d = copy.deepcopy(DEMO)
    d["dkim"] = dkim
    return d


def refused(data: Dict[str, Any]) -> Dict[str, str]:
    with pytest.raises(AnswersError) as ei:
        parse_answers(data)
    return dict(ei.value.errors)


# ----------------------------------------------------------------------------- answers
def test_dkim_is_on_by_default_with_a_dated_selector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dkim_section, "today", lambda: datetime.date(2027, 3, 9))
    data = copy.deepcopy(DEMO)
    del data["dkim"]
    a = parse_answers(data)
    assert a.dkim == Dkim(enabled=True, selector="s202703", domains=())
    # written back: a saved session keeps the selector of the day it was made
    assert a.to_dict()["dkim"] == {"enabled": True, "selector": "s202703"}
    monkeypatch.setattr(dkim_section, "today", lambda: datetime.date(2028, 1, 1))
    assert parse_answers(a.to_dict()).dkim.selector == "s202703"
    assert default_selector() == "s202801"


def test_the_demo_answers_pin_the_selector() -> None:
    a = load_answers(demo_answers_path())
    assert a.dkim.enabled and a.dkim.selector == "s202612"


def test_selector_and_domains_are_read_and_normalised() -> None:
    a = parse_answers(with_dkim(enabled=False, selector="Mail2026",
                                domains=["Example.ORG.", "example.org", "example.net",
                                         "shop.example.com"]))
    assert a.dkim == Dkim(enabled=False, selector="mail2026",
                          domains=("example.org", "example.net", "shop.example.com"))
    assert a.to_dict()["dkim"]["domains"] == ["example.org", "example.net", "shop.example.com"]


def test_signing_domains_mail_domain_then_alias_domains_then_extra_once_each() -> None:
    a = parse_answers(with_dkim(selector="s1", domains=["example.org", "example.net",
                                                        "example.com"]))
    assert a.virtual_alias_domains == ("example.net",)
    assert signing_domains(a) == ["example.com", "example.net", "example.org"]
    no_virtual = a.with_changes(steps=(("firewall", True), ("postgrey", False),
                                       ("virtual-aliases", False)))
    # with the step off the alias domains are not configured: signed only when listed
    assert signing_domains(no_virtual) == ["example.com", "example.org", "example.net"]
    bare = parse_answers(with_dkim(selector="s1")).with_changes(steps=no_virtual.steps)
    assert signing_domains(bare) == ["example.com"]


@pytest.mark.parametrize("selector", [
    "s2026\nDomain example.com",  # a newline into opendkim.conf / KeyTable
    "s2026\n",
    "s\u0131",                    # dotless i: not ASCII
    "s\u212a2026",                # Kelvin sign (folds to k under IGNORECASE without ASCII)
    "s2026$",
    "s$(id)",
    "s2026.x",                    # a dot: two labels
    "../../etc/passwd",
    "-s2026",
    "s2026-",
    "a" * 64,
    " ",
    "s 2026",
    "s2026/x",
])
def test_hostile_selectors_are_refused_with_the_field_named(selector: str) -> None:
    errors = refused(with_dkim(selector=selector))
    assert list(errors) == ["dkim.selector"], errors


def test_the_longest_label_is_a_selector() -> None:
    assert parse_answers(with_dkim(selector="a" * 63)).dkim.selector == "a" * 63


def test_a_selector_that_is_not_text_is_refused() -> None:
    assert "dkim.selector" in refused(with_dkim(selector=2026))
    assert "dkim.selector" in refused(with_dkim(selector=["s1"]))


@pytest.mark.parametrize("domain", [
    "example.org\nSigningTable x", "ex$ample.org", "ex\u00e4mple.org", "example",
    "a" * 64 + ".org", ("a" * 60 + ".") * 5 + "org", "-x.example.org", "example.123",
    "*.example.org", "example.org;", "",
])
def test_hostile_extra_domains_are_refused(domain: str) -> None:
    errors = refused(with_dkim(selector="s1", domains=["example.org", domain]))
    assert list(errors) == ["dkim.domains[1]"], errors


def test_wrong_shapes_are_refused() -> None:
    assert "dkim.enabled" in refused(with_dkim(enabled="yes"))
    assert "dkim.domains" in refused(with_dkim(domains={"a": 1}))
    assert "dkim.domains[0]" in refused(with_dkim(domains=[5]))
    assert "dkim.bogus" in refused(with_dkim(bogus=1))
    d = copy.deepcopy(DEMO)
    d["dkim"] = "on"
    assert "dkim" in refused(d)


def test_summary_names_the_selector_and_the_domains() -> None:
    a = load_answers(demo_answers_path())
    assert ("DKIM signing", "selector s202612 for example.com, example.net") in a.summary()
    off = parse_answers(with_dkim(enabled=False, selector="s1"))
    assert ("DKIM signing", "off") in off.summary()


# ----------------------------------------------------------------------------- dkimkey
def test_paths_and_record_name() -> None:
    assert dkimkey.KEY_DIR == "/etc/opendkim/keys"
    assert dkimkey.key_path("s202612") == "/etc/opendkim/keys/s202612.private"
    assert dkimkey.txt_name("s202612", "example.com") == "s202612._domainkey.example.com"
    assert dkimkey.txt_name("s1", "example.com.") == "s1._domainkey.example.com"


def test_txt_value_is_the_subject_public_key_info_of_the_key() -> None:
    key = dkimkey.generate_key()
    assert key.key_size == 2048
    pem = dkimkey.private_pem(key).encode()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    pub = dkimkey.public_key_from_pem(pem)
    value = dkimkey.txt_value(pub)
    assert value.startswith("v=DKIM1; k=rsa; p=")
    der = base64.b64decode(value.split("p=", 1)[1], validate=True)
    loaded = serialization.load_der_public_key(der)
    assert loaded.public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    assert dkimkey.txt_value(key) == value
    pub_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    assert dkimkey.txt_value(dkimkey.public_key_from_pem(pub_pem)) == value
    trad = key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())
    assert dkimkey.txt_value(dkimkey.public_key_from_pem(trad)) == value
    other = dkimkey.txt_value(dkimkey.generate_key())
    assert other != value


def test_a_key_that_is_not_rsa_is_refused() -> None:
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    with pytest.raises(ValueError):
        dkimkey.public_key_from_pem(ec_pem)
    with pytest.raises(ValueError):
        dkimkey.public_key_from_pem(b"not a key")
