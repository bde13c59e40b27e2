"""The audit trail: who did what to which improvement, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage.models import AuditEntry, Improvement


def audit(
    session: Session,
    workspace_id: int,
    improvement: Improvement | None,
    actor: str,
    action: str,
    now: datetime,
    **detail: object,
) -> None:
    session.add(
        AuditEntry(
            workspace_id=workspace_id,
            improvement_id=improvement.id if improvement else None,
            actor_id=actor,
            action=action,
            detail=dict(detail),
            at=now,
        )
    )
