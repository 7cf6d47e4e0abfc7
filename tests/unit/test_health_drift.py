"""mailwizard check: drift of the files mailwizard wrote (journal checksums and the values
its edits left), reported by file and by setting, never by value."""

from __future__ import annotations

from pathlib import Path

from fake_target import make_engine

from wizard import changes as ch
from wizard.executor import Executor
from wizard.health import drift
from wizard.health.model import OK, UNKNOWN, WARNING
from wizard.recipe import Recipe
from wizard.session import Session

STOCK = "#myhostname = host.domain.tld\ninet_interfaces = localhost\nsmtpd_banner = stock\n"


class Basics(Recipe):
    id = "basics"
    title = "Basics"

    def plan(self, ctx):
        return [ch.PostfixParams({"myhostname": "mail.example.com", "inet_interfaces": "all"}),
                ch.PostfixParams({"mydomain": "example.com"}),
                ch.DovecotSettings("/etc/dovecot/conf.d/10-ssl.conf", {"ssl": "required"}),
                ch.FileWrite("/etc/mw/whole.conf", "secret=abc\n", mode=0o600)]


def applied(root: Path, state: Path) -> None:
    main = root / "etc/postfix/main.cf"
    main.parent.mkdir(parents=True)
    main.write_text(STOCK)
    (root / "etc/dovecot/conf.d").mkdir(parents=True)
    (root / "etc/dovecot/conf.d/10-ssl.conf").write_text("ssl = yes\n")
    with Session.open(state) as s:
        res = make_engine(root, s, [Basics()]).apply()
        assert [r.status for r in res] == ["applied"]


def findings(root: Path, state: Path, skip=()):
    return drift.drift_findings(Executor(root, host_commands=True), state, skip)


def test_untouched_files_are_ok(target_root, tmp_path):
    state = tmp_path / "state"
    applied(target_root, state)
    f = findings(target_root, state)
    assert [(x.name, x.state) for x in f] == [("managed files", OK)]
    assert "3 of 3 file(s)" in f[0].detail


def test_hand_edit_of_main_cf_names_the_settings(target_root, tmp_path):
    state = tmp_path / "state"
    applied(target_root, state)
    main = target_root / "etc/postfix/main.cf"
    text = main.read_text().replace("inet_interfaces = all", "inet_interfaces = loopback-only")
    main.write_text(text + "smtpd_banner = mine\nmessage_size_limit = 1\n")
    f = {x.name: x for x in findings(target_root, state)}
    d = f["/etc/postfix/main.cf edited since apply"]
    assert d.state == WARNING
    assert "mailwizard's settings changed: inet_interfaces;" in d.detail
    assert "other settings changed: message_size_limit, smtpd_banner" in d.detail
    assert "loopback" not in d.detail and "mine" not in d.detail  # names, never values
    assert "2 of 3" in f["managed files"].detail


def test_comment_only_edit_and_whole_file_and_removal(target_root, tmp_path):
    state = tmp_path / "state"
    applied(target_root, state)
    conf = target_root / "etc/dovecot/conf.d/10-ssl.conf"
    conf.write_text("# a note\n" + conf.read_text())
    (target_root / "etc/mw/whole.conf").write_text("secret=changed\n")
    f = {x.name: x for x in findings(target_root, state)}
    assert "the settings are the same" in f[
        "/etc/dovecot/conf.d/10-ssl.conf edited since apply"].detail
    whole = f["/etc/mw/whole.conf edited since apply"]
    assert whole.state == WARNING and "content changed" in whole.detail
    assert "secret" not in whole.detail
    (target_root / "etc/postfix/main.cf").unlink()
    f = {x.name: x for x in findings(target_root, state)}
    assert "removed" in f["/etc/postfix/main.cf edited since apply"].detail


def test_skipped_paths_and_rolled_back_steps_are_not_drift(target_root, tmp_path):
    state = tmp_path / "state"
    applied(target_root, state)
    (target_root / "etc/mw/whole.conf").write_text("renewed\n")
    f = findings(target_root, state, skip=["/etc/mw/whole.conf"])
    assert [x.state for x in f] == [OK]
    with Session.open(state) as s:
        make_engine(target_root, s, [Basics()]).rollback(force=True)
    assert (target_root / "etc/postfix/main.cf").read_text() == STOCK
    assert [x.state for x in findings(target_root, state)] == [OK]


def test_older_journal_without_new_values(target_root, tmp_path):
    state = tmp_path / "state"
    applied(target_root, state)
    with Session.open(state) as s:
        for e in s.journal:
            e["record"].pop("new", None)
        s.save()
    main = target_root / "etc/postfix/main.cf"
    main.write_text(main.read_text() + "message_size_limit = 1\n")
    f = {x.name: x for x in findings(target_root, state)}
    d = f["/etc/postfix/main.cf edited since apply"].detail
    assert "other settings changed: message_size_limit" in d
    assert "mailwizard's settings" not in d


def test_no_session_is_unknown(tmp_path):
    f = findings(tmp_path, tmp_path / "none")
    assert [x.state for x in f] == [UNKNOWN]
    assert not (tmp_path / "none").exists()


def test_the_hint_says_a_re_run_keeps_an_edited_dovecot_setting() -> None:
    kept = drift._finding(drift.DriftResult(
        "/etc/dovecot/conf.d/10-ssl.conf", "tls-dovecot", "changed",
        changed_keys=["ssl_min_protocol"], editor="dovecot"))
    assert "re-run keeps these edits" in kept.hint and "--overwrite-edits" in kept.hint
    other = drift._finding(drift.DriftResult(
        "/etc/aliases", "aliases", "changed", changed_keys=["root"], editor="aliases"))
    assert "re-run keeps these edits" not in other.hint
