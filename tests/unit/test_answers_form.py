"""The answers form's values (screens/form.py): field text <-> answers data, and saving."""

from __future__ import annotations

import stat
from pathlib import Path

import yaml

from screens.form import (
    error_slot,
    int_or_text,
    lines_to_actions,
    lines_to_map,
    list_to_text,
    map_to_lines,
    save_answers,
    text_to_list,
)


def test_map_lines_round_trip() -> None:
    text = "# comment\npostmaster: root\n\nabuse: alice, bob\n"
    data = lines_to_map(text)
    assert data == {"postmaster": "root", "abuse": ["alice", "bob"]}
    assert map_to_lines(data) == "postmaster: root\nabuse: alice, bob"
    assert map_to_lines(["not", "a", "map"]) == ""


def test_actions_keep_their_text() -> None:
    assert lines_to_actions("spam@example.com: REJECT go away, please") == {
        "spam@example.com": "REJECT go away, please"}


def test_lists_and_numbers() -> None:
    assert text_to_list(" a, b  c,") == ["a", "b", "c"]
    assert list_to_text(["a", "b"]) == "a, b"
    assert list_to_text(None) == ""
    assert int_or_text("", 7) == 7
    assert int_or_text("12", 7) == 12
    assert int_or_text("12k", 7) == "12k"  # the validator explains


def test_error_slots() -> None:
    assert error_slot("users[1].name") == "users-1"
    assert error_slot("aliases.postmaster") == "aliases"
    assert error_slot("restrictions.sender_access.x@y") == "restrictions-sender_access"
    assert error_slot("certificate.days") == "certificate-days"


def _data() -> dict:  # type: ignore[type-arg]
    return {"hostname": "mail.example.com",
            "users": [{"name": "alice", "create": True, "password": "s3cret"}]}


def test_save_without_passwords(tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    note = save_answers(_data(), path, with_passwords=False)
    assert note == " (passwords left out)"
    assert "s3cret" not in path.read_text(encoding="utf-8")
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["users"] == [
        {"name": "alice", "create": True}]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 & ~_umask()


def test_save_with_passwords_is_private(tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text("old", encoding="utf-8")
    path.chmod(0o644)
    assert save_answers(_data(), path, with_passwords=True) == " with passwords"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["users"][0]["password"] == "s3cret"


def test_save_without_any_password_says_nothing(tmp_path: Path) -> None:
    assert save_answers({"users": []}, tmp_path / "a.yaml", with_passwords=False) == ""


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_saving_without_passwords_leaves_the_relay_password_out(tmp_path: Path) -> None:
    out = tmp_path / "a.yaml"
    data = {"hostname": "mail.example.com", "relayhost": "[smtp.provider.example]:587",
            "relay_user": "mailer", "relay_password": "Sm4rthost-Secret", "users": []}
    save_answers(dict(data), out, with_passwords=False)
    text = out.read_text()
    assert "Sm4rthost-Secret" not in text and "relay_password" not in text
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    save_answers(dict(data), out, with_passwords=True)
    assert yaml.safe_load(out.read_text())["relay_password"] == "Sm4rthost-Secret"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
