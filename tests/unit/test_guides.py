"""Guide references name the guide, once per guide, and leave unknown numbers alone."""

from __future__ import annotations

from wizard.guides import GUIDE_NAMES, named


def test_first_mention_of_each_guide_is_named() -> None:
    text = named("Guide 000, part 1; guide 002 (SPF); Guide 000, part 3")
    assert text.startswith(f"Guide 000 ({GUIDE_NAMES['000']}), part 1; ")
    assert f"guide 002 ({GUIDE_NAMES['002']}) (SPF)" in text
    assert text.endswith("; Guide 000, part 3")  # not named twice


def test_unknown_numbers_and_plain_text_stay() -> None:
    assert named("Guide 999, part 1") == "Guide 999, part 1"
    assert named("no reference") == "no reference"
    assert named("Guide 0001") == "Guide 0001"


def test_every_step_cites_known_guides() -> None:
    import re

    from recipes import all_recipes

    for r in all_recipes():
        for number in re.findall(r"[Gg]uide (\d+)", r.guide):
            assert number in GUIDE_NAMES, (r.id, number)
