"""The team's figures on every home view: how many improvements stand at each stage, what the fixes approved and
confirmed this quarter give back, and the data of the team charts (a Pareto of open problems' estimated hours by
process area, cycle times, participation, sustain rate). A few indexed aggregate queries; the same for everyone."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.core.calendar import iso_week, zone
from bot.core.domain import OPEN_STATUSES, WEEKS_PER_YEAR, Status
from storage.models import Checkin, Improvement

STAGES = (*OPEN_STATUSES, Status.IMPLEMENTED, Status.SUSTAINED)  # the stages counted (declined and closed are not)
CYCLE_DAYS = 90  # cycle times and the sustain rate look this far back
PARETO_AREAS = 8  # the areas drawn; the rest are summed as "other"
CHART = "team"
# the slow-moving 90-day figures, computed again at most every few minutes (bot.insights.home.TRENDS_FOR)
SMALLEST_GROUP = 3  # a count of people below this is not shown: it could single someone out (an anonymous reporter)
TRENDS = ("to_approval", "to_implemented", "cycle_fixes", "reporters_by_week", "holding", "checked")


@dataclass(frozen=True)
class Quarter:
    label: str  # "Q4 2026"
    start: datetime  # UTC, the first moment of the quarter in the workspace's zone


@dataclass(frozen=True)
class Gained:
    """Fixes of the quarter and the hours per year they give back (their approved figures)."""

    fixes: int = 0
    hours_per_year: float = 0.0
    unestimated: int = 0  # of the fixes, approved without an estimate (their case is locked when implemented)


@dataclass(frozen=True)
class TeamFigures:
    quarter: Quarter
    stages: dict[Status, int]
    approved: Gained  # approved this quarter (approved estimates)
    confirmed: Gained  # confirmed this quarter: held through every check-in
    pareto: list[tuple[str, float]]  # open problems' estimated hours per year by area, largest first
    to_approval: float | None  # median days report -> approved (approved in the last CYCLE_DAYS)
    to_implemented: float | None  # median days approved -> implemented (implemented in the last CYCLE_DAYS)
    cycle_fixes: int  # how many fixes the cycle times are the medians of
    reporters: int  # people who reported this quarter
    reporters_by_week: list[tuple[str, int]] = field(default_factory=list)
    holding: int = 0  # fixes checked in the last CYCLE_DAYS still holding at their last check-in
    checked: int = 0  # … of this many fixes checked

    @property
    def sustain_rate(self) -> float | None:
        return self.holding / self.checked if self.checked else None


def quarter_of(now: datetime, tz: str) -> Quarter:
    local = now.astimezone(zone(tz))
    first_month = 3 * ((local.month - 1) // 3) + 1
    start = local.replace(month=first_month, day=1, hour=0, minute=0, second=0, microsecond=0)
    return Quarter(label=f"Q{(first_month - 1) // 3 + 1} {local.year}", start=start.astimezone(now.tzinfo))


def team_figures(
    session: Session, workspace_id: int, now: datetime, tz: str, trends: TeamFigures | None = None
) -> TeamFigures:
    """`trends`: figures computed a little earlier whose 90-day trends (cycle times, reporters per week, sustain
    rate: TRENDS) are reused as they are; everything else is counted now."""
    quarter = quarter_of(now, tz)
    mine = col(Improvement.workspace_id) == workspace_id
    stages = dict.fromkeys(STAGES, 0)
    for status, count in session.exec(
        select(Improvement.status, func.count()).where(mine).group_by(col(Improvement.status))
    ).all():
        if status in stages:
            stages[Status(status)] = int(count)
    return TeamFigures(
        quarter=quarter,
        stages=stages,
        approved=_gained(session, mine, col(Improvement.first_approved_at), quarter.start, now, None),
        confirmed=_gained(session, mine, col(Improvement.sustained_at), quarter.start, now, Status.SUSTAINED),
        pareto=_pareto(session, mine),
        reporters=_reporters(session, mine, quarter.start, now + timedelta(microseconds=1)),
        **_trends(session, workspace_id, quarter, now, tz, trends),
    )


def _trends(
    session: Session, workspace_id: int, quarter: Quarter, now: datetime, tz: str, known: TeamFigures | None
) -> dict[str, Any]:
    if known is not None and known.quarter == quarter:
        return {name: getattr(known, name) for name in TRENDS}
    mine = col(Improvement.workspace_id) == workspace_id
    return {**_cycle_times(session, mine, now), **_participation(session, mine, quarter, now, tz),
            **_sustain(session, workspace_id, now)}  # fmt: skip


def _gained(session: Session, mine: Any, when: Any, start: datetime, now: datetime, status: Status | None) -> Gained:
    """The fixes approved (or confirmed) this quarter and still standing (not declined or closed)."""
    statuses = (Status.SUSTAINED,) if status else (Status.APPROVED, Status.IMPLEMENTED, Status.SUSTAINED)
    locked = col(Improvement.approved_hours_per_year)
    fixes, hours, estimated = session.exec(
        select(func.count(), func.coalesce(func.sum(locked), 0), func.count(locked)).where(
            mine, when >= start, when <= now, col(Improvement.status).in_([s.value for s in statuses])
        )
    ).one()
    return Gained(int(fixes), float(hours or 0), int(fixes) - int(estimated))


def _pareto(session: Session, mine: Any) -> list[tuple[str, float]]:
    hours = func.sum(col(Improvement.hours_per_week) * col(Improvement.people)) * WEEKS_PER_YEAR
    rows = session.exec(
        select(Improvement.area, hours)
        .where(mine, col(Improvement.status).in_([s.value for s in OPEN_STATUSES]))
        .group_by(col(Improvement.area))
    ).all()
    ranked = sorted(((area, float(total or 0)) for area, total in rows if total), key=lambda r: (-r[1], r[0]))
    if len(ranked) > PARETO_AREAS:
        ranked = [*ranked[: PARETO_AREAS - 1], ("other", sum(v for _, v in ranked[PARETO_AREAS - 1 :]))]
    return ranked


def _days_between(session: Session, start: Any, end: Any) -> Any:
    """The days from `start` to `end`, computed by the database (no row comes back to be parsed)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.julianday(end) - func.julianday(start)
    return func.extract("epoch", end - start) / 86400.0


def _median(session: Session, days: Any, *where: Any) -> tuple[float | None, int]:
    """The median of `days` over the rows `where` selects, and how many there are: the middle one or two rows of
    the sorted values, fetched alone."""
    count = int(session.exec(select(func.count()).where(*where)).one())
    if not count:
        return None, 0
    middle = session.exec(select(days).where(*where).order_by(days).offset((count - 1) // 2).limit(2 - count % 2))
    values = [float(value or 0) for value in middle.all()]
    return max(0.0, sum(values) / len(values)), count


def _cycle_times(session: Session, mine: Any, now: datetime) -> dict[str, Any]:
    since = now - timedelta(days=CYCLE_DAYS)
    created, approved, done = (
        col(Improvement.created_at),
        col(Improvement.first_approved_at),
        col(Improvement.implemented_at),
    )
    to_approval, _ = _median(session, _days_between(session, created, approved), mine, approved >= since,
                             approved <= now)  # fmt: skip
    to_implemented, fixes = _median(session, _days_between(session, approved, done), mine, done >= since,
                                    done <= now, approved.is_not(None))  # fmt: skip
    return {"to_approval": to_approval, "to_implemented": to_implemented, "cycle_fixes": fixes}


def _reporters(session: Session, mine: Any, start: datetime, end: datetime) -> int:
    """Distinct reporters between `start` and `end` (a count: nobody is named), an indexed range."""
    distinct = func.count(func.distinct(col(Improvement.reporter_id)))
    return int(session.exec(select(distinct).where(mine, col(Improvement.created_at) >= start,
                                                   col(Improvement.created_at) < end)).one())  # fmt: skip


def _participation(session: Session, mine: Any, quarter: Quarter, now: datetime, tz: str) -> dict[str, Any]:
    """Distinct reporters per week of the quarter, counted by the database week by week."""
    local = zone(tz)
    start = quarter.start.astimezone(local)
    monday = (start - timedelta(days=start.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    weeks = []
    while monday <= now:
        begin, end = max(monday, start), min(monday + timedelta(weeks=1), now + timedelta(microseconds=1))
        weeks.append((iso_week(monday, local)[-3:], _reporters(session, mine, begin, end)))
        monday += timedelta(days=7)  # local wall-clock days: midnight stays midnight across a clock change
    return {"reporters_by_week": weeks}


def _sustain(session: Session, workspace_id: int, now: datetime) -> dict[str, Any]:
    """Of the fixes with a check-in answered in the last CYCLE_DAYS, how many held at the last one."""
    rows = session.exec(
        select(Checkin.improvement_id, Checkin.answer, Checkin.answered_at, Checkin.id).where(
            Checkin.workspace_id == workspace_id,
            col(Checkin.answered_at) >= now - timedelta(days=CYCLE_DAYS),
            col(Checkin.answered_at) <= now,
            col(Checkin.answer).is_not(None),
        )
    ).all()
    last: dict[int, tuple[datetime, int, str]] = {}
    for improvement_id, answer, answered_at, checkin_id in rows:
        if answered_at is None or checkin_id is None:
            continue
        if improvement_id not in last or (answered_at, checkin_id) > last[improvement_id][:2]:
            last[improvement_id] = (answered_at, checkin_id, answer or "")
    return {"holding": sum(1 for *_, answer in last.values() if answer == "holding"), "checked": len(last)}


# -- the chart's data ------------------------------------------------------------------------------


def chart_payload(figures: TeamFigures) -> dict[str, Any]:
    """What the team chart shows, as JSON: drawn once per distinct payload (its digest)."""
    return {
        "chart": CHART,
        "quarter": figures.quarter.label,
        "pareto": [[area, round(hours)] for area, hours in figures.pareto],
        "cycle": [_rounded(figures.to_approval), _rounded(figures.to_implemented), figures.cycle_fixes],
        "reporters": shown_people(figures.reporters),
        "reporters_by_week": [[week, shown_people(people)] for week, people in figures.reporters_by_week],
        "sustain": [figures.holding, figures.checked],
    }


def shown_people(count: int) -> int | None:
    """A count of people as it may be shown: None for 1 or 2 ("fewer than 3"), which could single someone out."""
    return None if 0 < count < SMALLEST_GROUP else count


def people_text(count: int) -> str:
    shown = shown_people(count)
    return f"fewer than {SMALLEST_GROUP} people" if shown is None else f"{shown:,} people"  # 0, or 3 and more


def _rounded(days: float | None) -> float | None:
    return round(days, 1) if days is not None else None


def digest_of(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
