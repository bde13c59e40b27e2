"""How long delivered messages are kept: a message delivered or given up is deleted `IMPROVE_RETENTION_DAYS`
after it was written, unless something still points at it (a weekly announcement's outcome is read from its
row; a chart waits for its announcement). Worked by the tick in batches. (Handled inbound events are purged by
the tick itself after 7 days; a form's answer, a digest holding no id, after 90: bot.tick.)"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, delete, select

from bot.core.workspace import WorkspaceSettings
from storage.models import Digest, OutboxMessage, Workspace

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
