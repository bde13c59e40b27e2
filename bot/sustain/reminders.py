"""Reminders, few and polite, then escalation: rows with a due time, sent once by the tick, cancelled when what
they chase happens.

- an approval waiting `remind_approval_days`: one reminder to those asked (in the thread, and a DM each);
  `escalate_approval_days` later: the fallback approvers are asked too (and may decide);
- a why unanswered `nudge_whys_days`: one DM to the reporter; `stall_whys_days` later: the improvement is stalled
  (on the card, in the weekly note) until the reporter answers;
- a fix still not implemented the day after its due date: one DM to the owner, and "overdue" on the card.

Working days, in the workspace's zone. Each change of an improvement's stage or round re-plans (`plan`): what
no longer applies is cancelled, what is new is added; `(improvement, kind, subject)` is unique, so nothing is sent
twice. The tick checks again before it sends (`queue_due`). Missed check-ins: bot.sustain.checkins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_
from sqlmodel import Session, col, select

from bot.core.calendar import CHECKIN_HOUR, add_working_days, local_at, next_working_day, zone
from bot.core.domain import Status
from bot.core.workspace import WorkspaceRef, WorkspaceSettings
from bot.delivery.outbox import Outbox
from bot.improvements.approval import asked_in
from bot.improvements.card import owner_of
from bot.improvements.records import last_decision
from bot.sustain import reminder_views as views
from storage import queries
from storage.models import Improvement, Reminder, Why, Workspace

APPROVAL = "approval_reminder"
ESCALATION = "approval_escalation"
WHYS_NUDGE = "whys_nudge"
WHYS_STALLED = "whys_stalled"
OVERDUE = "overdue"
BATCH = 500
STAGES_REMINDED = (Status.INVESTIGATING.value, Status.AWAITING_APPROVAL.value, Status.APPROVED.value)  # some, maybe


@dataclass(frozen=True)
class Planned:
    subject: str
    due: Callable[[datetime], datetime]  # from the moment it is planned


def _open_why(session: Session, improvement: Improvement) -> int | None:
    return next((w.position for w in queries.whys_of(session, improvement.id or 0) if w.answer is None), None)


def _plan(session: Session, improvement: Improvement, settings: WorkspaceSettings) -> dict[str, Planned]:
    """What the improvement's state calls for now: kind -> what it chases and when it is due."""
    tz = zone(settings.timezone)

    def after(days: int) -> Callable[[datetime], datetime]:
        """10:00 in the workspace's zone, `days` working days after the start (never at night, never at weekends)."""
        return lambda start: local_at(add_working_days(start.astimezone(tz).date(), days), CHECKIN_HOUR, tz)

    status, plan = Status(improvement.status), {}
    if status is Status.INVESTIGATING:
        position = _open_why(session, improvement)
        nudge, stall = settings.nudge_whys_days, settings.stall_whys_days
        if position is not None and nudge:
            plan[WHYS_NUDGE] = Planned(f"why:{position}", after(nudge))
            if stall:
                plan[WHYS_STALLED] = Planned(f"why:{position}", after(nudge + stall))
    elif status is Status.AWAITING_APPROVAL and settings.remind_approval_days:
        remind, escalate = settings.remind_approval_days, settings.escalate_approval_days
        subject = f"round:{improvement.approval_round}"
        plan[APPROVAL] = Planned(subject, after(remind))
        asked = asked_in(session, improvement)
        if escalate and asked is not None and asked.escalation is not None:
            plan[ESCALATION] = Planned(subject, after(remind + escalate))
    elif status is Status.APPROVED and improvement.due_date is not None:
        morning_after = local_at(next_working_day(improvement.due_date + timedelta(days=1)), CHECKIN_HOUR, tz)
        plan[OVERDUE] = Planned(f"due:{improvement.due_date.isoformat()}", lambda _start: morning_after)
    return plan


def plan(
    session: Session, ws: WorkspaceRef, improvement: Improvement, now: datetime, *, since: datetime | None = None
) -> bool:
    """Bring the improvement's reminders in line with what it is now (called at every change of stage or round;
    `since`: when it entered its stage, when that was before now). What was sent stays sent; what was cancelled
    and applies again (a fix back in progress with the same due date) is planned again. Whether any applies."""
    wanted = _plan(session, improvement, ws.settings)
    rows = session.exec(select(Reminder).where(Reminder.improvement_id == improvement.id)).all()
    for row in rows:
        if row.status == "pending" and (row.kind not in wanted or wanted[row.kind].subject != row.subject):
            row.status, row.done_at = "cancelled", now
            session.add(row)
    existing = {(row.kind, row.subject): row for row in rows}
    for kind, planned in wanted.items():
        found = existing.get((kind, planned.subject))
        if found is None:
            session.add(Reminder(workspace_id=ws.id, improvement_id=improvement.id or 0, kind=kind,
                                 subject=planned.subject, due_at=planned.due(since or now)))  # fmt: skip
        elif found.status == "cancelled":
            found.status, found.done_at, found.due_at = "pending", None, planned.due(since or now)
            session.add(found)
    return bool(wanted)


def plan_missing(session: Session, platform: str, now: datetime) -> int:
    """Improvements waiting at a stage that calls for a reminder but never had one planned (they were there
    before reminders existed): planned from when they entered their stage. Only stages the workspace's settings
    remind about are looked at, so an improvement planned once is never looked at again. One workspace's a run
    (the tick runs it again until it plans none): the improvements it locks are held for that workspace's work
    only, never while a thousand other workspaces are looked at (a reply to one of them waited past the lock
    timeout). Returns how many it planned."""
    asked = exists().where(col(Why.improvement_id) == col(Improvement.id), col(Why.answer).is_(None))
    investigating = col(Improvement.status) == Status.INVESTIGATING.value
    waiting = (
        select(col(Improvement.workspace_id))
        .where(
            col(Improvement.status).in_(STAGES_REMINDED),
            ~investigating | asked,
            ~exists().where(col(Reminder.improvement_id) == col(Improvement.id)),
            col(Improvement.created_at) < now - timedelta(minutes=1),  # one being reported now plans its own
        )
        .distinct()
    )
    workspaces = select(Workspace).where(Workspace.platform == platform, col(Workspace.id).in_(waiting))
    for workspace in session.exec(workspaces.order_by(col(Workspace.id))).all():
        ws = WorkspaceRef.of(workspace)
        settings = ws.settings
        stages = []
        if settings.nudge_whys_days:  # … with a why to answer: every row locked here plans (none is held on to)
            stages.append(and_(investigating, asked))
        if settings.remind_approval_days:
            stages.append(col(Improvement.status) == Status.AWAITING_APPROVAL.value)
        stages.append(and_(col(Improvement.status) == Status.APPROVED.value, col(Improvement.due_date).is_not(None)))
        statement = (
            select(Improvement)
            .where(
                Improvement.workspace_id == workspace.id,
                or_(*stages),
                ~exists().where(col(Reminder.improvement_id) == col(Improvement.id)),
                col(Improvement.created_at) < now - timedelta(minutes=1),
            )
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
        planned = [plan(session, ws, i, now, since=i.updated_at) for i in session.exec(statement).all()]
        if any(planned):  # (one that needs none is looked at again: the tick stops at a run that plans none)
            return planned.count(True)
    return 0


# -- the tick's part ---------------------------------------------------------------------------------


def queue_due(session: Session, platform: str, now: datetime) -> int:
    """Send the due reminders that still apply; cancel the rest. The reminder and its improvement are locked
    together, skipping any a person's action holds (the action locks the improvement first, then re-plans its
    reminders: the tick never waits for it, so neither waits for the other). Returns how many it handled."""
    rows = session.exec(
        select(Reminder, Improvement, Workspace)
        .join(Improvement, col(Improvement.id) == col(Reminder.improvement_id))
        .join(Workspace, col(Workspace.id) == col(Reminder.workspace_id))
        .where(Workspace.platform == platform, Reminder.status == "pending", col(Reminder.due_at) <= now)
        .order_by(col(Reminder.due_at), col(Reminder.id))
        .limit(BATCH)
        .with_for_update(skip_locked=True, of=(Reminder, Improvement))
    ).all()
    for row, improvement, workspace in rows:
        settings = WorkspaceSettings.from_json(workspace.settings)
        planned = _plan(session, improvement, settings).get(row.kind)
        row.done_at = now
        if planned is None or planned.subject != row.subject:
            row.status = "cancelled"  # what it chased has happened
        else:
            row.status = "sent"
            _SEND[row.kind](_Due(session, Outbox(session, workspace.id or 0, now), improvement, settings, now))
        session.add(row)
    return len(rows)


@dataclass(frozen=True)
class _Due:
    """A due reminder that still applies, in its transaction."""

    session: Session
    outbox: Outbox
    improvement: Improvement
    settings: WorkspaceSettings
    now: datetime


def _approval(due: _Due) -> None:
    asked = asked_in(due.session, due.improvement)
    if asked is None:
        return
    days = due.settings.remind_approval_days
    due.outbox.reply(due.improvement, views.approval_reminder(due.improvement, asked, days))
    for person in asked.told:
        due.outbox.dm(person, views.approval_reminder_dm(due.improvement, days), improvement=due.improvement)


def _escalation(due: _Due) -> None:
    proposal = last_decision(due.session, due.improvement, "proposed")
    asked = asked_in(due.session, due.improvement)
    others = asked.escalation if asked else None
    if proposal is None or asked is None or others is None:
        return
    proposal.asked = {**(proposal.asked or {}), **asked.escalated().to_json()}  # they may decide from now on
    due.session.add(proposal)
    days = due.settings.remind_approval_days + due.settings.escalate_approval_days
    label = "the fallback approvers" if due.settings.fallback_approvers else "the workspace admins"
    due.outbox.reply(due.improvement, views.escalation(due.improvement, others, days, label))
    for person in others.told:
        due.outbox.dm(person, views.escalation_dm(due.improvement, days), improvement=due.improvement)
    due.outbox.refresh_homes(others.people)  # it waits on them too from now on


def _whys_nudge(due: _Due) -> None:
    position = _open_why(due.session, due.improvement) or 0
    message = views.whys_nudge(due.improvement, position, due.settings.nudge_whys_days)
    due.outbox.dm(due.improvement.reporter_id, message, improvement=due.improvement)


def _stalled(due: _Due) -> None:
    position = _open_why(due.session, due.improvement) or 0
    due.improvement.stalled_at = due.now
    due.session.add(due.improvement)
    days = due.settings.nudge_whys_days + due.settings.stall_whys_days
    due.outbox.reply(due.improvement, views.stalled(due.improvement, position, days))
    due.outbox.refresh_card(due.improvement)


def _overdue(due: _Due) -> None:
    improvement = due.improvement
    assert improvement.due_date is not None
    improvement.overdue_at = due.now
    due.session.add(improvement)
    due.outbox.dm(owner_of(improvement), views.overdue_dm(improvement, improvement.due_date), improvement=improvement)
    due.outbox.refresh_card(improvement)


_SEND: dict[str, Callable[[_Due], None]] = {
    APPROVAL: _approval,
    ESCALATION: _escalation,
    WHYS_NUDGE: _whys_nudge,
    WHYS_STALLED: _stalled,
    OVERDUE: _overdue,
}
