"""A re-run keeps a main.cf parameter edited by hand since mailwizard set it, names it with
its stock, mailwizard and current values, and sets it back only with overwrite_edits."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from allsteps import real_engine
from fake_target import DEMO_ANSWERS
from mailserver import PLATFORM, applied_server

from wizard import confedit
from wizard.drift import ours_main_cf

MAIN_CF = "/etc/postfix/main.cf"


def _edit(root: Path, **values: str) -> None:
    p = root / MAIN_CF.lstrip("/")
    p.write_text(confedit.edit_main_cf(p.read_text(), values, []))


def _value(root: Path, name: str) -> str:
    return confedit.read_main_cf((root / MAIN_CF.lstrip("/")).read_text()).get(name, "")


def test_a_hand_edit_is_kept_named_and_overwritten_only_when_asked(tmp_path: Path) -> None:
    target, session, ex = applied_server(tmp_path)
    try:
        assert ours_main_cf(session)[MAIN_CF]["smtpd_helo_required"] == "yes"
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
        assert "smtpd_helo_required" not in ours_main_cf(session).get(MAIN_CF, {})
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
