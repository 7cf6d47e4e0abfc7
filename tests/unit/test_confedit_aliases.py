"""edit_aliases parses /etc/aliases once for all entries: the result is the same as setting
the entries one at a time, on files with comments, continuation lines and mixed case."""

from __future__ import annotations

import random

from wizard.confedit import edit_aliases, read_aliases

NAMES = ["root", "postmaster", "info", "sales", "abuse", "a1", "b2", "webmaster"]


def _file(rnd: random.Random) -> str:
    out = []
    for _ in range(rnd.randint(0, 12)):
        k, n = rnd.random(), rnd.choice(NAMES)
        out.append(f"{n}: {rnd.choice(NAMES)}, x\n" if k < 0.35 else
                   f"# {n}: someone\n" if k < 0.5 else f"#{n}:x\n" if k < 0.6 else
                   "\n" if k < 0.7 else f"  cont{rnd.randint(0, 9)}\n" if k < 0.8 else
                   f"{n.upper()}:\t{rnd.choice(NAMES)}\n" if k < 0.9 else "# comment\n")
    text = "".join(out)
    return text.rstrip("\n") if text and rnd.random() < 0.3 else text


def test_all_at_once_is_one_at_a_time() -> None:
    rnd = random.Random(16)
    for _ in range(3000):
        text = _file(rnd)
        entries = {rnd.choice(NAMES): rnd.sample(NAMES, rnd.randint(1, 2))
                   for _ in range(rnd.randint(0, 5))}
        one_by_one = text
        for name, targets in entries.items():
            one_by_one = edit_aliases(one_by_one, {name: targets})
        assert edit_aliases(text, entries) == one_by_one, (text, entries)


def test_an_entry_after_a_last_comment_without_newline_gets_its_own_line() -> None:
    assert edit_aliases("a: b\n# sales: x", {"sales": ["bob"]}) == \
        "a: b\n# sales: x\nsales:          bob\n"


def test_a_large_file_and_many_entries() -> None:
    text = "".join(f"x{i}: root\n" for i in range(10000))
    entries = {f"a{i:05d}": ["alice"] for i in range(10000)}
    entries["x5"] = ["bob"]
    out = edit_aliases(text, entries)
    got = read_aliases(out)
    assert len(got) == 20000 and got["x5"] == ["bob"] and got["a09999"] == ["alice"]
    assert out.splitlines()[5] == "x5:             bob"
