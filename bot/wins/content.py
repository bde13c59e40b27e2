"""What a weekly announcement is made of: its wins, the totals and the chart's series (plain data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.models import Improvement


@dataclass(frozen=True)
class Win:
    improvement: Improvement
    implemented: bool  # marked implemented (or fixed again after slipping) in the window
    sustained: bool  # held through every check-in in the window: its approved figure is confirmed
    fixed_again: bool = False  # implemented again after it slipped (not after a mere close and reopen)


@dataclass(frozen=True)
class Totals:
    """How many fixes and the figure they add up to: approved estimates, or confirmed figures."""

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
    week_implemented: Totals  # approved estimates of the fixes implemented in the window
    week_confirmed: Totals  # confirmed figures of the fixes that held through every check-in in the window
    year_implemented: Totals
    year_confirmed: Totals
    waiting: list[Waiting]  # the stages with anything waiting, in STAGES order
    chart: list[tuple[str, float]]  # (week label, hours given back per week by the fixes live then)
    until: datetime  # when the note is written (how long things have waited)

    @property
    def implemented(self) -> list[Win]:
        return [w for w in self.wins if w.implemented]

    @property
    def sustained(self) -> list[Win]:
        return [w for w in self.wins if w.sustained]
