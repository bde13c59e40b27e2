"""A fix's check-in cycle, as the check-ins and the control chart's signals share it: loading a check-in to
answer it, whether every check-in of the cycle held, and a fix slipping back to in progress."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from bot.core.domain import Status
from bot.core.outcomes import Refused
from bot.core.workspace import WorkspaceRef
from bot.delivery.outbox import Outbox
from bot.improvements import readings
from bot.improvements.closing import count_reopening
from bot.improvements.records import owner_key
from bot.sustain import views as checkin_views
from storage import queries
from storage.models import Checkin, Improvement


def cancel_open(session: Session, improvement_id: int) -> None:
    for checkin in session.exec(
        select(Checkin).where(
            Checkin.improvement_id == improvement_id, col(Checkin.status).in_(("scheduled", "sent", "missed"))
        )
    ).all():
        checkin.status = "cancelled"
        session.add(checkin)


def load(session: Session, ws: WorkspaceRef, checkin_id: int) -> tuple[Checkin, Improvement]:
    """The check-in and its improvement, both locked for the change."""
    checkin = session.exec(
        select(Checkin).where(Checkin.id == checkin_id, Checkin.workspace_id == ws.id).with_for_update()
    ).first()
    improvement = queries.improvement_in(session, ws.id, checkin.improvement_id, for_update=True) if checkin else None
    if checkin is None or improvement is None:
        raise Refused("I can't find that check-in in this workspace.")
    return checkin, improvement


def all_held(session: Session, improvement: Improvement) -> bool:
    """Every check-in of the cycle answered "still holding" (a missed one a later answer verified aside), and no
    reading of theirs is still asking "is it slipping?"."""
    cycle = session.exec(
        select(Checkin)
        .where(
            Checkin.improvement_id == improvement.id,
            Checkin.cycle == improvement.cycle,
            col(Checkin.status).notin_(("cancelled", "missed")),
        )
        .order_by(col(Checkin.due_at))
    ).all()
    return bool(cycle) and all(c.status == "answered" and c.answer == "holding" and c.signal != ASKED for c in cycle)


ASKED = "asked"  # Checkin.signal: its reading signalled, and the owner was asked "is it slipping?"


def sustain_if_held(session: Session, improvement: Improvement, outbox: Outbox, now: datetime) -> None:
    if all_held(session, improvement):
        improvement.status = Status.SUSTAINED.value
        improvement.sustained_at = now
        outbox.reply(improvement, checkin_views.sustained(improvement))


def settle(
    session: Session,
    ws: WorkspaceRef,
    improvement: Improvement,
    checkin: Checkin,
    outbox: Outbox,
    now: datetime,
    *,
    slipping: bool,
) -> None:
    """After an answer about a check-in: slipping goes back to in progress, else the fix is sustained once every
    check-in of its cycle held; the card follows."""
    if slipping:
        reopen(session, ws, improvement, checkin, outbox, now)
    else:
        sustain_if_held(session, improvement, outbox, now)
    improvement.updated_at = now
    session.add(improvement)
    outbox.refresh_card(improvement)


def reopen(
    session: Session, ws: WorkspaceRef, improvement: Improvement, checkin: Checkin, outbox: Outbox, now: datetime
) -> None:
    """Slipping: back to in progress (the owner fixes it again), the other check-ins of this cycle are off, the
    live cycle ends."""
    cancel_open(session, improvement.id or 0)
    readings.ended(session, improvement, "slipped", now)
    improvement.status = Status.APPROVED.value
    improvement.sustained_at = None
    improvement.cycle += 1
    outbox.reply(
        improvement, checkin_views.reopened(improvement, checkin, ws.settings.approvers), key=owner_key(improvement)
    )
    count_reopening(session, improvement, outbox)
