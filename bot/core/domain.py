"""The improvement lifecycle's vocabulary and its arithmetic. Pure: no I/O, no platform."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

WEEKS_PER_YEAR = 52
MAX_WHYS = 5


class Status(StrEnum):
    INVESTIGATING = "investigating"  # the 5 Whys are running in the thread
    ROOT_CAUSE_FOUND = "root_cause_found"  # ready for a proposed fix
    AWAITING_APPROVAL = "awaiting_approval"
    QUESTION_ASKED = "question_asked"  # an approver asked; the reporter answers and resubmits
    APPROVED = "approved"  # the owner is carrying it out
    DECLINED = "declined"
    IMPLEMENTED = "implemented"  # sustain check-ins start here
    SUSTAINED = "sustained"  # every check-in said it still holds
    CLOSED = "closed"  # withdrawn, won't fix, or a duplicate: out of every list (an approver can reopen it)

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]

    @property
    def emoji(self) -> str:
        return _STATUS_EMOJI[self]


_STATUS_LABELS = {
    Status.INVESTIGATING: "Finding the root cause",
    Status.ROOT_CAUSE_FOUND: "Root cause found",
    Status.AWAITING_APPROVAL: "Awaiting approval",
    Status.QUESTION_ASKED: "Question asked",
    Status.APPROVED: "Approved, in progress",
    Status.DECLINED: "Declined",
    Status.IMPLEMENTED: "Implemented",
    Status.SUSTAINED: "Sustained",
    Status.CLOSED: "Closed",
}
_STATUS_EMOJI = {
    Status.INVESTIGATING: "🔎",
    Status.ROOT_CAUSE_FOUND: "🎯",
    Status.AWAITING_APPROVAL: "⏳",
    Status.QUESTION_ASKED: "❓",
    Status.APPROVED: "🛠️",
    Status.DECLINED: "🚫",
    Status.IMPLEMENTED: "✅",
    Status.SUSTAINED: "🏁",
    Status.CLOSED: "🗂️",
}
# the problem is still open: from the report until its fix is implemented (not declined, closed or finished)
OPEN_STATUSES = (Status.INVESTIGATING, Status.ROOT_CAUSE_FOUND, Status.AWAITING_APPROVAL, Status.QUESTION_ASKED,
                 Status.APPROVED)  # fmt: skip


class CloseReason(StrEnum):
    WITHDRAWN = "withdrawn"  # the reporter takes it back
    WONT_FIX = "wont_fix"  # an approver decides it will not be fixed (with a reason)
    DUPLICATE = "duplicate"  # the same problem as another open improvement

    @property
    def label(self) -> str:
        return {"withdrawn": "Withdrawn", "wont_fix": "Won't fix", "duplicate": "Duplicate"}[self.value]


class Frequency(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    RARELY = "rarely"

    @property
    def label(self) -> str:
        return {"daily": "Daily", "weekly": "Weekly", "monthly": "Monthly", "rarely": "Rarely"}[self.value]


@dataclass(frozen=True)
class Impact:
    """Back-of-the-envelope case: hours lost per week per person x people x 52 weeks x loaded hourly rate."""

    hours_per_week: float | None
    people: int | None
    hourly_rate: float
    frequency: Frequency
    customers_notice: bool

    @property
    def estimated(self) -> bool:
        return self.hours_per_week is not None and self.people is not None

    @property
    def hours_per_year(self) -> float:
        if self.hours_per_week is None or self.people is None:
            return 0.0
        return self.hours_per_week * self.people * WEEKS_PER_YEAR

    @property
    def money_per_year(self) -> float:
        return self.hours_per_year * self.hourly_rate

    @property
    def aggravation(self) -> int:
        """1-5: how often it bites, plus one when customers notice it."""
        base = {Frequency.DAILY: 4, Frequency.WEEKLY: 3, Frequency.MONTHLY: 2, Frequency.RARELY: 1}[self.frequency]
        return min(5, base + (1 if self.customers_notice else 0))


def format_number(value: float) -> str:
    """624 -> '624', 1.5 -> '1.5', 31200 -> '31,200', 2.25 -> '2.3' (one decimal at most)."""
    rounded = round(value, 1)
    if rounded == int(rounded):
        return f"{int(rounded):,}"
    return f"{rounded:,.1f}"


def format_money(value: float, currency: str) -> str:
    return f"{currency}{round(value):,}"


def impact_line(impact: Impact, currency: str) -> str:
    """'≈ 3 h/week × 4 people ≈ 624 h/year ≈ $31,200/year at $50/h'."""
    if impact.hours_per_week is None or impact.people is None:
        return "Impact not estimated yet: Edit report to add hours lost per week and people affected and make the case"
    people = "person" if impact.people == 1 else "people"
    return (
        f"≈ {format_number(impact.hours_per_week)} h/week × {impact.people:,} {people}"
        f" ≈ {format_number(impact.hours_per_year)} h/year"
        f" ≈ {format_money(impact.money_per_year, currency)}/year"
        f" at {currency}{format_number(impact.hourly_rate)}/h"
    )
