"""A save re-encodes only the values that changed since the last one (a large site's answers
are not re-encoded for every journal entry), and what it writes is what encoding the whole
session anew gives: changes made in place are seen, the checksum holds, a reader agrees."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict

import pytest

import wizard.session as session_mod
from wizard.session import Session


def _fresh_text(data: Dict[str, Any]) -> str:
    """session.yaml as the former whole-session encoder wrote it."""
    def enc(value: Any) -> str:
        return json.dumps(value, ensure_ascii=True, default=str)

    body = {k: v for k, v in data.items() if k != "check"}
    sha = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"),
                                    default=str).encode()).hexdigest()
    lines = []
    for key, value in {**body, "check": {"lines": data["check"]["lines"], "sha": sha}}.items():
        if key == "journal" and value:
            text = "[\n  " + ",\n  ".join(enc(e) for e in value) + "\n ]"
        else:
            text = enc(value)
        lines.append(f" {enc(key)}: {text}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _check(s: Session) -> None:
    written = s.file.read_text()
    data = json.loads(written)
    assert written == _fresh_text(data)
    reread = Session.open(s.dir, lock=False)
    assert not reread.recovered
    assert reread.data["journal"] == json.loads(json.dumps(s.data["journal"], default=str))
    assert reread.data["answers"] == json.loads(json.dumps(s.data["answers"], default=str))


def test_in_place_changes_are_written(tmp_path: Path) -> None:
    answers = {"aliases": {f"a{i}": "alice" for i in range(50)}, "t": ("x", 1), "u": "é\u2028"}
    with Session.open(tmp_path / "st") as s:
        s.bind("debian12", "/", answers)
        _check(s)
        e = s.start_entry("s", 0, "file", "write /etc/x", s.next_key(), {"path": "/etc/x"})
        s.finish_entry(e)
        _check(s)
        e["record"]["mode"] = 0o600  # changed in place, saved by the next save
        answers["aliases"]["a1"] = "bob"  # the answers too (nothing does; still seen)
        s.set_step("s", "applied")
        _check(s)
        assert json.loads(s.file.read_text())["journal"][0]["record"]["mode"] == 0o600
        assert json.loads(s.file.read_text())["answers"]["aliases"]["a1"] == "bob"
    reread = Session.open(tmp_path / "st", lock=False)
    assert reread.data["answers"]["aliases"]["a1"] == "bob"
    assert reread.journal[0]["record"]["mode"] == 0o600


def test_unchanged_values_are_not_encoded_again(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    big = {"aliases": {f"a{i:05d}": "alice" for i in range(2000)}}
    encoded = []
    real = session_mod._Pieces.__init__

    def spy(self: Any, value: Any, keep: bool = True) -> None:
        encoded.append(value)
        real(self, value, keep)

    monkeypatch.setattr(session_mod._Pieces, "__init__", spy)
    with Session.open(tmp_path / "st") as s:
        s.bind("debian12", "/", big)
        for i in range(5):
            e = s.start_entry("s", i, "file", "w", s.next_key(), {"n": i})
            s.finish_entry(e)
        assert sum(1 for v in encoded if v is big) == 1
        _check(s)
