"""The weekly win announcement: what was implemented or sustained since the last one, who to thank, and what
it gives back. One per workspace and ISO week (a unique row), so it goes out once however many ticks run."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, case, func, or_, true
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.core.calendar import iso_week, last_weekly_slot, parse_weekly, zone
from bot.core.domain import WEEKS_PER_YEAR, Status
from bot.core.messages import Message, Paragraph, Text
from bot.core.workspace import WorkspaceSettings
from bot.delivery.outbox import Outbox
from bot.improvements.ranking import ranked
from bot.wins import charts
from bot.wins.content import STAGES, DigestContent, Totals, Waiting, Win
from bot.wins.views import compose
from storage.models import Digest, FixCycle, Improvement, OutboxMessage, Workspace

log = logging.getLogger("improvebot.digest")

LATE_LIMIT = timedelta(days=1)  # a digest missed by more than this is skipped, not posted into the wrong week
CHART_WEEKS = 12
BATCH = 50  # workspaces whose announcement one run settles (a transaction each)
SETTLING = 0x1A9_D1C5  # the advisory locks of the workspaces a tick is settling (with the workspace's id)
WAITING_LISTED = 5  # per stage in the weekly note, then "and N more"
LIVE = (Status.IMPLEMENTED.value, Status.SUSTAINED.value)
SUSTAINED = (Status.SUSTAINED.value,)
_HOURS = func.coalesce(Improvement.approved_hours_per_year, 0)  # the approved figure: never the live estimate
_MONEY = _HOURS * func.coalesce(Improvement.approved_hourly_rate, 0)  # at the rate of its approval day


def gather(
    session: Session, workspace: Workspace, settings: WorkspaceSettings, since: datetime | None, until: datetime
) -> DigestContent:
    # `since` None: everything up to `until` (used by the benchmark for the worst case)
    """Everything the announcement says, read from the database in a handful of indexed queries."""
    tz = zone(settings.timezone)
    in_window = [col(Improvement.implemented_at) <= until, col(Improvement.sustained_at) <= until]
    if since is not None:
        in_window = [
            (col(Improvement.implemented_at) > since) & in_window[0],
            (col(Improvement.sustained_at) > since) & in_window[1],
        ]
    rows = session.exec(
        select(Improvement)
        .where(Improvement.workspace_id == workspace.id, col(Improvement.status).in_(LIVE), or_(*in_window))
        .order_by(col(Improvement.number))
    ).all()
    slipped = set(
        session.exec(
            select(FixCycle.improvement_id).where(  # the workspace's fixes that ever slipped: a few
                FixCycle.workspace_id == workspace.id, FixCycle.ended_because == "slipped"
            )
        ).all()
    )
    wins = [
        Win(
            r,
            implemented=_within(r.implemented_at, since, until),
            sustained=_within(r.sustained_at, since, until),
            fixed_again=r.id in slipped,
        )
        for r in rows
    ]
    year_start = until.astimezone(tz).replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return DigestContent(
        week=iso_week(until, tz),
        wins=wins,
        week_implemented=_totals([w.improvement for w in wins if w.implemented]),
        week_confirmed=_totals([w.improvement for w in wins if w.sustained]),
        year_implemented=_year(session, workspace, Improvement.implemented_at, LIVE, year_start, until),
        year_confirmed=_year(session, workspace, Improvement.sustained_at, SUSTAINED, year_start, until),
        waiting=_waiting(session, workspace),
        chart=_chart(session, workspace, until, tz.key),
        until=until,
    )


def _within(when: datetime | None, since: datetime | None, until: datetime) -> bool:
    return when is not None and when <= until and (since is None or when > since)


def _totals(improvements: list[Improvement]) -> Totals:
    hours = sum(i.approved_hours_per_year or 0 for i in improvements)
    money = sum((i.approved_hours_per_year or 0) * (i.approved_hourly_rate or 0) for i in improvements)
    return Totals(len(improvements), hours, money)


def _year(
    session: Session, workspace: Workspace, when: Any, statuses: tuple[str, ...], start: datetime, until: datetime
) -> Totals:
    """The fixes live now that were implemented (or confirmed) this year: each once, however often it slipped."""
    count, hours, money = session.exec(
        select(func.count(), func.coalesce(func.sum(_HOURS), 0), func.coalesce(func.sum(_MONEY), 0)).where(
            Improvement.workspace_id == workspace.id,
            col(Improvement.status).in_(statuses),
            col(when) >= start,
            col(when) <= until,
        )
    ).one()
    return Totals(int(count), float(hours), float(money))


def _waiting(session: Session, workspace: Workspace) -> list[Waiting]:
    """What waits for someone to act, stage by stage, ranked (bot.improvements.ranking) then the longest waiting
    first (an improvement's updated_at is when it entered its stage)."""
    waiting = []
    flags = {
        "stalled": col(Improvement.stalled_at).is_not(None),
        "whys": col(Improvement.stalled_at).is_(None),
        "unverified": col(Improvement.unverified_at).is_not(None),
    }
    for stage, statuses in STAGES.items():
        at_stage = and_(
            col(Improvement.workspace_id) == workspace.id,
            col(Improvement.status).in_(statuses),
            flags.get(stage, true()),
        )
        total = session.exec(select(func.count()).where(at_stage)).one()
        if total:
            oldest = session.exec(
                select(Improvement)
                .where(at_stage)
                .order_by(*ranked(), col(Improvement.updated_at), col(Improvement.number))
                .limit(WAITING_LISTED)
            ).all()
            waiting.append(Waiting(stage, list(oldest), int(total)))
    return waiting


def _chart(session: Session, workspace: Workspace, until: datetime, tz: str) -> list[tuple[str, float]]:
    """The run rate at the end of each of the last 12 weeks: hours per week given back by the fixes live then
    (every cycle counts for the weeks it was live; approved figures), in one scan."""
    ends = [until - timedelta(weeks=n) for n in reversed(range(CHART_WEEKS))]
    ended = col(FixCycle.ended_at)
    live_at = [and_(col(FixCycle.implemented_at) <= end, or_(ended.is_(None), ended > end)) for end in ends]
    sums = [func.coalesce(func.sum(case((live, _HOURS), else_=0)), 0) for live in live_at]
    values = session.exec(
        select(*sums)
        .join(Improvement, col(Improvement.id) == col(FixCycle.improvement_id))
        .where(FixCycle.workspace_id == workspace.id, col(FixCycle.implemented_at) <= until)
    ).one()
    return [(iso_week(end, zone(tz))[-3:], float(v) / WEEKS_PER_YEAR) for end, v in zip(ends, values, strict=True)]


# -- the tick's part ---------------------------------------------------------------------------------


def _last_posted(session: Session, workspace_id: int) -> Digest | None:
    """The last announcement that went out (or is on its way). One Slack never took is as if it never happened:
    its wins roll into the next one."""
    return session.exec(
        select(Digest)
        .outerjoin(OutboxMessage, col(OutboxMessage.id) == col(Digest.outbox_id))
        .where(
            Digest.workspace_id == workspace_id,
            col(Digest.status).in_(("posted", "empty")),
            or_(col(Digest.outbox_id).is_(None), col(OutboxMessage.status) != "dead"),
        )
        .order_by(col(Digest.slot_at).desc())
    ).first()


def _window_start(session: Session, workspace_id: int, slot: datetime) -> datetime:
    """Since the last announcement. The very first one covers the week before the first slot the bot saw
    (skipped or not), so a first announcement is not a dump of history and a skipped one loses nothing."""
    last = _last_posted(session, workspace_id)
    if last is not None:
        return last.covers_until
    first = session.exec(
        select(Digest.slot_at).where(Digest.workspace_id == workspace_id).order_by(col(Digest.slot_at))
    ).first()
    return (first or slot) - timedelta(weeks=1)


def queue_due(session: Session, platform: str, now: datetime) -> int:
    """Settle this week's announcement of up to BATCH workspaces whose slot has passed and that have none yet
    (queued, or recorded as empty or late); the tick runs it again, a transaction each, until a run settles none.
    A workspace another tick is settling right now (it holds the workspace's advisory lock) is skipped, never waited
    for: with many workspaces one tick holds a batch's locks for moments, not all of them for the whole run."""
    due: list[tuple[Workspace, WorkspaceSettings, datetime, str]] = []
    for workspace in session.exec(select(Workspace).where(Workspace.platform == platform)).all():
        settings = WorkspaceSettings.from_json(workspace.settings)
        if not settings.wins_channel:
            continue
        weekday, at = parse_weekly(settings.digest_at)
        tz = zone(settings.timezone)
        slot = last_weekly_slot(now, weekday, at, tz)
        if slot >= workspace.created_at:  # else the workspace did not exist yet at that slot
            due.append((workspace, settings, slot, iso_week(slot, tz)))
    weeks = {week for *_, week in due}
    written = session.exec(select(Digest.workspace_id, Digest.week).where(col(Digest.week).in_(weeks)))
    done = {(workspace_id, week) for workspace_id, week in written}
    settled = 0
    for workspace, settings, slot, week in due:
        if settled == BATCH:
            break
        if (workspace.id, week) in done or not _lock(session, workspace.id or 0):
            continue
        if _written(session, workspace.id or 0, week):  # by a tick that let go of it since `done` was read
            continue
        settled += _queue_one(session, workspace, settings, slot, week, now)
    return settled


def _written(session: Session, workspace_id: int, week: str) -> bool:
    """Checked again under the lock: a workspace another tick settled and let go of meanwhile is skipped, not
    answered by a failed insert (the unique row still guards what this cannot see)."""
    return (
        session.exec(select(Digest.id).where(Digest.workspace_id == workspace_id, Digest.week == week)).first()
        is not None
    )


def _lock(session: Session, workspace_id: int) -> bool:
    """This tick's to settle, unless another tick is settling it (PostgreSQL; on SQLite one transaction writes at a
    time, and `done` is read inside it). An advisory lock, not the workspace's row: a row lock would hold up every
    insert that refers to the workspace (events, outbox rows) until the batch commits."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.exec(select(func.pg_try_advisory_xact_lock(SETTLING, workspace_id))).one())


def _queue_one(
    session: Session, workspace: Workspace, settings: WorkspaceSettings, slot: datetime, week: str, now: datetime
) -> bool:
    """Its Digest row and, when there is something to say, the announcement. False: another tick wrote it first."""
    since = _window_start(session, workspace.id or 0, slot)
    late = now - slot > LATE_LIMIT
    content = None if late else gather(session, workspace, settings, since, slot)
    status = "skipped" if late else ("posted" if content and content.wins else "empty")
    row = Digest(workspace_id=workspace.id or 0, week=week, slot_at=slot, status=status, covers_from=since,
                 covers_until=slot if not late else since, wins=len(content.wins) if content else 0,
                 created_at=now)  # fmt: skip
    try:
        with session.begin_nested():  # the unique (workspace, week) row: only one tick gets to post it
            session.add(row)
    except IntegrityError:
        return False
    if late:
        log.warning("skipped the %s digest of workspace %s: it was due %s and is more than a day late",
                    week, workspace.external_id, slot.isoformat())  # fmt: skip
        return True
    assert content is not None
    if not content.wins and settings.digest_when_empty == "skip":
        return True
    outbox = Outbox(session, workspace.id or 0, now)
    announcement = outbox.post(settings.wins_channel, compose(content, settings))
    if content.wins:
        outbox.chart(settings.wins_channel, charts.weekly_payload(content.chart), after=announcement)
    session.flush()  # the announcement's id
    row.outbox_id = announcement.id
    session.add(row)
    return True


def preview_digests(engine: Engine, now: datetime) -> list[tuple[str, str, str, Message]]:
    """(workspace, channel, week, message) of the next announcement of every workspace, as if it went out now
    (covering everything since the last one)."""
    previews = []
    with Session(engine) as session:
        for workspace in session.exec(select(Workspace).order_by(col(Workspace.id))).all():
            settings = WorkspaceSettings.from_json(workspace.settings)
            weekday, at = parse_weekly(settings.digest_at)
            tz = zone(settings.timezone)
            slot = last_weekly_slot(now, weekday, at, tz)
            done = session.exec(
                select(Digest.id).where(Digest.workspace_id == workspace.id, Digest.week == iso_week(slot, tz))
            ).first()
            pending = not done and slot >= workspace.created_at and now - slot <= LATE_LIMIT
            target = slot if pending else slot + timedelta(weeks=1)  # the announcement that goes out next
            content = gather(session, workspace, settings, _window_start(session, workspace.id or 0, target), now)
            message = compose(content, settings, week=iso_week(target, tz))
            if not content.wins and settings.digest_when_empty == "skip":
                quiet = "(a quiet week: nothing would be posted, IMPROVE_DIGEST_WHEN_EMPTY=skip)"
                message = Message(summary="", blocks=[Paragraph(spans=[Text(text=quiet)])])
            name = f"{workspace.platform} {workspace.external_id}"
            previews.append((name, settings.wins_channel, iso_week(target, tz), message))
    return previews
