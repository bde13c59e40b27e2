"""Working-day and time-zone arithmetic for check-ins and the weekly digest. Pure functions."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CHECKIN_HOUR = time(10, 0)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    """The IANA zone `name`, or the fallback when it is missing or unknown."""
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                continue
    return ZoneInfo("UTC")


def next_working_day(day: date) -> date:
    """`day` itself when it is Monday to Friday, else the Monday after."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def add_working_days(day: date, count: int) -> date:
    while count > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def local_at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """`day` at `at` in `tz`, as UTC (a wall-clock time skipped by a DST change moves forward)."""
    local = datetime.combine(day, at, tzinfo=tz)
    return local.astimezone(UTC)


def checkin_due(start: datetime, days: int, tz: ZoneInfo) -> datetime:
    """10:00 in the owner's zone on the first working day at least `days` days after `start`."""
    day = next_working_day(start.astimezone(tz).date() + timedelta(days=days))
    return local_at(day, CHECKIN_HOUR, tz)


def working_days_later(when: datetime, count: int, tz: ZoneInfo) -> datetime:
    """The same local time-of-day, `count` working days later."""
    local = when.astimezone(tz)
    return local_at(add_working_days(local.date(), count), local.time().replace(tzinfo=None), tz)


_DIGEST_AT = re.compile(r"^\s*(mon|tue|wed|thu|fri|sat|sun)[a-z]*\s+(\d{1,2}):(\d{2})\s*$", re.IGNORECASE)


def weekly(text: str) -> str:
    """'Friday  16:00' -> 'fri 16:00': the one spelling a weekly slot is stored in (ValueError when it is none)."""
    weekday, at = parse_weekly(text)
    return f"{WEEKDAYS[weekday]} {at:%H:%M}"


def parse_weekly(text: str) -> tuple[int, time]:
    """'fri 16:00' -> (4, 16:00). Raises ValueError with a readable message."""
    match = _DIGEST_AT.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a weekday and time like 'fri 16:00'")
    hour, minute = int(match.group(2)), int(match.group(3))
    if hour > 23 or minute > 59:
        raise ValueError(f"{text!r} has no such time of day")
    return WEEKDAYS.index(match.group(1).lower()[:3]), time(hour, minute)


def last_weekly_slot(now: datetime, weekday: int, at: time, tz: ZoneInfo) -> datetime:
    """The most recent weekly slot (weekday at `at`, local) at or before `now`, as UTC."""
    local_now = now.astimezone(tz)
    day = local_now.date() - timedelta(days=(local_now.weekday() - weekday) % 7)
    slot = local_at(day, at, tz)
    if slot > now:
        slot = local_at(day - timedelta(days=7), at, tz)
    return slot


def iso_week(when: datetime, tz: ZoneInfo) -> str:
    year, week, _ = when.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"
