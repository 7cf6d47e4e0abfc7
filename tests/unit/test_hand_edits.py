"""A re-run keeps a main.cf parameter edited by hand since mailwizard set it, names it with
its stock, mailwizard and current values, and sets it back only with overwrite_edits."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Dict

from allsteps import real_engine
from fake_target import DEMO_ANSWERS
from mailserver import PLATFORM, applied_server

from wizard import cli, confedit
from wizard.checks import CheckResult
from wizard.drift import KeptEdit, edited_by_hand, ours_written, soften_checks

MAIN_CF = "/etc/postfix/main.cf"


def _edit(root: Path, **values: str) -> None:
    p = root / MAIN_CF.lstrip("/")
    p.write_text(confedit.edit_main_cf(p.read_text(), values, []))


def _value(root: Path, name: str) -> str:
    return confedit.read_main_cf((root / MAIN_CF.lstrip("/")).read_text()).get(name, "")


def test_a_hand_edit_is_kept_named_and_overwritten_only_when_asked(tmp_path: Path) -> None:
    target, session, ex = applied_server(tmp_path)
    try:
        assert ours_written(session)[MAIN_CF].values["smtpd_helo_required"] == "yes"
        _edit(target.root, smtpd_helo_required="no")
        engine = real_engine(DEMO_ANSWERS, PLATFORM, ex, session=session)
        [plan] = engine.plan(["restrictions"])
        notes = [p for p in plan.previews if p.kind == "note" and "kept" in p.title]
        assert len(notes) == 1 and "smtpd_helo_required" in notes[0].title
        assert "mailwizard 'yes', now 'no'" in notes[0].note and "stock" in notes[0].note
        [res] = engine.apply(["restrictions"])
        assert res.status == "applied" and _value(target.root, "smtpd_helo_required") == "no"
        [check] = [c for c in engine.verify(["restrictions"])["restrictions"]
                   if c.name == "main.cf smtpd_helo_required"]
        assert check.ok is None and "kept" in check.detail  # information, not a failure
        # converged: the kept edit is not a change
        [res] = engine.apply(["restrictions"])
        assert res.changed == 0
        engine.overwrite_edits = True
        [res] = engine.apply(["restrictions"])
        assert res.status == "applied" and _value(target.root, "smtpd_helo_required") == "yes"
    finally:
        session.close()


def test_an_answers_change_without_a_hand_edit_applies(tmp_path: Path) -> None:
    target, session, ex = applied_server(tmp_path)
    try:
        r = dataclasses.replace(DEMO_ANSWERS.restrictions, message_size_limit=1048576)
        answers = dataclasses.replace(DEMO_ANSWERS, restrictions=r)
        engine = real_engine(answers, PLATFORM, ex, session=session)
        [res] = engine.apply(["restrictions"])
        assert res.status == "applied" and _value(target.root, "message_size_limit") == "1048576"
    finally:
        session.close()


def test_nothing_is_kept_once_rolled_back(tmp_path: Path) -> None:
    target, session, ex = applied_server(tmp_path)
    try:
        engine = real_engine(DEMO_ANSWERS, PLATFORM, ex, session=session)
        assert not engine.rollback(["restrictions"]).errors
        ours = ours_written(session)
        assert MAIN_CF not in ours or "smtpd_helo_required" not in ours[MAIN_CF].values
        _edit(target.root, smtpd_helo_required="no")
        [res] = engine.apply(["restrictions"])
        assert _value(target.root, "smtpd_helo_required") == "yes"
    finally:
        session.close()


def test_a_replaced_main_cf_is_not_taken_for_hand_edits(tmp_path: Path) -> None:
    """A package put its stock main.cf back: none of mailwizard's values is left, so the
    run sets them all again instead of keeping the stock ones."""
    target, session, ex = applied_server(tmp_path)
    try:
        stock = (Path(__file__).resolve().parents[2] / "wizard/stock" / PLATFORM.stock
                 / "etc/postfix/main.cf")
        (target.root / MAIN_CF.lstrip("/")).write_bytes(stock.read_bytes())
        engine = real_engine(DEMO_ANSWERS, PLATFORM, ex, session=session)
        [plan] = engine.plan(["restrictions"])
        assert not [p for p in plan.previews if p.kind == "note" and "kept" in p.title]
        [res] = engine.apply(["restrictions"])
        assert res.status == "applied" and _value(target.root, "smtpd_helo_required") == "yes"
    finally:
        session.close()


MAIL_CONF = "/etc/dovecot/conf.d/10-mail.conf"


def _dovecot(root: Path) -> Dict[str, str]:
    return confedit.read_dovecot_conf((root / MAIL_CONF.lstrip("/")).read_text())


def test_a_dovecot_hand_edit_is_kept_named_and_overwritten_only_when_asked(
        tmp_path: Path) -> None:
    target, session, ex = applied_server(tmp_path)
    try:
        engine = real_engine(DEMO_ANSWERS, PLATFORM, ex, session=session)
        [res] = engine.apply(["dovecot-basics"])
        assert res.status == "applied"
        assert ours_written(session)[MAIL_CONF].values["mail_location"] == "maildir:~/Maildir"
        p = target.root / MAIL_CONF.lstrip("/")
        p.write_text(confedit.edit_dovecot_conf(p.read_text(), {"mail_location": "mbox:~/mail"}))
        [plan] = engine.plan(["dovecot-basics"])
        [note] = [v for v in plan.previews if v.kind == "note" and "kept" in v.title]
        assert MAIL_CONF in note.title and "mail_location" in note.title
        stock = confedit.read_dovecot_conf(
            (Path(__file__).resolve().parents[2] / "wizard/stock" / PLATFORM.stock
             / MAIL_CONF.lstrip("/")).read_text()).get("mail_location")
        shown = "not in the stock file" if stock is None else f"stock {stock!r}"
        assert (f"mail_location: {shown}, mailwizard 'maildir:~/Maildir', "
                "now 'mbox:~/mail'") in note.note
        [res] = engine.apply(["dovecot-basics"])
        assert res.changed == 0 and _dovecot(target.root)["mail_location"] == "mbox:~/mail"
        edited = edited_by_hand(ex, PLATFORM, ours_written(session))
        assert "dovecot mail_location" in edited
        failing = CheckResult("dovecot mail_location", False, "mail_location = mbox:~/mail")
        [soft] = soften_checks([failing], edited)
        assert soft.ok is None and "kept" in soft.detail
        engine.overwrite_edits = True
        [plan] = engine.plan(["dovecot-basics"])
        assert [v for v in plan.previews if v.kind == "note" and "overwritten" in v.title]
        [res] = engine.apply(["dovecot-basics"])
        assert res.status == "applied"
        assert _dovecot(target.root)["mail_location"] == "maildir:~/Maildir"
        assert "dovecot mail_location" not in edited_by_hand(ex, PLATFORM, ours_written(session))
    finally:
        session.close()


def test_a_secret_looking_setting_is_not_shown() -> None:
    kept = KeptEdit("/etc/dovecot/conf.d/10-ssl.conf", "ssl_key_password", None, "a", "b", "a")
    assert "'a'" not in kept.describe() and "'b'" not in kept.describe()
    assert "(hidden)" in kept.describe()


def test_a_stock_dovecot_file_put_back_is_not_taken_for_a_hand_edit(tmp_path: Path) -> None:
    """10-mail.conf holds one of mailwizard's settings: the stock file put back (its stock
    value) is a replaced file, set again, not an edit to keep."""
    target, session, ex = applied_server(tmp_path)
    try:
        engine = real_engine(DEMO_ANSWERS, PLATFORM, ex, session=session)
        [res] = engine.apply(["dovecot-basics"])
        stock = (Path(__file__).resolve().parents[2] / "wizard/stock" / PLATFORM.stock
                 / MAIL_CONF.lstrip("/"))
        (target.root / MAIL_CONF.lstrip("/")).write_bytes(stock.read_bytes())
        [plan] = engine.plan(["dovecot-basics"])
        assert not [v for v in plan.previews if v.kind == "note" and "kept" in v.title]
        [res] = engine.apply(["dovecot-basics"])
        assert res.status == "applied"
        assert _dovecot(target.root)["mail_location"] == "maildir:~/Maildir"
    finally:
        session.close()


def test_mailwizard_plan_names_a_kept_edit_from_the_journal(tmp_path: Path, capsys) -> None:
    """``mailwizard plan`` reads the session (without locking it) to show what apply keeps."""
    target, session, ex = applied_server(tmp_path)
    try:
        engine = real_engine(DEMO_ANSWERS, PLATFORM, ex, session=session)
        [res] = engine.apply(["dovecot-basics"])
    finally:
        session.close()
    p = target.root / MAIL_CONF.lstrip("/")
    p.write_text(confedit.edit_dovecot_conf(p.read_text(), {"mail_location": "mbox:~/mail"}))
    (target.root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\n')
    capsys.readouterr()
    rc = cli.main(["plan", "--answers", "demo", "--root", str(target.root), "--state-dir",
                   str(target.state_dir), "--step", "dovecot-basics"])
    out = "".join(capsys.readouterr())
    assert rc == 0 and f"{MAIL_CONF}: kept 1 hand edit(s): mail_location" in out, out[-3000:]


MASTER_CF = "/etc/postfix/master.cf"


def _submission(root: Path) -> str:
    entries = confedit.read_master_cf((root / MASTER_CF.lstrip("/")).read_text())
    return entries[("submission", "inet")]


def test_a_master_cf_service_edited_by_hand_is_kept_whole(tmp_path: Path) -> None:
    """The admin adds an override to the submission entry mailwizard wrote: a re-run keeps
    the entry as it is now (named, with the three values), the security checks of the entry
    still run on it, and --overwrite-edits writes mailwizard's entry again."""
    target, session, ex = applied_server(tmp_path)
    try:
        engine = real_engine(DEMO_ANSWERS, PLATFORM, ex, session=session)
        [res] = engine.apply(["tls-postfix"])
        assert res.status == "applied"
        ours = _submission(target.root)
        assert ours_written(session)[MASTER_CF].values["submission/inet"] == ours
        p = target.root / MASTER_CF.lstrip("/")
        edited = ours.rstrip("\n") + "\n  -o smtpd_client_connection_rate_limit=30\n"
        p.write_text(p.read_text().replace(ours, edited, 1))
        [plan] = engine.plan(["tls-postfix"])
        [note] = [v for v in plan.previews if v.kind == "note" and "kept" in v.title]
        assert f"{MASTER_CF}: kept 1 hand edit(s): submission/inet" in note.title
        assert "smtpd_client_connection_rate_limit=30'" in note.note  # now, on one line
        assert "answers now want" not in note.note
        [res] = engine.apply(["tls-postfix"])
        assert res.changed == 0 and _submission(target.root) == edited
        checks = {c.name: c for c in engine.verify(["tls-postfix"])["tls-postfix"]}
        assert checks["submission service in master.cf"].ok is True
        assert "master.cf submission/inet" in edited_by_hand(ex, PLATFORM,
                                                             ours_written(session))
        # an edit that drops what the entry must hold is kept, and its check fails
        weak = edited.replace("smtpd_tls_security_level=encrypt", "smtpd_tls_security_level=may")
        p.write_text(p.read_text().replace(edited, weak, 1))
        [res] = engine.apply(["tls-postfix"])
        assert _submission(target.root) == weak
        checks = {c.name: c for c in engine.verify(["tls-postfix"])["tls-postfix"]}
        assert checks["submission service in master.cf"].ok is False
        engine.overwrite_edits = True
        [res] = engine.apply(["tls-postfix"])
        assert res.status == "applied" and _submission(target.root) == ours
        assert not edited_by_hand(ex, PLATFORM, ours_written(session))
    finally:
        session.close()
