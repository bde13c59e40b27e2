"""Numbers as people type them: decimal commas, thousands separators, and what is too ambiguous to guess."""

from __future__ import annotations

import pytest

from bot.core.forms import USE_A_DOT, parse_number


@pytest.mark.parametrize(
    ("text", "decimal", "number"),
    [
        ("3.5", True, 3.5),
        ("3,5", True, 3.5),  # a decimal comma
        ("12,25", True, 12.25),
        (",5", True, 0.5),
        ("1,234.5", True, 1234.5),
        ("1.234,5", True, 1234.5),
        ("1,000", False, 1000),  # only whole numbers: a thousands separator
        ("1.000", False, 1000),
        ("1,234,567", False, 1234567),
        ("1.234.567", False, 1234567),
        ("1 000", False, 1000),
        ("1\u202f000", False, 1000),
        ("1'000", False, 1000),
        ("1.000", True, 1.0),  # a dot is a decimal point where decimals are allowed
        ("3,5", False, 3.5),  # the whole-number check then says "Enter a whole number."
        ("-2", True, -2),
        (" 7 ", False, 7),
        ("1\u2019000", False, 1000),  # a typographic apostrophe
        ("1 000,5", True, 1000.5),
        # not a thousands separator (a leading zero, or more than three digits before it): a decimal, which a
        # whole-number field then refuses
        ("0.500", False, 0.5),
        ("0,500", False, 0.5),
        ("1234.567", False, 1234.567),
        ("0,500", True, 0.5),
    ],
)
def test_numbers_mean_what_people_type(text: str, decimal: bool, number: float) -> None:
    assert parse_number(text, decimal=decimal) == number


@pytest.mark.parametrize("text", ["1,000", "12,500", "-3,000"])
def test_a_lone_comma_before_three_digits_is_refused_where_decimals_are_allowed(text: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_number(text, decimal=True)
    assert str(refused.value) == f"Is that {text.replace(',', '.')} or {text.replace(',', '')}? {USE_A_DOT}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lots", "Enter a number."),
        ("3.5h", "Enter a number."),
        ("nan", "Enter a number."),
        ("inf", "Enter a number."),
        ("1e309", "Enter a number."),
        ("1,2,3", f"Enter a number. {USE_A_DOT}"),
        ("1..5", f"Enter a number. {USE_A_DOT}"),
        ("1,23,456", f"Enter a number. {USE_A_DOT}"),
        ("3 5", "Enter a number."),  # a space only between groups of three
        ("1'5", "Enter a number."),
        ("12 34", "Enter a number."),
    ],
)
def test_what_is_not_a_number_says_so(text: str, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_number(text)
    assert str(refused.value) == message
