"""the savings ledger (the case locked at approval), the metric as numbers, every reading, every live cycle;
files waiting to be downloaded (exports on Teams)

Free-text baselines, targets and readings become numbers where they parse ("40/week", "10%", "under 5/week",
"1,200 leads"); their text stays beside (a downgrade loses nothing) and is what is shown where they do not
parse ("about half"). Approved fixes get their approved case
locked at the workspace's hourly rate of the day of this upgrade (the rate of their approval day was never
recorded). Each fix that went live gets a cycle row; a cycle that slipped before this upgrade is dated from its
check-ins (they were scheduled from the day it was marked implemented).

The parser below is frozen here on purpose: this migration must read old rows the same way whatever the code
becomes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 01:00:00.000000
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import op
import sqlalchemy as sa

from storage.models import UTCDateTime  # timestamps written as the ORM writes them (SQLite compares them as text)


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_AMOUNT = re.compile(
    r"\s*(?P<q>under|below|less than|fewer than|at most|max|over|above|more than|at least|min|about|around|approx\.?"
    r"|<=|>=|<|>|≤|≥|~|≈)?\s*(?P<n>[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)\s*(?P<u>[^\d]{0,40}?)\s*",
    re.IGNORECASE,
)
_LOWER = {"under", "below", "less than", "fewer than", "at most", "max", "<", "<=", "≤"}
_HIGHER = {"over", "above", "more than", "at least", "min", ">", ">=", "≥"}


def _parse(text: str | None) -> tuple[float, str, str | None] | None:
    """(number, unit, direction the words imply) of '40/week', 'under 5/week', '10 %'; None when it is not one."""
    match = _AMOUNT.fullmatch(text or "")
    if match is None:
        return None
    qualifier = (match["q"] or "").lower()
    direction = "lower" if qualifier in _LOWER else "higher" if qualifier in _HIGHER else None
    return float(match["n"].replace(",", "")), match["u"].strip(), direction


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def upgrade() -> None:
    with op.batch_alter_table("improvement") as batch_op:
        batch_op.add_column(sa.Column("metric_unit", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("metric_direction", sa.String(length=6), nullable=True))
        batch_op.add_column(sa.Column("baseline_value", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("target_value", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("approved_hours_per_year", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("approved_hourly_rate", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("approved_currency", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("metric_now_value", sa.Float(), nullable=True))
    with op.batch_alter_table("checkin") as batch_op:
        batch_op.add_column(sa.Column("signal", sa.String(length=10), nullable=True))
    op.create_table(
        "reading",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspace.id"), nullable=False),
        sa.Column("improvement_id", sa.Integer(), sa.ForeignKey("improvement.id"), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("checkin_id", sa.Integer(), sa.ForeignKey("checkin.id"), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("text", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_reading_workspace_id", "reading", ["workspace_id"])
    op.create_index("ix_reading_improvement_at", "reading", ["improvement_id", "at"])
    op.create_table(
        "fix_cycle",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspace.id"), nullable=False),
        sa.Column("improvement_id", sa.Integer(), sa.ForeignKey("improvement.id"), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("implemented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_because", sa.String(length=10), nullable=True),
        sa.UniqueConstraint("improvement_id", "cycle", name="uq_fix_cycle"),
    )
    op.create_index("ix_fix_cycle_improvement_id", "fix_cycle", ["improvement_id"])
    op.create_index("ix_fix_cycle_workspace_live", "fix_cycle", ["workspace_id", "implemented_at"])
    op.create_table(
        "download",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token", sa.String(length=64), nullable=False, unique=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspace.id"), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    _numbers()


_IMPROVEMENT = sa.table(
    "improvement",
    *(sa.column(name) for name in (
        "id", "workspace_id", "status", "cycle", "hours_per_week", "people", "approved_by", "updated_at",
        "baseline", "target", "metric_now", "implemented_at", "metric_unit", "metric_direction", "baseline_value",
        "target_value", "approved_hours_per_year", "approved_hourly_rate", "approved_currency",
        "metric_now_value", "reopen_status", "closed_at",
    )),
    sa.column("approved_at", UTCDateTime()),
)  # fmt: skip
_CHECKIN = sa.table(
    "checkin",
    *(
        sa.column(n)
        for n in ("id", "improvement_id", "cycle", "status", "answer", "reading", "answered_at", "due_at", "after_days")
    ),
)
_READING = sa.table(
    "reading",
    *(sa.column(n) for n in ("workspace_id", "improvement_id", "cycle", "source", "checkin_id", "value", "text")),
    sa.column("at", UTCDateTime()),
)
_CYCLE = sa.table(
    "fix_cycle",
    *(sa.column(n) for n in ("workspace_id", "improvement_id", "cycle", "ended_because")),
    sa.column("implemented_at", UTCDateTime()),
    sa.column("ended_at", UTCDateTime()),
)


def _numbers() -> None:
    bind = op.get_bind()
    rates = {
        row.id: json.loads(row.settings) if isinstance(row.settings, str) else (row.settings or {})
        for row in bind.execute(sa.text("SELECT id, settings FROM workspace"))
    }
    approvals = dict(
        bind.execute(
            sa.text(
                "SELECT improvement_id, MIN(created_at) FROM decision WHERE kind = 'approved' GROUP BY improvement_id"
            )
        ).all()
    )
    checkins: dict[int, list[Any]] = {}
    for row in bind.execute(sa.select(_CHECKIN).order_by(_CHECKIN.c.due_at)):
        checkins.setdefault(row.improvement_id, []).append(row)
    for imp in bind.execute(sa.select(_IMPROVEMENT)).all():
        changes: dict[str, Any] = {}
        baseline, target = _parse(imp.baseline), _parse(imp.target)
        if baseline:
            changes.update(baseline_value=baseline[0], metric_unit=baseline[1] or None)
        if target:
            changes["target_value"] = target[0]
            changes["metric_unit"] = changes.get("metric_unit") or target[1] or None
        direction = (target and target[2]) or None
        if direction is None and baseline and target and baseline[0] != target[0]:
            direction = "lower" if target[0] < baseline[0] else "higher"
        if direction:
            changes["metric_direction"] = direction
        now = _parse(imp.metric_now)
        if now:
            changes["metric_now_value"] = now[0]
        settings = rates.get(imp.workspace_id, {})
        # approved once (a decision says so), whatever it became since: an edit waiting, closed, reopened
        estimated = imp.hours_per_week is not None and imp.people is not None
        if imp.id in approvals and estimated:
            changes.update(
                approved_hours_per_year=float(imp.hours_per_week or 0) * float(imp.people or 0) * 52,
                approved_hourly_rate=float(settings.get("hourly_rate", 50.0)),
                approved_currency=str(settings.get("currency", "$"))[:8],
                approved_at=_aware(approvals[imp.id]),
            )
        if changes:
            bind.execute(_IMPROVEMENT.update().where(_IMPROVEMENT.c.id == imp.id).values(**changes))
        _history(bind, imp, checkins.get(imp.id, []), now)


def _history(bind: Any, imp: Any, checkins: list[Any], now: tuple[float, str, str | None] | None) -> None:
    """The cycles a fix was live, and its readings, from its check-ins and its latest implemented reading."""
    if imp.implemented_at is None:
        return
    live = ("implemented", "sustained")
    closed_live = imp.status == "closed" and imp.reopen_status in live  # closed while live: its cycle ended then
    live_cycle = imp.cycle if imp.status in live or closed_live else imp.cycle - 1
    cycles: dict[int, dict[str, Any]] = {}
    for checkin in checkins:
        started = _aware(checkin.due_at) - timedelta(days=checkin.after_days)  # scheduled from implemented
        cycle = cycles.setdefault(checkin.cycle, {"implemented_at": started, "ended_at": None, "ended_because": None})
        cycle["implemented_at"] = min(cycle["implemented_at"], started)
        if checkin.answer == "slipping":
            cycle.update(ended_at=_aware(checkin.answered_at), ended_because="slipped")
    if live_cycle >= 0:
        last = cycles.setdefault(live_cycle, {"ended_at": None, "ended_because": None})
        last["implemented_at"] = _aware(imp.implemented_at)
        if closed_live:
            last.update(ended_at=_aware(imp.closed_at), ended_because="closed")
    numbers = sorted(cycles)
    for n, number in enumerate(numbers):  # only the fix live now is still live: every other cycle ended
        cycle = cycles[number]
        if cycle["ended_at"] is not None or (number == live_cycle and imp.status in live):
            continue
        later = cycles[numbers[n + 1]]["implemented_at"] if n + 1 < len(numbers) else None
        ended = later or _aware(imp.closed_at) or _aware(imp.updated_at)
        cycle.update(ended_at=ended, ended_because="closed" if imp.closed_at and not later else "reopened")
    for number, cycle in sorted(cycles.items()):
        bind.execute(_CYCLE.insert().values(workspace_id=imp.workspace_id, improvement_id=imp.id, cycle=number,
                                            **cycle))  # fmt: skip
    read = [c for c in checkins if c.status == "answered" and c.reading]
    live_read = any(c.cycle == live_cycle for c in read)
    for checkin in read:
        parsed = _parse(checkin.reading)
        bind.execute(_READING.insert().values(
            workspace_id=imp.workspace_id, improvement_id=imp.id, cycle=checkin.cycle, source="checkin",
            checkin_id=checkin.id, value=parsed[0] if parsed else None, text=None if parsed else checkin.reading,
            at=_aware(checkin.answered_at),
        ))  # fmt: skip
    if not live_read and imp.metric_now and live_cycle >= 0:
        bind.execute(_READING.insert().values(
            workspace_id=imp.workspace_id, improvement_id=imp.id, cycle=live_cycle, source="implemented",
            checkin_id=None, value=now[0] if now else None, text=None if now else imp.metric_now,
            at=_aware(imp.implemented_at),
        ))  # fmt: skip


def _numbers_back_to_text() -> None:
    """A number typed since the upgrade has no text beside it: it becomes the text, so a downgrade keeps it."""
    bind = op.get_bind()
    pairs = (("baseline", "baseline_value"), ("target", "target_value"), ("metric_now", "metric_now_value"))
    for row in bind.execute(sa.select(_IMPROVEMENT)).all():
        unit = row.metric_unit or ""
        suffix = unit if unit[:1] in ("%", "/") else (f" {unit}" if unit else "")
        back = {text: f"{getattr(row, value):g}{suffix}"[:200] for text, value in pairs
                if getattr(row, text) is None and getattr(row, value) is not None}  # fmt: skip
        if back:
            bind.execute(_IMPROVEMENT.update().where(_IMPROVEMENT.c.id == row.id).values(**back))


def downgrade() -> None:
    _numbers_back_to_text()
    op.drop_table("download")
    op.drop_index("ix_fix_cycle_workspace_live", table_name="fix_cycle")
    op.drop_index("ix_fix_cycle_improvement_id", table_name="fix_cycle")
    op.drop_table("fix_cycle")
    op.drop_index("ix_reading_improvement_at", table_name="reading")
    op.drop_index("ix_reading_workspace_id", table_name="reading")
    op.drop_table("reading")
    with op.batch_alter_table("checkin") as batch_op:
        batch_op.drop_column("signal")
    with op.batch_alter_table("improvement") as batch_op:
        for name in (
            "metric_now_value",
            "approved_at",
            "approved_currency",
            "approved_hourly_rate",
            "approved_hours_per_year",
            "target_value",
            "baseline_value",
            "metric_direction",
            "metric_unit",
        ):
            batch_op.drop_column(name)  # fmt: skip
