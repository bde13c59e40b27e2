"""Sustain check-ins: scheduled when a fix is implemented, sent as DMs by the tick, answered by the owner.

"Still holding" on every check-in makes the improvement sustained; "Slipping" reopens it for another cycle.
Unanswered after two working days: one nudge; two working days after that it is missed: closed (it can no longer
be answered), one line in the thread for the owner and the approvers, the fix unverified until the next check-in
is answered (a missed last check-in gets one more, a week later).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, exists, func, literal
from sqlmodel import Session, col, select

from bot.core.audit import audit
from bot.core.calendar import CHECKIN_HOUR, checkin_due, local_at, next_working_day, working_days_later, zone
from bot.core.clock import as_utc
from bot.core.domain import Status
from bot.core.messages import Form
from bot.core.metrics import format_value
from bot.core.outcomes import Actor, Refused
from bot.core.workspace import WorkspaceRef
from bot.delivery.outbox import Outbox
from bot.improvements import readings
from bot.improvements.approval import asked_in
from bot.improvements.card import owner_of
from bot.improvements.ledger import metric_of
from bot.sustain import cycle, forms, reminder_views
from bot.sustain import signals as signals_of
from bot.sustain import views as checkin_views
from storage.models import Checkin, Improvement, PostedMessage, Workspace

NUDGE_AFTER_WORKING_DAYS = 2
MISSED_AFTER_WORKING_DAYS = 2
NEVER_ARRIVED = timedelta(days=7)
BATCH = 500


def checkin_key(checkin: Checkin) -> str:
    """Where the check-in's DM is remembered; a snoozed check-in's next DM is a new message."""
    return f"checkin:{checkin.id}:{checkin.snoozes}"


def schedule(session: Session, ws: WorkspaceRef, improvement: Improvement, owner_tz: str | None, now: datetime) -> None:
    """Check-ins N days after `now` (IMPROVE_CHECKIN_DAYS), 10:00 in the owner's zone on a working day."""
    tz = zone(owner_tz, ws.settings.timezone)
    days = ws.settings.checkin_days
    for position, after in enumerate(days, 1):
        session.add(
            Checkin(
                workspace_id=ws.id,
                improvement_id=improvement.id or 0,
                owner_id=owner_of(improvement),
                cycle=improvement.cycle,
                position=position,
                of=len(days),
                after_days=after,
                tz=tz.key,
                status="scheduled",
                due_at=checkin_due(now, after, tz),
            )
        )


# -- the tick's part ---------------------------------------------------------------------------------


def _due(session: Session, platform: str, *conditions: Any) -> list[Checkin]:
    """A batch of the check-ins `conditions` pick, locked (SKIP LOCKED). With several workspaces' due, each
    workspace's first come before any workspace's second, and so on: each has one queued in the first batches and
    starts sending at once (a workspace's messages go out at its own pace, so one queued last would finish last).
    With one workspace's, oldest first (ranking 10,000 rows every batch cost its tick 1.5 s for nothing)."""
    order = (col(Checkin.due_at), col(Checkin.id))
    due = (
        select(Checkin)
        .join(Workspace, col(Workspace.id) == col(Checkin.workspace_id))
        .where(Workspace.platform == platform, *conditions)
    )
    first = session.exec(due.order_by(*order).limit(1)).first()
    if first is None:
        return []
    statement = due.order_by(*order)
    if session.exec(select(due.where(col(Checkin.workspace_id) != first.workspace_id).exists())).one():
        turn = func.row_number().over(partition_by=col(Checkin.workspace_id), order_by=order).label("turn")
        ranked = due.with_only_columns(col(Checkin.id).label("id"), turn).subquery()
        statement = (  # the conditions again: a row another tick settled meanwhile is seen as it is now, once locked
            select(Checkin)
            .join(ranked, ranked.c.id == col(Checkin.id))
            .where(*conditions)
            .order_by(ranked.c.turn, *order)
        )
    return list(session.exec(statement.limit(BATCH).with_for_update(skip_locked=True, of=Checkin)).all())


def queue_due(session: Session, platform: str, now: datetime) -> int:
    """Turn due check-ins into DMs in the outbox. Rows are locked (SKIP LOCKED), so two ticks never take one."""
    rows = _due(session, platform, Checkin.status == "scheduled", col(Checkin.due_at) <= now)
    ids = {checkin.improvement_id for checkin in rows}
    improvements = {i.id: i for i in session.exec(select(Improvement).where(col(Improvement.id).in_(ids))).all()}
    owners: dict[int, list[str]] = {}
    for checkin in rows:
        improvement = improvements[checkin.improvement_id]
        checkin.status = "sent"
        checkin.sent_at = now
        checkin.nudge_at = working_days_later(max(now, checkin.due_at), NUDGE_AFTER_WORKING_DAYS, zone(checkin.tz))
        checkin.miss_at = max(now, checkin.due_at) + NEVER_ARRIVED  # moved closer by the nudge
        session.add(checkin)
        outbox = Outbox(session, checkin.workspace_id, now)
        outbox.dm(checkin.owner_id, checkin_views.checkin_request(checkin, improvement), improvement=improvement,
                  key=checkin_key(checkin))  # fmt: skip
        owners.setdefault(checkin.workspace_id, []).append(checkin.owner_id)
    for workspace_id, people in owners.items():  # it waits on them now (one lookup a workspace, not a check-in)
        Outbox(session, workspace_id, now).refresh_homes(people)
    return len(rows)


def queue_nudges(session: Session, platform: str, now: datetime) -> int:
    """One polite nudge per unanswered check-in, only once its DM really reached the owner."""
    rows = _due(session, platform, Checkin.status == "sent", col(Checkin.nudged_at).is_(None),
                col(Checkin.nudge_at) <= now, _dm_delivered())  # fmt: skip
    nudged = 0
    for checkin in rows:
        delivered = session.exec(
            select(PostedMessage).where(
                PostedMessage.improvement_id == checkin.improvement_id, PostedMessage.key == checkin_key(checkin)
            )
        ).first()
        if delivered is None:
            continue  # the DM itself has not gone out yet: no nudge about it
        if working_days_later(delivered.created_at, NUDGE_AFTER_WORKING_DAYS, zone(checkin.tz)) > now:
            continue  # it went out late (Slack was down): two working days from when it really arrived
        improvement = session.get(Improvement, checkin.improvement_id)
        assert improvement is not None
        checkin.nudged_at = now
        checkin.miss_at = working_days_later(now, MISSED_AFTER_WORKING_DAYS, zone(checkin.tz))
        session.add(checkin)
        Outbox(session, checkin.workspace_id, now).dm(
            checkin.owner_id, checkin_views.nudge(checkin, improvement), improvement=improvement
        )
        nudged += 1
    return nudged


def _dm_delivered() -> Any:
    """SQL: the check-in's current DM reached the owner (its message is remembered under its key)."""
    key = literal("checkin:") + cast(Checkin.id, String) + literal(":") + cast(Checkin.snoozes, String)
    return exists().where(
        col(PostedMessage.improvement_id) == col(Checkin.improvement_id), col(PostedMessage.key) == key
    )


def mark_missed(session: Session, platform: str, now: datetime) -> int:
    """Two working days after the nudge, or a week after a DM that never arrived (Slack refused it for good)."""
    rows = session.exec(
        select(Checkin, Improvement)
        .join(Improvement, col(Improvement.id) == col(Checkin.improvement_id))
        .join(Workspace, col(Workspace.id) == col(Checkin.workspace_id))
        .where(Workspace.platform == platform, Checkin.status == "sent", col(Checkin.miss_at) <= now)
        .order_by(col(Checkin.due_at), col(Checkin.id))
        .limit(BATCH)
        .with_for_update(skip_locked=True, of=(Checkin, Improvement))  # a person's answer locks the improvement
    ).all()  # first: the tick skips what it holds rather than wait for it
    for checkin, improvement in rows:
        checkin.status = "missed"
        checkin.missed_at = now
        session.add(checkin)
        current = improvement.cycle == checkin.cycle and improvement.status == Status.IMPLEMENTED.value
        if not current or _answered_later(session, checkin):
            continue  # an old cycle's, or one a later answer has verified already: closed quietly
        improvement.unverified_at = now
        session.add(improvement)
        outbox = Outbox(session, checkin.workspace_id, now)
        outbox.edit(improvement, checkin_key(checkin), checkin_views.checkin_missed(checkin, improvement))
        asked = asked_in(session, improvement)
        told = [p for p in dict.fromkeys([improvement.approved_by or "", *(asked.told if asked else [])])
                if p and p != checkin.owner_id][:MAX_TOLD]  # fmt: skip
        outbox.reply(improvement, reminder_views.missed(improvement, checkin, told))
        outbox.refresh_card(improvement)
        if not _later_open(session, checkin):
            _make_up(session, checkin, now)
    return len(rows)


MAX_TOLD = 10


def _others(session: Session, checkin: Checkin, *statuses: str) -> list[Checkin]:
    """The other check-ins of the same cycle with these statuses."""
    return list(
        session.exec(
            select(Checkin).where(
                Checkin.improvement_id == checkin.improvement_id,
                Checkin.cycle == checkin.cycle,
                col(Checkin.status).in_(statuses),
                Checkin.id != checkin.id,
            )
        ).all()
    )


def _answered_later(session: Session, checkin: Checkin) -> bool:
    return any(as_utc(o.due_at) > as_utc(checkin.due_at) for o in _others(session, checkin, "answered"))


def _later_open(session: Session, checkin: Checkin) -> bool:
    """A check-in still to come in the cycle, or this one was itself the one more after a miss (only one)."""
    made_up = any(o.position == checkin.position for o in _others(session, checkin, "missed"))
    return made_up or bool(_others(session, checkin, "scheduled", "sent"))


def _make_up(session: Session, checkin: Checkin, now: datetime) -> None:
    """The last check-in of a cycle was missed: one more a week later, so the fix can still be verified."""
    tz = zone(checkin.tz)
    day = next_working_day((now + timedelta(days=7)).astimezone(tz).date())
    session.add(
        Checkin(
            workspace_id=checkin.workspace_id,
            improvement_id=checkin.improvement_id,
            owner_id=checkin.owner_id,
            cycle=checkin.cycle,
            position=checkin.position,
            of=checkin.of,
            after_days=checkin.after_days,
            tz=checkin.tz,
            status="scheduled",
            due_at=local_at(day, CHECKIN_HOUR, tz),
        )
    )


# -- the owner's part --------------------------------------------------------------------------------


def _check_answerable(checkin: Checkin, improvement: Improvement, actor: Actor) -> None:
    if actor.user != checkin.owner_id and not actor.is_approver:
        raise Refused("Only the owner of the fix (or an approver) can answer its check-in.")
    if checkin.status == "answered":
        raise Refused(f"This check-in for #{improvement.number} is already answered.")
    if checkin.status == "missed":
        raise Refused(f"This check-in for #{improvement.number} was missed and is closed; the next one will ask again.")
    stale = checkin.cycle != improvement.cycle or improvement.status != Status.IMPLEMENTED.value
    if checkin.status in ("cancelled", "scheduled") or stale:
        raise Refused(f"This check-in for #{improvement.number} is no longer open.")


def answer_form(session: Session, ws: WorkspaceRef, actor: Actor, checkin_id: int, answer: str) -> Form:
    checkin, improvement = cycle.load(session, ws, checkin_id)
    _check_answerable(checkin, improvement, actor)
    context = {"checkin": str(checkin.id), "answer": answer}
    return forms.checkin_form(improvement.number, answer, improvement.measure, metric_of(improvement), context)


def answer(
    session: Session,
    ws: WorkspaceRef,
    actor: Actor,
    checkin_id: int,
    verdict: str,
    values: dict[str, Any],
    now: datetime,
) -> Improvement:
    if verdict not in ("holding", "slipping"):
        raise Refused("That answer is out of date.")
    checkin, improvement = cycle.load(session, ws, checkin_id)
    _check_answerable(checkin, improvement, actor)
    metric = metric_of(improvement)
    value = values.get("reading")
    checkin.status = "answered"
    checkin.answer = verdict
    checkin.reading = None if value is None else format_value(float(value), metric.unit)
    checkin.note = values.get("note")
    checkin.answered_at = now
    session.add(checkin)
    improvement.unverified_at = None  # an answer verifies it again, either way
    outbox = Outbox(session, ws.id, now)
    chart: dict[str, Any] | None = None
    signals: list[str] = []
    if value is not None:
        readings.record(session, improvement, float(value), "checkin", now, checkin_id=checkin.id)
        chart, signals = signals_of.control_of(session, ws, improvement)
    outbox.edit(improvement, checkin_key(checkin), checkin_views.checkin_answered(checkin, improvement))
    outbox.refresh_homes([actor.user])
    outbox.reply(improvement, checkin_views.checkin_line(checkin, improvement, signals))
    if chart is not None:
        outbox.thread_chart(improvement, chart)
    if signals and verdict == "holding":
        signals_of.ask(checkin, improvement, signals, outbox)
    cycle.settle(session, ws, improvement, checkin, outbox, now, slipping=verdict == "slipping")
    audit(session, ws.id, improvement, actor.user, f"checkin_{verdict}", now, checkin=checkin.position)
    return improvement


def snooze(session: Session, ws: WorkspaceRef, actor: Actor, checkin_id: int, now: datetime) -> Improvement:
    checkin, improvement = cycle.load(session, ws, checkin_id)
    _check_answerable(checkin, improvement, actor)
    tz = zone(checkin.tz)
    day = next_working_day((max(now, checkin.due_at) + timedelta(days=7)).astimezone(tz).date())
    checkin.due_at = local_at(day, CHECKIN_HOUR, tz)
    session.add(checkin)
    outbox = Outbox(session, ws.id, now)
    outbox.edit(improvement, checkin_key(checkin), checkin_views.checkin_answered(checkin, improvement))
    outbox.refresh_homes([actor.user])  # it no longer waits on them this week
    # the DM above is edited first (it shows the new date); then the check-in waits for its new time
    checkin.status = "scheduled"
    checkin.snoozes += 1  # the next DM is a new message with its own key
    checkin.sent_at = checkin.nudge_at = checkin.nudged_at = checkin.miss_at = None
    audit(session, ws.id, improvement, actor.user, "checkin_snoozed", now, checkin=checkin.position)
    return improvement


def pending_for(session: Session, ws: WorkspaceRef, user: str) -> list[tuple[Checkin, Improvement]]:
    rows = session.exec(
        select(Checkin, Improvement)
        .join(Improvement, col(Improvement.id) == col(Checkin.improvement_id))
        .where(
            Checkin.workspace_id == ws.id,
            Checkin.owner_id == user,
            Checkin.status == "sent",
            col(Checkin.cycle) == col(Improvement.cycle),
            Improvement.status == Status.IMPLEMENTED.value,
        )
        .order_by(col(Checkin.due_at))
    ).all()
    return [(checkin, improvement) for checkin, improvement in rows]
