"""How long delivered messages are kept: a message delivered or given up is deleted `IMPROVE_RETENTION_DAYS`
after it was written, unless something still points at it (a weekly announcement's outcome is read from its
row; a chart waits for its announcement). Worked by the tick in batches. (Handled inbound events are purged by
the tick itself after 7 days; a form's answer, a digest holding no id, after 90: bot.tick.) A workspace that
removed the app is erased whole `IMPROVE_RETENTION_DAYS` after it did (`erase_removed`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import exists
from sqlalchemy.orm import aliased
from sqlmodel import Session, SQLModel, col, delete, select, update

from bot.core.clock import as_utc
from bot.core.workspace import WorkspaceSettings
from storage.models import SLACK_OAUTH_STATES, Digest, Improvement, OutboxMessage, SlackTeam, Workspace

BATCH = 1000  # rows deleted per statement: a long backlog goes over several runs of the tick, never one long lock
KEPT_WHOLE = ("console",)  # the console rebuilds its threads from what was sent: a local demo keeps it all
ERASING = "erased:"  # a removed workspace whose erasure has begun: its external id from then on


def purge(session: Session, platform: str, now: datetime) -> int:
    """Delete one batch of expired messages per workspace of `platform`; returns how many went."""
    if platform in KEPT_WHOLE:
        return 0
    waiting = aliased(OutboxMessage)
    gone = 0
    for row in session.exec(select(Workspace).where(Workspace.platform == platform)).all():
        cutoff = now - timedelta(days=WorkspaceSettings.from_json(row.settings).retention_days)
        expired = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.workspace_id == row.id,
                col(OutboxMessage.status).in_(["sent", "dead"]),
                col(OutboxMessage.created_at) < cutoff,
                ~exists().where(col(Digest.outbox_id) == col(OutboxMessage.id)),
                ~exists().where(col(waiting.after_id) == col(OutboxMessage.id), col(waiting.status) == "pending"),
            )
            .limit(BATCH)
        )
        ids = list(session.exec(expired).all())
        if ids:
            session.execute(delete(OutboxMessage).where(col(OutboxMessage.id).in_(ids)))
            gone += len(ids)
    return gone


def erase_removed(session: Session, platform: str, now: datetime) -> int:
    """A workspace of `platform` that removed the app `retention_days` ago or more (and did not install it again):
    a batch of what it holds per run, the tick running it again until nothing is left. Its first step renames it,
    so that an install from then on starts afresh instead of finding a workspace half erased."""
    removed = select(Workspace).where(Workspace.platform == platform, col(Workspace.uninstalled_at).is_not(None))
    for row in session.exec(removed.order_by(col(Workspace.id))).all():
        if row.id is None:
            continue
        if row.external_id.startswith(ERASING):
            return _erase_batch(session, row.id)
        days = WorkspaceSettings.from_json(row.settings).retention_days
        if row.uninstalled_at is None or as_utc(row.uninstalled_at) > now - timedelta(days=days):
            continue
        locked = session.exec(removed.where(Workspace.id == row.id).with_for_update()).first()
        if locked is None:  # installed again meanwhile
            continue
        if platform == "slack":
            session.execute(delete(SlackTeam).where(col(SlackTeam.team_id) == locked.external_id))
        locked.external_id = f"{ERASING}{row.id}"
        session.add(locked)
        return 1
    return 0


def _erase_batch(session: Session, workspace_id: int) -> int:
    """Up to BATCH rows of the first table (those pointing at others first) that still holds some of the
    workspace's (by its id, or by one of its improvements); the workspace itself once none does."""
    improvements = select(Improvement.id).where(Improvement.workspace_id == workspace_id)
    for table in reversed(SQLModel.metadata.sorted_tables):
        if "workspace_id" in table.c:
            owned = table.c.workspace_id == workspace_id
        elif "improvement_id" in table.c:
            owned = table.c.improvement_id.in_(improvements)
        else:
            continue
        for column in table.c:  # a row pointing at another of its table (a message sent after another): let go
            if any(key.column.table is table for key in column.foreign_keys):
                session.execute(update(table).where(owned, column.is_not(None)).values({column.name: None}))
        [key] = table.primary_key.columns
        ids = list(session.execute(select(key).where(owned).limit(BATCH)).scalars().all())
        if ids:
            session.execute(table.delete().where(key.in_(ids)))
            return len(ids)
    session.execute(delete(Workspace).where(col(Workspace.id) == workspace_id))
    return 1


def purge_install_links(session: Session, platform: str, now: datetime) -> int:
    """Slack install links (OAuth states) that expired unused."""
    if platform != "slack":
        return 0
    expired = SLACK_OAUTH_STATES.c.expire_at < now.astimezone(UTC).replace(tzinfo=None)
    return int(session.execute(SLACK_OAUTH_STATES.delete().where(expired)).rowcount)  # type: ignore[attr-defined]
