"""Every validation path of the answers model names the field and refuses the whole file."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from wizard.answers import (
    Answers,
    demo_answers_path,
    dump_answers,
    load_answers,
    normalize_network,
    parse_answers,
)
from wizard.errors import AnswersError
from wizard.secret import Secret

DEMO = yaml.safe_load(demo_answers_path().read_text())


def errors_of(data, existing=None):
    with pytest.raises(AnswersError) as ei:
        parse_answers(data, existing)
    return dict(ei.value.errors), ei.value.errors


def with_(**changes):
    d = copy.deepcopy(DEMO)
    for k, v in changes.items():
        if v is _DEL:
            d.pop(k, None)
        else:
            d[k] = v
    return d


_DEL = object()


def test_demo_is_valid_and_round_trips(tmp_path: Path):
    a = load_answers(demo_answers_path())
    assert isinstance(a, Answers)
    assert a.mynetworks == ("127.0.0.0/8", "[::1]/128")
    assert a.step_enabled("firewall") and not a.step_enabled("postgrey")
    f = tmp_path / "a.yaml"
    f.write_text(dump_answers(a))
    assert load_answers(f) == a


def test_mail_host_outside_the_domain_is_valid():
    a = parse_answers(with_(hostname="mx.provider.net", domain="customer.org"))
    assert (a.hostname, a.domain) == ("mx.provider.net", "customer.org")


def test_domain_below_the_host_name_names_the_domain():
    errs, _ = errors_of(with_(hostname="example.com", domain="mail.example.com"))
    assert "lies below the host name" in errs["domain"] and "hostname" not in errs


@pytest.mark.parametrize("field, value, message", [
    ("hostname", "mail", "fully qualified"),
    ("hostname", "-bad-.example.com", "not valid"),
    ("hostname", "mail.example.123", "numeric"),
    ("hostname", "a" * 64 + ".example.com", "not valid"),
    ("hostname", _DEL, "is required"),
    ("hostname", 5, "must be text"),
    ("domain", "exa mple.com", "not valid"),
    ("admin_user", "Root!", "not a valid user name"),
    ("admin_user", "carol", "must be one of the users"),
    ("inet_protocols", "ipx", "must be one of"),
    ("inet_interfaces", "eth0", "not 'all'"),
    ("imap", "yes", "true or false"),
    ("colour", "blue", "unknown answer"),
])
def test_top_level_errors(field, value, message):
    errs, _ = errors_of(with_(**{field: value}))
    key = field if field in errs else next(k for k in errs if k.startswith(field))
    assert message in errs[key]


@pytest.mark.parametrize("nets, message", [
    (["0.0.0.0/0"], "open relay"),
    (["::/0"], "open relay"),
    (["16.0.0.0/4"], "wider than a /8"),
    (["192.168.1.5/24"], "host bits set; did you mean 192.168.1.0/24"),
    (["300.1.1.1/32"], "not a valid network"),
    (["2000::/8"], "wider than a /16"),
])
def test_mynetworks_errors(nets, message):
    errs, _ = errors_of(with_(mynetworks=nets))
    assert message in errs["mynetworks[0]"]


def test_mynetworks_normalisation():
    assert normalize_network("::1/128") == ("[::1]/128", None)
    assert normalize_network("[2001:db8::]/32") == ("[2001:db8::]/32", None)
    assert normalize_network("192.0.2.7") == ("192.0.2.7/32", None)
    assert parse_answers(with_(mynetworks="127.0.0.0/8, ::1")).mynetworks == (
        "127.0.0.0/8", "[::1]/128")


def test_users_errors():
    errs, _ = errors_of(with_(users=[
        {"name": "alice", "create": True}, {"name": "alice"}, {"name": "9bad"},
        {"name": "dan", "create": True, "password": "short"},
        {"name": "eve", "password": "long-enough-pass"},
        {"name": "fred", "shell": "/bin/sh"}, 42,
        {"name": "gil", "create": True, "shell": "/bin/../bin/sh"},
        {"name": "hal", "create": True, "shell": "/bin/bash:/bin/sh"},
        {"name": "ivy", "create": True, "shell": "bash"},
        {"name": "jo", "create": True, "shell": "/bin/ba sh"}]))
    assert "listed twice" in errs["users[1].name"]
    assert "not a valid user name" in errs["users[2].name"]
    assert "at least 8" in errs["users[3].password"]
    assert "only used for a user created here" in errs["users[4].password"]
    assert "only used for a user created here" in errs["users[5].shell"]
    for i in (7, 9, 10):  # '..', not absolute, a space
        assert "not a shell path" in errs[f"users[{i}].shell"]
    assert "not a shell path" in errs["users[8].shell"]
    assert "must be a user name or a mapping" in errs["users[6]"]
    errs, _ = errors_of(with_(users=[{"name": "al", "create": True,
                                      "shell": "/bin/bash\n/bin/sh"}]))
    assert "users[0].shell" in errs


def test_existing_users_are_checked_when_known():
    errs, _ = errors_of(with_(users=[{"name": "alice", "create": True}, {"name": "zed"}]),
                        existing={"root", "bob"})
    assert "does not exist on this server" in errs["users[1].name"]
    ok = parse_answers(with_(users=[{"name": "alice", "create": True}, "zed"]),
                       {"zed", "bob"})
    assert [u.name for u in ok.users] == ["alice", "zed"]


def test_alias_errors():
    errs, _ = errors_of(with_(aliases={"a": "b", "b": "a", "root": "alice", "Bad Name": "x",
                                       "c": "nobody", "d": "|/bin/evil", "e": "x@@y",
                                       "f": []}))
    assert "alias loop: a -> b -> a" in errs["aliases"]
    assert "root's mail goes to admin_user" in errs["aliases.root"]
    assert "not a valid alias name" in errs["aliases.Bad Name"]
    assert "neither a user, an alias nor an address" in errs["aliases.c"]
    assert "commands and files are not allowed" in errs["aliases.d"]
    assert "not an e-mail address" in errs["aliases.e"]
    assert "at least one target" in errs["aliases.f"]


def test_virtual_alias_errors():
    errs, all_errors = errors_of(with_(
        virtual_alias_domains=["example.com", "bad domain"],
        virtual_aliases={"x@elsewhere.org": "alice", "notanaddress": "bob",
                         "y@example.net": "ghost", "a@example.net": "b@example.net",
                         "b@example.net": "a@example.net"}))
    assert "already a local domain" in errs["virtual_alias_domains[0]"]
    assert "not valid" in errs["virtual_alias_domains[1]"]
    assert "neither the mail domain nor listed" in errs["virtual_aliases.x@elsewhere.org"]
    assert "not an e-mail address" in errs["virtual_aliases.notanaddress"]
    assert "neither a user, an alias nor an address" in errs["virtual_aliases.y@example.net"]
    assert "alias loop" in errs["virtual_aliases"]


def test_certificate_errors():
    errs, _ = errors_of(with_(certificate={
        "mode": "buy", "common_name": "nodots", "organization": "A/B", "country": "gbr",
        "days": 0, "key_type": "rsa1024", "extra_names": ["ok.example.com", "bad_name!"],
        "cert_file": "relative.pem", "csr": "yes", "colour": 1}))
    assert "must be one of self-signed, import" in errs["certificate.mode"]
    assert "fully qualified" in errs["certificate.common_name"]
    assert "without /" in errs["certificate.organization"]
    assert "two-letter" in errs["certificate.country"]
    assert "1 to 3650" in errs["certificate.days"]
    assert "1024-bit RSA is refused" in errs["certificate.key_type"]
    assert "not valid" in errs["certificate.extra_names[1]"]
    assert "absolute path" in errs["certificate.cert_file"]
    assert "true or false" in errs["certificate.csr"]
    assert "unknown key" in errs["certificate.colour"]
    errs, _ = errors_of(with_(certificate={"mode": "import"}))
    assert "required when mode is import" in errs["certificate.cert_file"]
    assert "required when mode is import" in errs["certificate.key_file"]


def test_sasl_and_restrictions_errors():
    errs, _ = errors_of(with_(sasl={"backend": "ldap", "pam_group": "Mail Users", "x": 1},
                              restrictions={"rbl": ["zen.spamhaus.org", "not a host"],
                                            "sender_access": {"a@b.example": "ACCEPT",
                                                              "bad..domain": "REJECT"},
                                            "smtpd_hard_error_limit": -1, "what": 1}))
    assert "dovecot, cyrus" in errs["sasl.backend"]
    assert "group name" in errs["sasl.pam_group"]
    assert "unknown key" in errs["sasl.x"]
    assert "not valid" in errs["restrictions.rbl[1]"]
    assert "action must start with" in errs["restrictions.sender_access.a@b.example"]
    assert "not valid" in errs["restrictions.sender_access.bad..domain"]
    assert "1 to 1000" in errs["restrictions.smtpd_hard_error_limit"]
    assert "unknown key" in errs["restrictions.what"]


def test_steps_and_protocol_errors():
    errs, _ = errors_of(with_(steps={"firewall": "on", "coffee": True}, imap=False, pop3=False))
    assert "true or false" in errs["steps.firewall"]
    assert "not an optional step" in errs["steps.coffee"]
    assert "at least one of imap and pop3" in errs["imap"]


def test_every_error_is_reported_at_once():
    _, all_errors = errors_of(with_(hostname="x", domain="y y", mynetworks=["0.0.0.0/0"]))
    fields = [f for f, _ in all_errors]
    assert "hostname" in fields and "domain" in fields and "mynetworks[0]" in fields


def test_file_errors(tmp_path: Path):
    with pytest.raises(AnswersError, match="cannot read"):
        load_answers(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("hostname: [unclosed\n")
    with pytest.raises(AnswersError, match="not valid YAML"):
        load_answers(bad)
    bad.write_text("- a list\n")
    with pytest.raises(AnswersError, match="must be a mapping"):
        load_answers(bad)


def test_passwords_are_secret_and_not_dumped():
    a = parse_answers(with_(users=[{"name": "alice", "create": True,
                                    "password": "S3cret-pass"}, "bob"]),
                      None)
    pw = a.users[0].password
    assert isinstance(pw, Secret) and pw.reveal() == "S3cret-pass"
    assert str(pw) == "***" and "S3cret" not in repr(a) and "S3cret" not in f"{pw}"
    assert "S3cret" not in dump_answers(a)
    assert "S3cret-pass" in dump_answers(a, include_secrets=True)


def test_user_shell_default_and_answer():
    answers = parse_answers(with_(users=[{"name": "alice", "create": True},
                                         {"name": "bob", "create": True,
                                          "shell": "/bin/bash"}]))
    alice, bob = answers.users
    assert alice.shell == "" and bob.shell == "/bin/bash"
    assert answers.to_dict()["users"][1]["shell"] == "/bin/bash"
    assert "shell" not in answers.to_dict()["users"][0]


def test_mx_target_is_compared_whole():
    from wizard.checks import mx_target
    assert mx_target("10 mx.provider.net.") == "mx.provider.net"
    # a substring is not a match: xmail.example.com is not mail.example.com
    assert mx_target("10 xmail.example.com.") != "mail.example.com"


def test_a_large_answers_file_reads_the_same_with_libyaml_and_pyyaml(tmp_path) -> None:
    """The fast (libyaml) reader gives exactly what PyYAML's own gives, on a site with many
    users and aliases; a file libyaml refuses is judged again by PyYAML (its wording)."""
    import yaml as _yaml

    from wizard.answers import demo_answers_path, reader
    data = _yaml.safe_load(demo_answers_path().read_text())
    data["aliases"] = {f"a{i:05d}": "root" for i in range(3000)}
    p = tmp_path / "big.yaml"
    p.write_text(_yaml.safe_dump(data, sort_keys=False))
    assert reader.read_answers_file(p) == _yaml.safe_load(p.read_text())
    deep = tmp_path / "deep.yaml"
    deep.write_text("hostname: " + "[" * 100 + "]" * 100 + "\n")
    with pytest.raises(AnswersError, match="nested more than"):
        reader.read_answers_file(deep)
