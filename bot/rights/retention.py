"""How long what only delivery needed is kept: handled inbound events (a retry of one comes within the hour) and
delivered or given-up messages, `IMPROVE_RETENTION_DAYS` after they were written. Worked by the tick in batches."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, delete, select

from bot.core.workspace import WorkspaceSettings
from storage.models import OutboxMessage, ProcessedEvent, Workspace

BATCH = 5000  # rows deleted per statement: a long backlog goes over several runs of the tick, never one long lock


def purge(session: Session, platform: str, now: datetime) -> int:
    """Delete one batch of expired rows per table and workspace of `platform`; returns how many went."""
    gone = 0
    for row in session.exec(select(Workspace).where(Workspace.platform == platform)).all():
        cutoff = now - timedelta(days=WorkspaceSettings.from_json(row.settings).retention_days)
        events = select(ProcessedEvent.id).where(ProcessedEvent.workspace_id == row.id, col(ProcessedEvent.at) < cutoff)
        done = select(OutboxMessage.id).where(
            OutboxMessage.workspace_id == row.id,
            col(OutboxMessage.status).in_(["sent", "dead"]),
            col(OutboxMessage.created_at) < cutoff,
        )
        for table, ids in ((ProcessedEvent, events), (OutboxMessage, done)):
            batch = list(session.exec(ids.limit(BATCH)).all())
            if batch:
                session.execute(delete(table).where(col(table.id).in_(batch)))
                gone += len(batch)
    return gone
