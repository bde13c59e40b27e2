"""What a weekly announcement is made of: its wins, the totals and the chart's series (plain data)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.domain import WEEKS_PER_YEAR
from storage.models import Improvement


@dataclass(frozen=True)
class Win:
    improvement: Improvement
    sustained: bool  # this week's news is that it held through every check-in


@dataclass(frozen=True)
class Totals:
    wins: int
    hours_per_year: float
    money_per_year: float


@dataclass(frozen=True)
class DigestContent:
    week: str
    wins: list[Win]
    week_totals: Totals
    year_totals: Totals
    in_progress: list[Improvement]
    chart: list[tuple[str, float]]  # (week label, hours given back per week)


def hours_per_year(improvement: Improvement) -> float:
    return (improvement.hours_per_week or 0) * (improvement.people or 0) * WEEKS_PER_YEAR
