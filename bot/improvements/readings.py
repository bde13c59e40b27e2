"""What a fix's history is made of: every reading of its metric, and every cycle it was live (from marked
implemented until it slipped or was closed). Written in the transaction of the change that makes them."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from bot.improvements.records import id_of
from storage.models import FixCycle, Improvement, Reading


def record(
    session: Session,
    improvement: Improvement,
    value: float,
    source: str,
    now: datetime,
    *,
    checkin_id: int | None = None,
) -> Reading:
    """A new reading: kept in the history, and the fix's latest."""
    reading = Reading(workspace_id=improvement.workspace_id, improvement_id=id_of(improvement), cycle=improvement.cycle,
                      source=source, checkin_id=checkin_id, value=value, at=now)  # fmt: skip
    session.add(reading)
    improvement.metric_now_value = value
    improvement.metric_now = None
    session.add(improvement)
    return reading


def went_live(session: Session, improvement: Improvement, now: datetime) -> None:
    session.add(FixCycle(workspace_id=improvement.workspace_id, improvement_id=id_of(improvement),
                         cycle=improvement.cycle, implemented_at=now))  # fmt: skip


def ended(session: Session, improvement: Improvement, because: str, now: datetime) -> None:
    """The live cycle is over: the fix slipped, or it was closed while live."""
    for cycle in session.exec(
        select(FixCycle).where(FixCycle.improvement_id == improvement.id, col(FixCycle.ended_at).is_(None))
    ).all():
        cycle.ended_at = now
        cycle.ended_because = because
        session.add(cycle)


def of_cycle(session: Session, improvement: Improvement) -> list[Reading]:
    """The current cycle's readings with a number, oldest first."""
    return list(
        session.exec(
            select(Reading)
            .where(
                Reading.improvement_id == improvement.id,
                Reading.cycle == improvement.cycle,
                col(Reading.value).is_not(None),
            )
            .order_by(col(Reading.at), col(Reading.id))
        ).all()
    )
