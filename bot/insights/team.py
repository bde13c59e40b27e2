"""The team's figures on every home view: how many improvements stand at each stage, what the fixes approved and
confirmed this quarter give back, and the data of the team charts (a Pareto of open problems' estimated hours by
process area, cycle times, participation, sustain rate). A few indexed aggregate queries; the same for everyone."""

from __future__ import annotations

import hashlib
import json
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.core.calendar import iso_week, zone
from bot.core.domain import WEEKS_PER_YEAR, Status
from storage.models import Checkin, Improvement

OPEN = (Status.INVESTIGATING, Status.ROOT_CAUSE_FOUND, Status.AWAITING_APPROVAL, Status.QUESTION_ASKED,
        Status.APPROVED)  # fmt: skip
STAGES = (*OPEN, Status.IMPLEMENTED, Status.SUSTAINED)  # the stages counted (declined and closed are not)
CYCLE_DAYS = 90  # cycle times and the sustain rate look this far back
PARETO_AREAS = 8  # the areas drawn; the rest are summed as "other"
CHART = "team"


@dataclass(frozen=True)
class Quarter:
    label: str  # "Q4 2026"
    start: datetime  # UTC, the first moment of the quarter in the workspace's zone


@dataclass(frozen=True)
class Gained:
    """Fixes of the quarter and the hours per year they give back (their approved figures)."""

    fixes: int = 0
    hours_per_year: float = 0.0


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


def team_figures(session: Session, workspace_id: int, now: datetime, tz: str) -> TeamFigures:
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
        approved=_gained(session, mine, col(Improvement.approved_at), quarter.start, now, None),
        confirmed=_gained(session, mine, col(Improvement.sustained_at), quarter.start, now, Status.SUSTAINED),
        pareto=_pareto(session, mine),
        **_cycle_times(session, mine, now),
        **_participation(session, mine, quarter, now, tz),
        **_sustain(session, workspace_id, now),
    )


def _gained(session: Session, mine: Any, when: Any, start: datetime, now: datetime, status: Status | None) -> Gained:
    """The fixes approved (or confirmed) this quarter and still standing (not declined or closed)."""
    statuses = (Status.SUSTAINED,) if status else (Status.APPROVED, Status.IMPLEMENTED, Status.SUSTAINED)
    fixes, hours = session.exec(
        select(func.count(), func.coalesce(func.sum(col(Improvement.approved_hours_per_year)), 0)).where(
            mine, when >= start, when <= now, col(Improvement.status).in_([s.value for s in statuses])
        )
    ).one()
    return Gained(int(fixes), float(hours or 0))


def _pareto(session: Session, mine: Any) -> list[tuple[str, float]]:
    hours = func.sum(col(Improvement.hours_per_week) * col(Improvement.people)) * WEEKS_PER_YEAR
    rows = session.exec(
        select(Improvement.area, hours)
        .where(mine, col(Improvement.status).in_([s.value for s in OPEN]))
        .group_by(col(Improvement.area))
    ).all()
    ranked = sorted(((area, float(total or 0)) for area, total in rows if total), key=lambda r: (-r[1], r[0]))
    if len(ranked) > PARETO_AREAS:
        ranked = [*ranked[: PARETO_AREAS - 1], ("other", sum(v for _, v in ranked[PARETO_AREAS - 1 :]))]
    return ranked


def _days(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds() / 86400)


def _cycle_times(session: Session, mine: Any, now: datetime) -> dict[str, Any]:
    since = now - timedelta(days=CYCLE_DAYS)
    approvals = session.exec(
        select(Improvement.created_at, Improvement.approved_at).where(
            mine, col(Improvement.approved_at) >= since, col(Improvement.approved_at) <= now
        )
    ).all()
    fixes = session.exec(
        select(Improvement.approved_at, Improvement.implemented_at).where(
            mine,
            col(Improvement.implemented_at) >= since,
            col(Improvement.implemented_at) <= now,
            col(Improvement.approved_at).is_not(None),
        )
    ).all()
    to_approval = [_days(created, approved) for created, approved in approvals if approved]
    to_implemented = [_days(approved, done) for approved, done in fixes if approved and done]
    return {
        "to_approval": statistics.median(to_approval) if to_approval else None,
        "to_implemented": statistics.median(to_implemented) if to_implemented else None,
        "cycle_fixes": len(to_implemented),
    }


def _participation(session: Session, mine: Any, quarter: Quarter, now: datetime, tz: str) -> dict[str, Any]:
    """Distinct reporters this quarter, and per ISO week of it (counts only: nobody is named)."""
    rows = session.exec(
        select(Improvement.reporter_id, Improvement.created_at).where(
            mine, col(Improvement.created_at) >= quarter.start, col(Improvement.created_at) <= now
        )
    ).all()
    local = zone(tz)
    weeks: dict[str, set[str]] = {}
    week = quarter.start
    while week <= now:  # every week of the quarter so far, the quiet ones too
        weeks.setdefault(iso_week(week, local), set())
        week += timedelta(weeks=1)
    weeks.setdefault(iso_week(now, local), set())
    for reporter, created in rows:
        weeks.setdefault(iso_week(created, local), set()).add(reporter)
    return {
        "reporters": len({reporter for reporter, _ in rows}),
        "reporters_by_week": [(label[-3:], len(people)) for label, people in sorted(weeks.items())],
    }


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
        "reporters": figures.reporters,
        "reporters_by_week": [[week, people] for week, people in figures.reporters_by_week],
        "sustain": [figures.holding, figures.checked],
    }


def _rounded(days: float | None) -> float | None:
    return round(days, 1) if days is not None else None


def digest_of(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
