"""The answers form opens with its first sections and shows the others when the admin gets
to them (Tab onto the "more" line, scrolling to the end, an answer of theirs needing
attention): what it collects and whether it counts as edited do not depend on it."""

from __future__ import annotations

import copy

from textual.widgets import Input, Select
from ui_recipes import test_recipes
from uikit import FROZEN_MACHINE, run_async, shows, text_of

from screens.answers import FIRST_SECTIONS, SECTIONS, AnswersScreen
from screens.app import make_app
from screens.widgets import LazyForm, MoreFields
from wizard.answers import demo_answers_path, load_answers, parse_answers

SIZE = (80, 24)


async def open_form(app, pilot) -> AnswersScreen:  # type: ignore[no-untyped-def]
    await pilot.press("s")
    await pilot.pause()
    form = app.screen
    assert isinstance(form, AnswersScreen)
    return form


@run_async
async def test_tab_and_scroll_show_the_next_sections() -> None:
    app = make_app(answers="demo", recipes=test_recipes(), machine=FROZEN_MACHINE)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot)
        assert form.shown == list(SECTIONS[:FIRST_SECTIONS])
        assert not form.query("#f-certificate-mode")
        more = form.query_one(MoreFields)
        assert "TLS certificate" in text_of(more)
        opened = parse_answers(form.collect())
        assert not form.edited()

        # Tab from the last field of the shown sections lands on "more": the TLS section
        # comes, with the focus on its first field
        form.query_one("#f-virtual_aliases").focus()
        await pilot.press("tab")
        await pilot.pause()
        assert form.shown[FIRST_SECTIONS] == "tls"
        assert app.focused is form.query_one("#f-certificate-mode", Select)
        assert "TLS certificate" not in text_of(more)
        assert not form.edited()  # new fields are not edits

        # scrolling to the end shows the next one
        form.query_one(LazyForm).scroll_end(animate=False, immediate=True)
        await pilot.pause()
        await pilot.pause()
        assert "sasl" in form.shown
        assert form.query("#f-sasl-backend")

        await form.reveal()
        assert form.all_shown and not form.query(MoreFields)
        assert parse_answers(form.collect()) == opened
        assert not form.edited()
        form.query_one("#f-dkim-selector", Input).value = "s1"
        assert form.edited()


@run_async
async def test_a_problem_in_a_later_section_shows_that_section() -> None:
    raw = load_answers(demo_answers_path()).to_dict(include_secrets=True)
    bad = copy.deepcopy(raw)
    bad["certificate"]["country"] = "gb"
    app = make_app(raw_answers=bad, recipes=test_recipes(), machine=FROZEN_MACHINE)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot)
        await pilot.pause()
        assert "tls" in form.shown
        assert "country" in await shows(
            pilot, form.query_one("#err-certificate-country"), "country")
        # Next refuses and goes to the field
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, AnswersScreen)
        assert app.focused is form.query_one("#f-certificate-country", Input)


@run_async
async def test_the_health_report_is_answered_on_the_form() -> None:
    """The last section turns the scheduled health check on: a bad schedule or address is
    named under its field and Next refuses; good ones reach the answers."""
    app = make_app(answers="demo", recipes=test_recipes(), machine=FROZEN_MACHINE)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot)
        await form.reveal()
        await pilot.pause()
        mail_to = form.query_one("#f-health_check-mail_to", Input)
        schedule = form.query_one("#f-health_check-schedule", Input)
        assert mail_to.value == "" and schedule.value == "daily"
        assert parse_answers(form.collect()).health_check.mail_to == ""
        form.show_all = True
        for address, when, slot, said in (
                ("ops@example.net", "25:00", "schedule", "not a schedule"),
                ("ops@example.net\nrelayhost=x", "daily", "mail_to", "U+000A")):
            mail_to.value, schedule.value = address, when
            assert form.validate() is None
            await pilot.pause()
            assert said in text_of(form.query_one(f"#err-health_check-{slot}"))
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, AnswersScreen)  # Next refuses
        mail_to.value = "ops@example.net"
        schedule.value = "06:30"
        answers = form.validate()
        assert answers is not None
        assert (answers.health_check.mail_to, answers.health_check.schedule) == (
            "ops@example.net", "06:30")
        assert form.edited()
