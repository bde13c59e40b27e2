"""What a weekly announcement is made of: its wins, the totals and the chart's series (plain data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
class Waiting:
    """One stage of what waits for someone to act: the longest waiting few (oldest first) and how many in all."""

    stage: str  # one of STAGES
    items: list[Improvement]
    total: int


# what the weekly note lists as waiting, in this order: the improvement's statuses at each stage (a stalled 5 Whys
# and an unverified fix are their own stages: bot.wins.digest tells them by their flags)
STAGES: dict[str, tuple[str, ...]] = {
    "approval": ("awaiting_approval",),
    "question": ("question_asked",),
    "in_progress": ("approved",),
    "stalled": ("investigating",),
    "unverified": ("implemented",),
    "whys": ("investigating",),
    "proposal": ("root_cause_found", "declined"),
}


@dataclass(frozen=True)
class DigestContent:
    week: str
    wins: list[Win]
    week_totals: Totals
    year_totals: Totals
    waiting: list[Waiting]  # the stages with anything waiting, in STAGES order
    chart: list[tuple[str, float]]  # (week label, hours given back per week)
    until: datetime  # when the note is written (how long things have waited)


def hours_per_year(improvement: Improvement) -> float:
    return (improvement.hours_per_week or 0) * (improvement.people or 0) * WEEKS_PER_YEAR
