"""`improvebot erase-user`: a person's identity replaced everywhere in one workspace by a stand-in that every
screen shows as "a former teammate", their personal text (why answers and notes) removed, the numbers kept;
what was on its way to them dropped, their scheduled check-ins cancelled. Audited, under the stand-in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, delete, select

from bot.core.audit import audit
from bot.core.identity import FORMER, Sealer
from bot.rights import scrub
from storage.models import (
    Checkin,
    Decision,
    Download,
    HomeView,
    Improvement,
    OutboxMessage,
    TeamsReference,
    Why,
    Workspace,
)

REMOVED = "[removed]"
ERASED = "the person's data was erased"


@dataclass(frozen=True)
class Erased:
    stand_in: str  # what their id became
    values: int  # ids replaced
    texts: int  # texts removed


def _their_text(session: Session, workspace_id: int, user: str) -> int:
    """Their why answers (and the next question, which quotes it) and their notes become "[removed]"."""
    mine = select(Improvement.id).where(Improvement.workspace_id == workspace_id)
    removed = 0
    for why in session.exec(select(Why).where(Why.answered_by == user, col(Why.improvement_id).in_(mine))).all():
        quoting = session.exec(
            select(Why).where(Why.improvement_id == why.improvement_id, Why.position == why.position + 1)
        ).first()
        if quoting is not None and quoting.question == why.answer:
            quoting.question = REMOVED
            session.add(quoting)
        why.answer, removed = REMOVED, removed + 1
        session.add(why)
    for decision in session.exec(
        select(Decision).where(
            Decision.actor_id == user, col(Decision.improvement_id).in_(mine), col(Decision.text).is_not(None)
        )
    ).all():
        decision.text, removed = REMOVED, removed + 1
        session.add(decision)
    for checkin in session.exec(
        select(Checkin).where(
            Checkin.workspace_id == workspace_id, Checkin.owner_id == user, col(Checkin.note).is_not(None)
        )
    ).all():
        checkin.note, removed = REMOVED, removed + 1
        session.add(checkin)
    for improvement in session.exec(select(Improvement).where(Improvement.workspace_id == workspace_id)).all():
        if improvement.owner_id == user and improvement.implemented_note:
            improvement.implemented_note, removed = REMOVED, removed + 1
        if improvement.closed_by == user and improvement.closed_note:
            improvement.closed_note, removed = REMOVED, removed + 1
        session.add(improvement)
    return removed


def _stop_reaching(session: Session, workspace_id: int, user: str, now: datetime, sealer: Sealer | None) -> None:
    """Nothing more goes to them, and nothing is kept to reach them by."""
    for row in session.exec(
        select(OutboxMessage).where(
            OutboxMessage.workspace_id == workspace_id, OutboxMessage.target == user, OutboxMessage.status == "pending"
        )
    ).all():
        row.status, row.last_error = "dead", ERASED
        session.add(row)
    for checkin in session.exec(
        select(Checkin).where(
            Checkin.workspace_id == workspace_id,
            Checkin.owner_id == user,
            col(Checkin.status).in_(["scheduled", "sent"]),
        )
    ).all():
        checkin.status = "cancelled"
        session.add(checkin)
    session.execute(delete(HomeView).where(col(HomeView.workspace_id) == workspace_id, col(HomeView.user_id) == user))
    session.execute(
        delete(TeamsReference).where(
            col(TeamsReference.workspace_id) == workspace_id,
            col(TeamsReference.kind) == "user",
            (col(TeamsReference.key) == user) | (col(TeamsReference.user_id) == user),
        )
    )
    session.execute(delete(Download).where(col(Download.workspace_id) == workspace_id))  # exports may name them
    if sealer is None:
        return
    for improvement in session.exec(
        select(Improvement).where(
            Improvement.workspace_id == workspace_id, col(Improvement.reporter_sealed).is_not(None)
        )
    ).all():
        if sealer.unseal(improvement.reporter_sealed) == user:  # their anonymous reports: no way back to them
            improvement.reporter_sealed = None
            session.add(improvement)


def erase(session: Session, workspace: Workspace, user: str, now: datetime, sealer: Sealer | None = None) -> Erased:
    """Erase `user` from `workspace` (in the caller's transaction)."""
    workspace_id = workspace.id or 0
    stand_in = FORMER + secrets.token_hex(6)
    texts = _their_text(session, workspace_id, user)
    _stop_reaching(session, workspace_id, user, now, sealer)
    session.flush()
    values = scrub.replace(session, workspace_id, user, stand_in)
    audit(session, workspace_id, None, "improvebot", "erased_person", now, person=stand_in, ids=values, texts=texts)
    return Erased(stand_in, values, texts)
