"""How long delivered messages are kept: a message delivered or given up is deleted `IMPROVE_RETENTION_DAYS`
after it was written, unless something still points at it (a weekly announcement's outcome is read from its
row; a chart waits for its announcement). Worked by the tick in batches. (Handled inbound events are purged by
the tick itself after 7 days; a form's answer, a digest holding no id, after 90: bot.tick.) A workspace that
removed the app is erased whole `IMPROVE_RETENTION_DAYS` after it did (`erase_removed`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists
from sqlalchemy.orm import aliased
from sqlmodel import Session, SQLModel, col, delete, select

from bot.core.clock import as_utc
from bot.core.workspace import WorkspaceSettings
from storage.models import Digest, Improvement, OutboxMessage, Workspace

BATCH = 1000  # rows deleted per statement: a long backlog goes over several runs of the tick, never one long lock
KEPT_WHOLE = ("console",)  # the console rebuilds its threads from what was sent: a local demo keeps it all


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
    """One workspace of `platform` that removed the app `retention_days` ago or more (and did not install it again
    since): everything it holds is deleted, and the workspace itself (installing again starts afresh)."""
    removed = select(Workspace).where(Workspace.platform == platform, col(Workspace.uninstalled_at).is_not(None))
    for row in session.exec(removed).all():
        days = WorkspaceSettings.from_json(row.settings).retention_days
        if row.id is not None and row.uninstalled_at and as_utc(row.uninstalled_at) <= now - timedelta(days=days):
            erase_workspace(session, row.id)
            return 1
    return 0


def erase_workspace(session: Session, workspace_id: int) -> None:
    """Every row of every table that belongs to the workspace (by its id, or by one of its improvements), the
    ones pointing at others first; then the workspace."""
    improvements = select(Improvement.id).where(Improvement.workspace_id == workspace_id)
    for table in reversed(SQLModel.metadata.sorted_tables):
        if "workspace_id" in table.c:
            session.execute(table.delete().where(table.c.workspace_id == workspace_id))
        elif "improvement_id" in table.c:
            session.execute(table.delete().where(table.c.improvement_id.in_(improvements)))
    session.execute(delete(Workspace).where(col(Workspace.id) == workspace_id))
