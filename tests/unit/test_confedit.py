"""The configuration editors keep every byte they are not asked to change."""

from __future__ import annotations

from wizard import confedit as ce

MAIN = (
    "# Global Postfix configuration file.\n"
    "#myhostname = host.domain.tld\n"
    "#myhostname = virtual.domain.tld\n"
    "\n"
    "inet_interfaces = localhost\n"
    "smtpd_recipient_restrictions =\n"
    "    permit_mynetworks,\n"
    "    # a comment inside\n"
    "    reject_unauth_destination\n"
    "mydestination = $myhostname, localhost\n"
    "mydestination = $myhostname, localhost.$mydomain, localhost\n"
    "tail_param = 1"  # no newline at the end
)


def test_read_continuation_and_last_definition_wins():
    values = ce.read_main_cf(MAIN)
    assert values["smtpd_recipient_restrictions"] == (
        "permit_mynetworks, reject_unauth_destination")
    assert values["mydestination"] == "$myhostname, localhost.$mydomain, localhost"
    assert values["tail_param"] == "1"
    assert "myhostname" not in values


def test_replace_in_place_keeps_other_bytes():
    out = ce.edit_main_cf(MAIN, {"inet_interfaces": "all"})
    assert out == MAIN.replace("inet_interfaces = localhost", "inet_interfaces = all")


def test_replace_multiline_value_replaces_whole_logical_line():
    out = ce.edit_main_cf(MAIN, {"smtpd_recipient_restrictions": "permit_mynetworks, reject"})
    assert "    reject_unauth_destination\n" not in out
    assert "smtpd_recipient_restrictions = permit_mynetworks, reject\n" in out
    assert out.startswith(MAIN.split("smtpd_recipient_restrictions")[0])
    assert out.endswith("mydestination = $myhostname, localhost.$mydomain, localhost\n"
                        "tail_param = 1")


def test_last_definition_is_the_one_replaced():
    out = ce.edit_main_cf(MAIN, {"mydestination": "$myhostname"})
    assert "mydestination = $myhostname, localhost\n" in out  # earlier one untouched
    assert "mydestination = $myhostname\n" in out
    assert ce.read_main_cf(out)["mydestination"] == "$myhostname"


def test_uncomment_default_goes_after_the_commented_examples():
    out = ce.edit_main_cf(MAIN, {"myhostname": "mail.example.com"})
    lines = out.splitlines()
    i = lines.index("myhostname = mail.example.com")
    assert lines[i - 1] == "#myhostname = virtual.domain.tld"
    assert lines[i - 2] == "#myhostname = host.domain.tld"
    assert out.replace("myhostname = mail.example.com\n", "", 1) == MAIN


def test_append_when_absent_adds_missing_newline():
    out = ce.edit_main_cf(MAIN, {"home_mailbox": "Maildir/"})
    assert out == MAIN + "\nhome_mailbox = Maildir/\n"


def test_unchanged_value_is_byte_identical():
    assert ce.edit_main_cf(MAIN, {"inet_interfaces": "localhost"}) == MAIN


def test_remove_parameter_with_continuation():
    out = ce.edit_main_cf(MAIN, {}, remove=["smtpd_recipient_restrictions"])
    assert "reject_unauth_destination" not in out
    assert "permit_mynetworks" not in out
    assert "inet_interfaces = localhost\nmydestination" in out


def test_continuation_belongs_to_the_line_it_follows():
    """A continuation line after a line that is not a parameter definition (a stray word,
    which Postfix reports) does not extend the definition before it; blank and comment lines,
    indented or not, do not end a value; a continuation at the top belongs to nothing."""
    text = ("  orphan continuation\n"
            "relay_domains = a\n"
            "\n"
            "   # indented comment\n"
            "  b\n"
            "garbage line\n"
            "  c\n"
            "myorigin = $mydomain\n")
    assert ce.read_main_cf(text) == {"relay_domains": "a b", "myorigin": "$mydomain"}
    out = ce.edit_main_cf(text, {"relay_domains": "x"})
    assert out == ("  orphan continuation\n"
                   "relay_domains = x\n"
                   "garbage line\n"
                   "  c\n"
                   "myorigin = $mydomain\n")
    assert ce.edit_main_cf(text, {}, remove=["myorigin"]) == text.replace(
        "myorigin = $mydomain\n", "")


def test_empty_and_missing_file():
    assert ce.edit_main_cf(None, {"a": "1", "b": ""}) == "a = 1\nb =\n"
    assert ce.read_main_cf(None) == {}


MASTER = (
    "smtp      inet  n       -       y       -       -       smtpd\n"
    "#submission inet n       -       y       -       -       smtpd\n"
    "#  -o syslog_name=postfix/submission\n"
    "#  -o smtpd_tls_security_level=encrypt\n"
    "pickup    unix  n       -       y       60      1       pickup\n"
)


def _sub(**kw):
    return ce.MasterEntry("submission", "inet", "n", "-", "y", "-", "-", "smtpd",
                          (("syslog_name", "postfix/submission"),
                           ("smtpd_relay_restrictions", "permit_sasl_authenticated,reject")))


def test_master_entry_inserted_after_commented_example():
    out = ce.edit_master_cf(MASTER, [_sub()])
    lines = out.splitlines()
    i = lines.index("#  -o smtpd_tls_security_level=encrypt")
    assert lines[i + 1].startswith("submission inet")
    assert lines[i + 2] == "  -o syslog_name=postfix/submission"
    assert ("submission", "inet") in ce.read_master_cf(out)
    assert out.replace(_sub().render(), "") == MASTER


def test_master_entry_replaced_in_place_and_idempotent():
    once = ce.edit_master_cf(MASTER, [_sub()])
    assert ce.edit_master_cf(once, [_sub()]) == once
    other = ce.MasterEntry("submission", "inet", command="smtpd")
    twice = ce.edit_master_cf(once, [other])
    assert "postfix/submission" not in twice.split("#  -o smtpd_tls")[1]
    assert ce.edit_master_cf(twice, [], remove=[("submission", "inet")]) == MASTER


def test_master_option_with_spaces_uses_braces():
    e = ce.MasterEntry("submission", "inet", options=(("smtpd_relay_restrictions",
                                                        "permit_sasl_authenticated, reject"),))
    assert "-o { smtpd_relay_restrictions = permit_sasl_authenticated, reject }" in e.render()


DOVE = (
    "#protocols = imap pop3 lmtp submission\n"
    "listen = *\n"
    "service auth {\n"
    "  user = root\n"
    "  inner {\n"
    "    protocols = none\n"
    "  }\n"
    "}\n"
    "ssl_cert = </etc/pki/dovecot/certs/dovecot.pem\n"
)


def test_dovecot_only_top_level_keys():
    values = ce.read_dovecot_conf(DOVE)
    assert values == {"listen": "*", "ssl_cert": "</etc/pki/dovecot/certs/dovecot.pem"}
    out = ce.edit_dovecot_conf(DOVE, {"protocols": "imap pop3", "user": "x",
                                      "ssl_cert": "</etc/ssl/mail.crt"})
    assert out.splitlines()[1] == "protocols = imap pop3"
    assert "    protocols = none\n" in out
    assert out.endswith("ssl_cert = </etc/ssl/mail.crt\nuser = x\n")
    assert ce.edit_dovecot_conf(out, {}, remove=["user"]).endswith("</etc/ssl/mail.crt\n")


def test_shell_vars():
    text = 'START=no\n# MECHANISMS="pam"\nOPTIONS="-c -m /var/run/saslauthd"\n'
    out = ce.edit_shell_vars(text, {"START": "yes", "MECHANISMS": "pam",
                                    "OPTIONS": "-c -m /var/spool/postfix/var/run/saslauthd"})
    assert out == ('START=yes\n# MECHANISMS="pam"\nMECHANISMS=pam\n'
                   'OPTIONS="-c -m /var/spool/postfix/var/run/saslauthd"\n')
    assert ce.read_shell_vars(out)["OPTIONS"] == "-c -m /var/spool/postfix/var/run/saslauthd"
    # Debian 12 ships no START line at all: it is appended
    assert ce.edit_shell_vars("MECHANISMS=pam", {"START": "yes"}) == "MECHANISMS=pam\nSTART=yes\n"


def test_aliases():
    text = "# comment\npostmaster:\troot\n#root:\t\tmarc\nlist: a,\n  b\n"
    assert ce.read_aliases(text) == {"postmaster": ["root"], "list": ["a", "b"]}
    out = ce.edit_aliases(text, {"root": ["alice"], "list": ["c"]})
    lines = out.splitlines()
    assert lines[3].startswith("root:") and lines[3].endswith("alice")
    assert ce.read_aliases(out)["list"] == ["c"]
    assert "  b" not in out
    assert ce.edit_aliases(out, {"root": ["alice"]}) == out
