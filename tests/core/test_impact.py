"""The back-of-the-envelope case the bot works out for the rep."""

from __future__ import annotations

import pytest

from bot.core.domain import Frequency, Impact, format_number, impact_line


def impact(hours: float | None, people: int | None, **kw) -> Impact:
    return Impact(
        hours_per_week=hours,
        people=people,
        hourly_rate=kw.get("rate", 50.0),
        frequency=kw.get("frequency", Frequency.WEEKLY),
        customers_notice=kw.get("customers", False),
    )


def test_the_issue_example() -> None:
    assert impact_line(impact(3, 4), "$") == "≈ 3 h/week × 4 people ≈ 624 h/year ≈ $31,200/year at $50/h"


def test_fractions_one_person_and_other_currencies() -> None:
    assert impact_line(impact(1.5, 1, rate=72.5), "€") == "≈ 1.5 h/week × 1 person ≈ 78 h/year ≈ €5,655/year at €72.5/h"


def test_without_numbers_the_case_asks_for_them() -> None:
    assert impact_line(impact(None, 4), "$").startswith("Impact not estimated yet")
    assert impact(3, None).hours_per_year == 0


@pytest.mark.parametrize(
    ("frequency", "customers", "score"),
    [
        (Frequency.DAILY, True, 5),
        (Frequency.DAILY, False, 4),
        (Frequency.MONTHLY, True, 3),
        (Frequency.RARELY, False, 1),
    ],
)
def test_aggravation_is_how_often_plus_customers(frequency: Frequency, customers: bool, score: int) -> None:
    assert impact(1, 1, frequency=frequency, customers=customers).aggravation == score


def test_number_formatting() -> None:
    assert [format_number(v) for v in (624, 31200, 2.25, 0.04)] == ["624", "31,200", "2.2", "0"]
