"""The ACME answers of the certificate section (issue 11): hostile values refused by field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict

import pytest
import yaml

from wizard import cli
from wizard.answers import (
    LETSENCRYPT_DIRECTORY,
    Certificate,
    check_acme_directory,
    check_acme_email,
    demo_answers_path,
    parse_answers,
)
from wizard.errors import AnswersError

DEMO: Dict[str, Any] = yaml.safe_load(demo_answers_path().read_text())


def with_cert(**cert: Any) -> Dict[str, Any]:
    d = copy.deepcopy(DEMO)
    d["certificate"] = {"mode": "acme", **cert}
    return d


def errors(**cert: Any) -> Dict[str, str]:
    with pytest.raises(AnswersError) as ei:
        parse_answers(with_cert(**cert))
    return dict(ei.value.errors)


def test_defaults_are_lets_encrypt_standalone() -> None:
    a = parse_answers(with_cert())
    c = a.certificate
    assert c.mode == "acme" and c.acme_directory == LETSENCRYPT_DIRECTORY
    assert (c.acme_challenge, c.acme_email, c.acme_webroot, c.acme_ca_bundle) == (
        "standalone", "", "", "")
    assert Certificate().acme_directory == "https://acme-v02.api.letsencrypt.org/directory"


def test_full_acme_answers_round_trip() -> None:
    cert = {"acme_directory": "https://pebble.lab:14000/dir", "acme_email": "ops@example.org",
            "acme_challenge": "webroot", "acme_webroot": "/var/www/html",
            "acme_ca_bundle": "/etc/ssl/pebble/root.pem", "extra_names": ["smtp.example.com"]}
    a = parse_answers(with_cert(**cert))
    again = parse_answers(a.to_dict(include_secrets=True))
    assert again.certificate == a.certificate
    assert a.to_dict()["certificate"]["acme_directory"] == "https://pebble.lab:14000/dir"
    assert a.certificate.acme_names == ["smtp.example.com"]


def test_self_signed_file_holds_no_acme_keys() -> None:
    d = copy.deepcopy(DEMO)
    d["certificate"] = {"mode": "self-signed"}
    out = parse_answers(d).to_dict()["certificate"]
    assert not [k for k in out if k.startswith("acme_")]


@pytest.mark.parametrize("url", [
    "http://acme.example.org/directory",            # not https
    "https://acme.example.org/dir\n--server=x",     # newline
    "https://acme.example.org/dir\r",
    "https://acme.example.org/dir ",
    "https://acme.example.org/$(id)",               # shell
    "https://acme.example.org/di$r",
    "https://acme.example.org/dir?x=1",             # no query
    "https://acme.example.org/dir;reboot",
    "https://ácme.example.org/dir",                 # non-ASCII
    "https://acme.example.org/dır",
    "https://acme.example.org:99999/dir",
    "https://-bad-.example.org/dir",
    "https://[zz::1]/dir",
    "https://user@acme.example.org/dir",
    "ftp://acme.example.org/",
    "",
])
def test_hostile_directory_refused(url: str) -> None:
    errs = errors(acme_directory=url)
    assert "certificate.acme_directory" in errs


@pytest.mark.parametrize("url", [
    "https://acme-v02.api.letsencrypt.org/directory",
    "https://acme-staging-v02.api.letsencrypt.org/directory",
    "https://localhost:14000/dir",
    "https://10.0.3.1:14000/dir",
    "https://[2001:db8::1]:14000/dir",
    "https://acme.example.org",
])
def test_good_directory_accepted(url: str) -> None:
    assert check_acme_directory(url) is None
    assert parse_answers(with_cert(acme_directory=url)).certificate.acme_directory == url


@pytest.mark.parametrize("email", [
    "ops@example.org\nreboot", "ops@example.org\n", "o$ps@example.org", "$(id)@example.org",
    "öps@example.org", "ops@exämple.org", "ops example@example.org", "ops@@example.org",
    "ops@localhost", "'ops'@example.org", "ops@example.org;id", "-@",
])
def test_hostile_email_refused(email: str) -> None:
    assert "certificate.acme_email" in errors(acme_email=email)
    assert check_acme_email(email) is not None


def test_empty_email_allowed() -> None:
    assert parse_answers(with_cert(acme_email="")).certificate.acme_email == ""


def test_ip_extra_name_refused_in_acme_mode_only() -> None:
    errs = errors(extra_names=["smtp.example.com", "192.0.2.7", "2001:db8::5"])
    assert "certificate.extra_names[1]" in errs and "certificate.extra_names[2]" in errs
    assert "certificate.extra_names[0]" not in errs
    assert "IP address" in errs["certificate.extra_names[1]"]
    d = copy.deepcopy(DEMO)
    d["certificate"] = {"mode": "self-signed", "extra_names": ["192.0.2.7"]}
    assert parse_answers(d).certificate.extra_names == ("192.0.2.7",)


def test_webroot_needs_its_path() -> None:
    assert errors(acme_challenge="webroot") == {
        "certificate.acme_webroot": "is required when acme_challenge is webroot"}


@pytest.mark.parametrize("field,value", [
    ("acme_challenge", "dns"), ("acme_challenge", "standalone\n"),
    ("acme_webroot", "var/www"), ("acme_webroot", "/var/www/$x"), ("acme_webroot", "/a/../b"),
    ("acme_webroot", "/var/www\n"), ("acme_ca_bundle", "/etc/ssl/ca bundle.pem"),
    ("acme_ca_bundle", "/etc/ssl/ünicode.pem"), ("acme_email", 7), ("acme_directory", ["x"]),
])
def test_other_fields_refused(field: str, value: Any) -> None:
    cert: Dict[str, Any] = {field: value}
    if field == "acme_webroot":
        cert["acme_challenge"] = "webroot"
    assert f"certificate.{field}" in errors(**cert)


@pytest.mark.parametrize("field,value", [
    ("acme_directory", "https://acme.example.org/$(reboot)"),
    ("acme_directory", "https://acme.example.org/dir\n  - evil"),
    ("acme_email", "root@example.org --server=https://evil.example"),
    ("acme_webroot", "/var/www;rm -rf /"),
])
def test_cli_refuses_hostile_acme_answers_before_planning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: str) -> None:
    cert: Dict[str, Any] = {"acme_challenge": "webroot", "acme_webroot": "/var/www/html"}
    cert[field] = value
    data = with_cert(**cert)
    f = tmp_path / "answers.yaml"
    f.write_text(yaml.safe_dump(data), encoding="utf-8")
    rc = cli.main(["plan", "--answers", str(f), "--platform", "debian12", "--dry-run",
                   "--state-dir", str(tmp_path / "state")])
    out = capsys.readouterr()
    assert rc == 2
    assert f"certificate.{field}" in out.err + out.out
    assert "certbot certonly" not in out.out
