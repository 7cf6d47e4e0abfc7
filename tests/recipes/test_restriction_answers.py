"""The restrictions answers of issue 10: bad values are refused with the field named."""

from __future__ import annotations

from typing import Any

import pytest
from recipe_plans import DEMO

from wizard.answers import parse_answers
from wizard.errors import AnswersError


def errors_for(**restrictions: Any) -> list:
    raw = DEMO.to_dict(include_secrets=True)
    raw["restrictions"].update(restrictions)
    try:
        parse_answers(raw)
    except AnswersError as exc:
        return exc.errors
    return []


@pytest.mark.parametrize("key", ["smtpd_client_connection_rate_limit",
                                 "smtpd_client_message_rate_limit",
                                 "smtpd_client_auth_rate_limit"])
@pytest.mark.parametrize("bad", [-1, 100_001, "10", True, 1.5, None])
def test_rate_limits_are_bounded_whole_numbers(key: str, bad: Any) -> None:
    errs = errors_for(**{key: bad})
    assert [f for f, _ in errs] == [f"restrictions.{key}"]
    assert "whole number from 0 to 100000" in errs[0][1]


def test_rate_limit_defaults_and_round_trip() -> None:
    r = DEMO.restrictions
    assert (r.smtpd_client_connection_rate_limit, r.smtpd_client_message_rate_limit,
            r.smtpd_client_auth_rate_limit) == (60, 100, 20)
    assert r.reject_unknown_client is False
    again = parse_answers(DEMO.to_dict(include_secrets=True))
    assert again.restrictions == r


def test_reject_unknown_client_must_be_a_boolean() -> None:
    assert [f for f, _ in errors_for(reject_unknown_client="no")] == [
        "restrictions.reject_unknown_client"]


@pytest.mark.parametrize("bad", [0, 3601, "60", False])
def test_postgrey_delay_is_seconds_up_to_an_hour(bad: Any) -> None:
    errs = errors_for(postgrey_delay=bad)
    assert [f for f, _ in errs] == ["restrictions.postgrey_delay"]
    assert DEMO.restrictions.postgrey_delay == 300
