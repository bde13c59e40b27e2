"""The savings ledger and the metric of one improvement, read off its row.

Three figures, each labelled wherever it is shown: *estimated* (the reporter's case, hours/week × people, at
today's rate; its hours are locked once approved), *approved* (the case as it was approved, with that day's rate:
nothing later rewrites it), *confirmed* (the approved figure, once the fix held through its last check-in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.core.domain import Frequency, Impact, Status, format_money, format_number, impact_line
from bot.core.metrics import Direction, Metric
from bot.core.workspace import WorkspaceSettings
from storage.models import Improvement


def impact_of(improvement: Improvement, settings: WorkspaceSettings) -> Impact:
    """The estimate: the report's hours and people at today's rate."""
    return Impact(
        hours_per_week=improvement.hours_per_week,
        people=improvement.people,
        hourly_rate=settings.hourly_rate,
        frequency=Frequency(improvement.frequency),
        customers_notice=improvement.customers_notice,
    )


@dataclass(frozen=True)
class Figure:
    hours_per_year: float
    rate: float
    currency: str

    @property
    def money_per_year(self) -> float:
        return self.hours_per_year * self.rate

    def text(self, label: str) -> str:
        """'≈ 624 h/year ≈ $31,200/year (approved estimate)'."""
        money = format_money(self.money_per_year, self.currency)
        return f"≈ {format_number(self.hours_per_year)} h/year ≈ {money}/year ({label})"


@dataclass(frozen=True)
class Ledger:
    estimated: Figure | None  # None: hours and people were not given
    approved: Figure | None  # None: not approved yet
    approved_on: date | None
    confirmed: Figure | None  # None: not sustained (yet)


def ledger_of(improvement: Improvement, settings: WorkspaceSettings) -> Ledger:
    impact = impact_of(improvement, settings)
    estimated = Figure(impact.hours_per_year, settings.hourly_rate, settings.currency) if impact.estimated else None
    approved = None
    if improvement.approved_at is not None and improvement.approved_hours_per_year is not None:
        approved = Figure(
            improvement.approved_hours_per_year,
            improvement.approved_hourly_rate if improvement.approved_hourly_rate is not None else settings.hourly_rate,
            improvement.approved_currency or settings.currency,
        )
    held = improvement.status == Status.SUSTAINED.value and improvement.sustained_at is not None
    return Ledger(
        estimated=estimated,
        approved=approved,
        approved_on=improvement.approved_at.date() if improvement.approved_at else None,
        confirmed=approved if held else None,
    )


def lock_approved(improvement: Improvement, settings: WorkspaceSettings, now: datetime) -> None:
    """The case as approved, once: a fix approved again (its fix edited) keeps the case of its first approval. A
    case without hours or people is not locked (it can still be estimated); it is locked, at that day's rate, when
    the fix is marked implemented (the safety net: nothing implemented goes unlocked once it has an estimate)."""
    impact = impact_of(improvement, settings)
    if improvement.approved_at is not None or not impact.estimated:
        return
    improvement.approved_hours_per_year = impact.hours_per_year
    improvement.approved_hourly_rate = settings.hourly_rate
    improvement.approved_currency = settings.currency
    improvement.approved_at = now


def estimate_locked(improvement: Improvement) -> bool:
    """The estimate's hours and people can no longer change: the case was approved."""
    return improvement.approved_at is not None


def ledger_lines(ledger: Ledger, improvement: Improvement, settings: WorkspaceSettings) -> list[tuple[str, str]]:
    """(label, text) per figure there is, as the card and the lists show them."""
    impact = impact_of(improvement, settings)
    lines = [("Estimated" if impact.estimated else "The case", impact_line(impact, settings.currency))]
    if ledger.approved is not None:
        on = f"{ledger.approved_on:%d %b %Y}" if ledger.approved_on else "approval"
        rate = f"{ledger.approved.currency}{format_number(ledger.approved.rate)}/h"
        lines.append(("Approved", ledger.approved.text(f"locked {on} at {rate}")))
    if ledger.confirmed is not None:
        lines.append(("Confirmed", ledger.confirmed.text("held through every check-in")))
    return lines


def metric_of(improvement: Improvement) -> Metric:
    return Metric(
        unit=improvement.metric_unit or "",
        direction=Direction(improvement.metric_direction) if improvement.metric_direction else None,
        baseline=improvement.baseline_value,
        target=improvement.target_value,
        baseline_text=None if improvement.baseline_value is not None else improvement.baseline,
        target_text=None if improvement.target_value is not None else improvement.target,
    )


def latest_text(improvement: Improvement) -> str | None:
    """An old reading that did not parse as a number, shown where there is no number."""
    return None if improvement.metric_now_value is not None else improvement.metric_now


def baseline_to_target(metric: Metric) -> str:
    """'40/week → 5/week (lower is better)'."""
    line = f"{metric.baseline_shown or 'not recorded'} → {metric.target_shown or 'not set'}"
    return f"{line} ({metric.direction.label})" if metric.direction else line
