"""Check-ins land at 10:00 local on a working day; the digest slot is found in the workspace's zone."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from bot.core.calendar import (
    add_working_days,
    checkin_due,
    iso_week,
    last_weekly_slot,
    parse_weekly,
    working_days_later,
    zone,
)

NY = zone("America/New_York")
TOKYO = zone("Asia/Tokyo")


def test_a_checkin_is_due_at_ten_in_the_owners_zone() -> None:
    done = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
    assert checkin_due(done, 7, NY) == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # Monday 10:00 EST
    assert checkin_due(done, 7, TOKYO) == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # Tue 10:00 JST (already Tue there)


def test_a_checkin_falling_on_a_weekend_moves_to_monday() -> None:
    done = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # Saturday
    assert checkin_due(done, 7, zone("UTC")) == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # Sat+7 -> Mon


def test_daylight_saving_changes_keep_ten_oclock_local() -> None:
    before_switch = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
    due = checkin_due(before_switch, 30, NY)  # 19 Nov: EST, UTC-5
    assert due.astimezone(NY).time() == time(10, 0) and due.hour == 15


def test_working_days_skip_weekends() -> None:
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert working_days_later(friday, 2, NY) == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # Tuesday
    assert add_working_days(friday.date(), 1).isoformat() == "2026-11-30"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("fri 16:00", (4, time(16, 0))), ("Monday 9:30", (0, time(9, 30))), ("SUN 00:00", (6, time(0, 0)))],
)
def test_weekly_times_parse(text: str, expected: tuple[int, time]) -> None:
    assert parse_weekly(text) == expected


@pytest.mark.parametrize("text", ["friday", "16:00", "fri 25:00", "fri 16:60", "xyz 10:00", ""])
def test_bad_weekly_times_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_weekly(text)


def test_the_last_weekly_slot_and_its_week() -> None:
    berlin = zone("Europe/Berlin")
    friday_4pm = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # 16:00 in Berlin
    assert last_weekly_slot(friday_4pm, 4, time(16, 0), berlin) == friday_4pm
    just_before = datetime(2026, 11, 27, 14, 59, tzinfo=UTC)
    assert last_weekly_slot(just_before, 4, time(16, 0), berlin) == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assert iso_week(friday_4pm, berlin) == "2026-W48"


def test_unknown_zones_fall_back() -> None:
    assert zone("Mars/Olympus", "Europe/Paris").key == "Europe/Paris"
    assert zone(None).key == "UTC"
