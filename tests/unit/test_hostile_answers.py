"""Hostile answers (issue 9): each case an attacker's answers file tried on the old main.

Every case is refused with the field named and exit 2 from the CLI, or, where the value is
legitimate, reaches the runbook shell-quoted. The config editors refuse a line break as a
second line of defence."""

from __future__ import annotations

import copy
import shlex
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from wizard import cli, confedit
from wizard.answers import (
    _find_loop,
    check_address,
    check_hostname,
    check_user,
    demo_answers_path,
    load_answers,
    normalize_network,
    parse_answers,
)
from wizard.errors import AnswersError

DEMO: Dict[str, Any] = yaml.safe_load(demo_answers_path().read_text())


def demo(**changes: Any) -> Dict[str, Any]:
    d = copy.deepcopy(DEMO)
    d.update(changes)
    return d


def refused(data: Dict[str, Any]) -> Dict[str, str]:
    with pytest.raises(AnswersError) as ei:
        parse_answers(data)
    return dict(ei.value.errors)


def cli_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
            verb: str = "plan") -> tuple[int, str, str]:
    f = tmp_path / "answers.yaml"
    f.write_text(text, encoding="utf-8", errors="surrogatepass")
    args = [verb, "--answers", str(f), "--platform", "debian12", "--dry-run",
            "--state-dir", str(tmp_path / "state")]
    if verb == "plan":
        args.insert(1, "--diff")
    rc = cli.main(args)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


# ----------------------------------------------------------------------------- injection
def test_ipv6_zone_cannot_smuggle_a_main_cf_line(tmp_path: Path, capsys) -> None:
    evil = "fe80::%1\nmynetworks = static:all\nx = /64"
    errs = refused(demo(mynetworks=["127.0.0.0/8", evil]))
    assert "mynetworks[1]" in errs
    # the network validator alone refuses a zone index, even without a newline
    assert normalize_network("fe80::%1/64")[1] is not None
    assert normalize_network("[fe80::%eth0]/64")[1] is not None
    rc, out, err = cli_run(tmp_path, capsys, yaml.safe_dump(demo(mynetworks=[evil])))
    assert rc == 2 and "mynetworks" in err and "static:all" not in out


def test_password_cannot_add_a_chpasswd_line() -> None:
    data = demo(users=[{"name": "alice", "create": True,
                        "password": "Correct-horse1\nroot:attacker-chosen"}])
    errs = refused(data)
    assert "users[0].password" in errs
    assert "attacker" not in " ".join(errs.values())  # the secret is never echoed
    for bad in ("Correct-horse1\rroot:x", "Correct-horse1\x00x"):
        data["users"][0]["password"] = bad
        assert "users[0].password" in refused(data)


@pytest.mark.parametrize("field,value,where", [
    ("hostname", "mail\n.example.com", "hostname"),
    ("admin_user", "alice\n", "admin_user"),
    ("users", [{"name": "carol\n", "create": True}], "users[0].name"),
    ("virtual_aliases", {"sales\n@example.net": "bob"}, "virtual_aliases.'sales\\n@example.net'"),
    ("virtual_alias_domains", ["example.net\n"], "virtual_alias_domains[0]"),
    ("restrictions", {"rbl": ["zen.spamhaus.org\n"]}, "restrictions.rbl[0]"),
    ("sasl", {"backend": "dovecot", "pam_group": "mail\n"}, "sasl.pam_group"),
    ("certificate", {"country": "GB\n"}, "certificate.country"),
    ("certificate", {"organization": "Example\u2028Ltd"}, "certificate.organization"),
    ("aliases", {"sales": "bob\u0085root"}, "aliases.sales"),
])
def test_trailing_or_inner_newline_is_refused(field: str, value: Any, where: str) -> None:
    errs = refused(demo(**{field: value}))
    assert where in errs, errs


def test_validators_full_match_without_the_text_prepass() -> None:
    # a pattern ending in a bare $ accepts "x\n"; these must not
    assert check_hostname("mail.example.com\n") is not None
    assert check_hostname("mail\n.example.com") is not None
    assert check_user("carol\n") is not None
    assert check_address("sales\n@example.net") is not None
    assert normalize_network("10.0.0.0/8\n") == ("10.0.0.0/8", None)  # stripped, never kept
    assert normalize_network("10.0.0.0/8\n10.1.0.0/16")[1] is not None


@pytest.mark.parametrize("target", ["|/tmp/evil@example.com", "/tmp/evilfile@example.com",
                                    ":include:/etc/x@example.com", '"|cmd"@example.com'])
def test_alias_targets_never_commands_or_files(target: str) -> None:
    errs = refused(demo(aliases={"sales": [target]}))
    assert "commands and files" in errs["aliases.sales"]
    errs = refused(demo(virtual_aliases={"sales@example.net": [target]}))
    assert "virtual_aliases.sales@example.net" in errs


def test_ascii_only_labels() -> None:
    # U+017F (long s) and U+212A (Kelvin) fold to s and k under re.IGNORECASE
    for name in ("mail.exam\u017fple.com", "mail.\u212aexample.com"):
        assert check_hostname(name) is not None
        assert "hostname" in refused(demo(hostname=name, domain="example.com"))
    errs = refused(demo(certificate={"extra_names": ["\u017f.example.com"]}))
    assert "certificate.extra_names[0]" in errs
    assert check_address("\u017fales@example.com") is not None


def test_lone_surrogate_gives_exit_2_not_a_traceback(tmp_path: Path, capsys) -> None:
    for data in (demo(certificate={"organization": "Ex\ud800ample"}),
                 demo(restrictions={"sender_access": {"bad.example": "REJECT \udc00"}})):
        text = yaml.safe_dump(data, allow_unicode=False)  # written as a \ud800 escape
        for verb in ("plan", "docs"):
            rc, out, err = cli_run(tmp_path, capsys, text, verb)
            assert rc == 2, (verb, out, err)
            assert "U+D800" in err or "U+DC00" in err


def test_zone_index_refused_in_extra_names_and_interfaces() -> None:
    assert "certificate.extra_names[0]" in refused(
        demo(certificate={"extra_names": ["fe80::1%eth0"]}))
    assert "inet_interfaces[0]" in refused(demo(inet_interfaces="fe80::1%eth0"))


def test_organization_cannot_add_subject_fields() -> None:
    errs = refused(demo(certificate={"organization": "Ltd/CN=evil.example"}))
    assert "certificate.organization" in errs
    errs = refused(demo(certificate={"organization": "Ltd,CN=evil"}))
    assert "certificate.organization" in errs


def test_paths_refuse_shell_and_config_syntax() -> None:
    for path in ("/etc/ssl/a b.pem", "/etc/ssl/$x.pem", "/etc/ssl/../../x", "/etc/`id`.pem"):
        errs = refused(demo(certificate={"mode": "import", "cert_file": path,
                                         "key_file": "/etc/ssl/private/k.pem"}))
        assert "certificate.cert_file" in errs, path


# ----------------------------------------------------------------------------- runbook
def _runbook(tmp_path: Path, capsys, data: Dict[str, Any]) -> str:
    rc, out, err = cli_run(tmp_path, capsys, yaml.safe_dump(data), "docs")
    assert rc == 0, err
    return out


def test_runbook_quotes_every_answer_value(tmp_path: Path, capsys) -> None:
    key = "x`id`'$home@example.net"
    assert check_address(key) is None  # legal atext: it must be quoted, not refused
    data = demo(virtual_aliases={key: "bob"},
                restrictions={"sender_access": {"y$home{x}@example.org": "REJECT"}})
    book = _runbook(tmp_path, capsys, data)
    assert shlex.quote(key) in book
    assert shlex.quote("y$home{x}@example.org") in book
    commands = [ln for ln in book.splitlines() if ln.startswith(("postmap ", "swaks "))]
    assert len(commands) >= 3
    for line in commands:
        for raw in (key, "y$home{x}@example.org"):
            if raw in line:
                assert shlex.quote(raw) in line, line


def test_runbook_writes_ip_sans_as_ip(tmp_path: Path, capsys) -> None:
    data = demo(certificate={"extra_names": ["192.0.2.10", "2001:db8::25", "smtp.example.com"]})
    book = _runbook(tmp_path, capsys, data)
    addext = [ln for ln in book.splitlines() if "-addext" in ln]
    assert addext, "no openssl -addext line"
    line = addext[0]
    assert "IP:192.0.2.10" in line and "IP:2001:db8::25" in line
    assert "DNS:smtp.example.com" in line and "DNS:192.0.2.10" not in line


# ----------------------------------------------------------------------------- resources
def test_long_alias_chain_is_fine_and_long_loops_are_found() -> None:
    n = 3000
    chain = {f"a{i}": f"a{i + 1}" for i in range(n)}
    chain[f"a{n}"] = "alice"
    answers = parse_answers(demo(aliases=chain))
    assert len(answers.aliases) == n + 1
    loop = {f"a{i}": f"a{(i + 1) % n}" for i in range(n)}
    assert "alias loop" in refused(demo(aliases=loop))["aliases"]
    graph: Dict[str, List[str]] = {f"n{i}": [f"n{i + 1}"] for i in range(20000)}
    assert _find_loop(graph) is None


def test_deep_yaml_is_refused(tmp_path: Path, capsys) -> None:
    text = "hostname: " + "[" * 3000 + "]" * 3000 + "\n"
    rc, _, err = cli_run(tmp_path, capsys, text)
    assert rc == 2 and "nested more than" in err


def test_yaml_alias_bomb_is_refused(tmp_path: Path, capsys) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    lines.append("hostname: *a9")
    rc, _, err = cli_run(tmp_path, capsys, "\n".join(lines) + "\n")
    assert rc == 2 and "anchors and aliases" in err


def test_huge_or_binary_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "a.yaml"
    f.write_bytes(b"hostname: mail.example.com\n# " + b"x" * 2_000_000 + b"\n")
    with pytest.raises(AnswersError, match="larger than"):
        load_answers(f)
    f.write_bytes(b"hostname: mail\xff.example.com\n")
    with pytest.raises(AnswersError, match="not UTF-8"):
        load_answers(f)


# ----------------------------------------------------------------------------- editors
@pytest.mark.parametrize("edit", [
    lambda: confedit.edit_main_cf("", {"mynetworks": "127.0.0.0/8\nmynetworks = static:all"}),
    lambda: confedit.edit_main_cf("", {"a\nb": "x"}),
    lambda: confedit.edit_dovecot_conf("", {"ssl": "yes\r\nauth_mechanisms = plain"}),
    lambda: confedit.edit_shell_vars("", {"OPTIONS": "-c\n/bin/sh"}),
    lambda: confedit.edit_aliases("", {"root": ["alice\nevil: |/bin/sh"]}),
    lambda: confedit.edit_aliases("", {"root": ["|/bin/sh"]}),
    lambda: confedit.edit_aliases("", {"ro ot": ["alice"]}),
    lambda: confedit.edit_master_cf("", [confedit.MasterEntry(
        "submission", "inet", options=(("smtpd_tls_security_level", "encrypt\n-o x=y"),))]),
    lambda: confedit.edit_master_cf("", [confedit.MasterEntry("sub mission", "inet")]),
])
def test_editors_refuse_a_line_break(edit) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(confedit.UnsafeValue):
        edit()


def test_editors_still_write_ordinary_values() -> None:
    assert confedit.edit_main_cf("", {"mynetworks": "127.0.0.0/8 [::1]/128"}) == (
        "mynetworks = 127.0.0.0/8 [::1]/128\n")
    assert confedit.edit_shell_vars("", {"OPTS": "-c -m /var/spool/x"}) == (
        'OPTS="-c -m /var/spool/x"\n')
