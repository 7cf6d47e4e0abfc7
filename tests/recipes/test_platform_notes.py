"""A runbook talks about its own platform: the guide-is-outdated notes about EL (yum,
system-switch-mail, SELinux, EL10's lmdb) are not in a Debian or Ubuntu runbook, and Debian's
(the split Dovecot packages, Dovecot 2.4 on Debian 13) are not in an EL one."""

from __future__ import annotations

import re

import pytest

from recipes import all_recipes
from wizard.answers import demo_answers_path, load_answers
from wizard.executor import DryRunExecutor
from wizard.platforms import get_platform
from wizard.recipe import ForFamily
from wizard.runbook import render_runbook

EL_ONLY = re.compile(r"\byum\b|system-switch-mail|SELinux|EL10's Postfix", re.ASCII)
DEBIAN_ONLY = re.compile(r"dovecot-core plus dovecot-imapd|On Debian 13 saslauthd", re.ASCII)


def _runbook(platform_id: str, tmp_path) -> str:  # type: ignore[no-untyped-def]
    from wizard.engine import Engine

    engine = Engine(load_answers(demo_answers_path()), get_platform(platform_id),
                    DryRunExecutor(str(tmp_path)), recipes=all_recipes())
    return render_runbook(engine, fmt="markdown")


def _notes(text: str) -> str:
    """Only the runbook's "out of date" lists (commands elsewhere may name any tool)."""
    out, keep = [], False
    for line in text.splitlines():
        if line.startswith("**Where that guide is out of date:**"):
            keep = True
        elif keep and line and not line.startswith("- "):
            keep = False
        if keep:
            out.append(line)
    return "\n".join(out)


@pytest.mark.parametrize("platform_id", ["debian12", "debian13", "ubuntu24.04"])
def test_debian_runbook_has_no_el_notes(platform_id: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    notes = _notes(_runbook(platform_id, tmp_path))
    assert notes, "the runbook has notes on the guides"
    assert not EL_ONLY.search(notes), EL_ONLY.search(notes)
    assert "dovecot-core plus dovecot-imapd" in notes


@pytest.mark.parametrize("platform_id", ["rocky9", "almalinux10", "centos7"])
def test_el_runbook_has_no_debian_notes(platform_id: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    notes = _notes(_runbook(platform_id, tmp_path))
    assert not DEBIAN_ONLY.search(notes), DEBIAN_ONLY.search(notes)
    assert "system-switch-mail" in notes and "yum is replaced by dnf" in notes


def test_every_note_is_for_all_or_one_known_family() -> None:
    families = {get_platform(p).family for p in ("rocky9", "debian12")}
    for r in all_recipes():
        for note in r.outdated:
            if isinstance(note, ForFamily):
                assert note.family in families, (r.id, note.family)
            # a note marked for one family is shown only there
            shown = {f for f in families
                     if str(note) in r.outdated_for(get_platform(
                         "rocky9" if f == "el" else "debian12"))}
            assert shown == ({note.family} if isinstance(note, ForFamily) else families)
