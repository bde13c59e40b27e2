"""Reusable queries. Every lookup of an improvement is scoped to one workspace."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlmodel import Session, col, select

from storage.models import Improvement, OutboxMessage, PostedMessage, ProcessedEvent, Why, Workspace


def next_number(session: Session, workspace_id: int) -> int:
    """Atomically take the workspace's next improvement number (#1, #2 …)."""
    statement = (
        update(Workspace)
        .where(col(Workspace.id) == workspace_id)
        .values(last_number=col(Workspace.last_number) + 1)
        .returning(col(Workspace.last_number))
    )
    return int(session.execute(statement).scalar_one())


def improvement_in(
    session: Session, workspace_id: int, improvement_id: int, *, for_update: bool = False
) -> Improvement | None:
    statement = select(Improvement).where(Improvement.id == improvement_id, Improvement.workspace_id == workspace_id)
    if for_update:  # and read as it is once locked, not as this session saw it before
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return session.exec(statement).first()


def improvement_by_number(session: Session, workspace_id: int, number: int) -> Improvement | None:
    return session.exec(
        select(Improvement).where(Improvement.workspace_id == workspace_id, Improvement.number == number)
    ).first()


def whys_of(session: Session, improvement_id: int) -> Sequence[Why]:
    return session.exec(select(Why).where(Why.improvement_id == improvement_id).order_by(col(Why.position))).all()


def answers_of(session: Session, improvement_ids: Sequence[int | None]) -> dict[int, list[str]]:
    """Each improvement's answered whys, in order: the last is where its 5 Whys ended (its root cause once they
    reached one). Improvements without an answer are left out."""
    found: dict[int, list[str]] = {}
    if not improvement_ids:
        return found
    for improvement_id, answer in session.exec(
        select(Why.improvement_id, Why.answer)
        .where(col(Why.improvement_id).in_(improvement_ids), col(Why.answer).is_not(None))
        .order_by(col(Why.improvement_id), col(Why.position))
    ):
        found.setdefault(improvement_id, []).append(answer or "")
    return found


def posted(session: Session, improvement_id: int, key: str) -> PostedMessage | None:
    return session.exec(
        select(PostedMessage).where(PostedMessage.improvement_id == improvement_id, PostedMessage.key == key)
    ).first()


def improvement_by_thread(
    session: Session, workspace_id: int, channel: str, thread: str, *, for_update: bool = False
) -> Improvement | None:
    """The improvement whose card is the parent of this thread, if any."""
    statement = (
        select(Improvement)
        .join(PostedMessage, col(PostedMessage.improvement_id) == col(Improvement.id))
        .where(
            PostedMessage.workspace_id == workspace_id,
            PostedMessage.channel == channel,
            PostedMessage.ref == thread,
            PostedMessage.key == "card",
        )
    )
    if for_update:
        statement = statement.with_for_update(of=Improvement)
    return session.exec(statement).first()


def delivered_in_thread(session: Session, improvement_id: int) -> Sequence[OutboxMessage]:
    """Thread replies and their in-place edits that reached the platform, oldest first."""
    return session.exec(
        select(OutboxMessage)
        .where(
            OutboxMessage.improvement_id == improvement_id,
            col(OutboxMessage.kind).in_(("thread", "update")),
            OutboxMessage.status == "sent",
        )
        .order_by(col(OutboxMessage.id))
    ).all()


def event_seen(session: Session, workspace_id: int, event_id: str) -> bool:
    return (
        session.exec(
            select(ProcessedEvent.id).where(
                ProcessedEvent.workspace_id == workspace_id, ProcessedEvent.event_id == event_id
            )
        ).first()
        is not None
    )
