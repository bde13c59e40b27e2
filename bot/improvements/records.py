"""What the lifecycle's use cases share: loading an improvement for a change, stamping its status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bot.core.domain import Status
from bot.core.outcomes import Refused
from bot.core.workspace import WorkspaceRef
from storage import queries
from storage.models import Decision, Improvement


@dataclass(frozen=True)
class Moved:
    """Published in the transaction of every change of an improvement's stage or round: capabilities that chase
    it (reminders) re-plan from what it is now."""

    improvement: Improvement


def load(session: Session, ws: WorkspaceRef, improvement_id: int, *, closed_ok: bool = False) -> Improvement:
    """The improvement, locked for the change, or a refusal when it is not in this workspace (or, unless
    `closed_ok`, when it is closed: nothing happens to a closed improvement but a reopen)."""
    improvement = queries.improvement_in(session, ws.id, improvement_id, for_update=True)
    if improvement is None:
        raise Refused("I can't find that improvement in this workspace.")
    if improvement.status == Status.CLOSED.value and not closed_ok:
        raise Refused(f"#{improvement.number} is closed; an approver can reopen it from its card.")
    return improvement


def id_of(improvement: Improvement) -> int:
    assert improvement.id is not None, "flushed improvements have an id"
    return improvement.id


def touch(session: Session, improvement: Improvement, status: Status, now: datetime) -> None:
    improvement.status = status.value
    improvement.updated_at = now
    session.add(improvement)


def owner_key(improvement: Improvement) -> str:
    """The message that carries the live "Mark implemented" button: a new one for every approval round and every
    reopening (a reopened fix, or one approved again after its fix was edited, gets a message of its own)."""
    if improvement.cycle == 0:
        return f"owner:{improvement.approval_round}"
    return f"reopen:{improvement.cycle}:{improvement.approval_round}"


def last_decision(session: Session, improvement: Improvement, kind: str) -> Decision | None:
    return session.exec(
        select(Decision)
        .where(Decision.improvement_id == improvement.id, Decision.kind == kind)
        .order_by(col(Decision.id).desc())
    ).first()


def is_reporter(ws: WorkspaceRef, improvement: Improvement, user: str) -> bool:
    """Whether `user` reported it; an anonymous reporter is recognised by opening their sealed id, never shown."""
    if improvement.reporter_id == user:
        return True
    if not improvement.anonymous or not improvement.reporter_sealed or ws.sealer is None:
        return False
    return ws.sealer.unseal(improvement.reporter_sealed) == user


def acting(ws: WorkspaceRef, improvement: Improvement, user: str) -> str:
    """The id an act of `user` on it is recorded under: an anonymous reporter's own acts, under their pseudonym."""
    return improvement.reporter_id if improvement.anonymous and is_reporter(ws, improvement, user) else user
