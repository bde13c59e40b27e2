"""`improvebot erase-user`: a person's identity replaced everywhere in one workspace by a stand-in that every
screen shows as "a former teammate", their personal text (why answers and notes) removed, the numbers kept;
what was on its way to them dropped, their scheduled check-ins cancelled. Audited, under the stand-in."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, delete, or_, select

from bot.core.audit import audit
from bot.core.identity import FORMER, FORMER_TEAMMATE, Sealer
from bot.core.messages import Message, Paragraph, Text
from bot.rights import scrub
from storage.models import (
    AuditEntry,
    Checkin,
    Decision,
    Download,
    HomeView,
    Improvement,
    OutboxMessage,
    PostedMessage,
    TeamsReference,
    Why,
    Workspace,
)

REMOVED = "[removed]"
GUID = r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}"
ID_SHAPES = {
    "slack": re.compile(r"[UW][A-Z0-9]{2,20}"),
    "teams": re.compile(GUID),
    "console": re.compile(r"@[\w.-]{1,40}"),
}
ID_HINTS = {"slack": "U… or W…", "teams": "an Azure AD object id", "console": "@name"}
ERASED = "the person's data was erased"


@dataclass(frozen=True)
class Erased:
    stand_in: str  # what their id became
    values: int  # ids replaced
    texts: int  # texts removed


def _their_text(session: Session, workspace_id: int, user: str) -> tuple[int, set[int]]:
    """Their why answers (and the next question, which quotes it) and their notes become "[removed]". Returns how
    many, and the improvements they were in."""
    mine = select(Improvement.id).where(Improvement.workspace_id == workspace_id)
    removed, touched = 0, set()
    for why in session.exec(select(Why).where(Why.answered_by == user, col(Why.improvement_id).in_(mine))).all():
        quoting = session.exec(
            select(Why).where(Why.improvement_id == why.improvement_id, Why.position == why.position + 1)
        ).first()
        if quoting is not None and quoting.question == why.answer:
            quoting.question = REMOVED
            session.add(quoting)
        why.answer, removed = REMOVED, removed + 1
        touched.add(why.improvement_id)
        session.add(why)
    for decision in session.exec(
        select(Decision).where(
            Decision.actor_id == user, col(Decision.improvement_id).in_(mine), col(Decision.text).is_not(None)
        )
    ).all():
        decision.text, removed = REMOVED, removed + 1
        touched.add(decision.improvement_id)
        session.add(decision)
    for checkin in session.exec(
        select(Checkin).where(
            Checkin.workspace_id == workspace_id, Checkin.owner_id == user, col(Checkin.note).is_not(None)
        )
    ).all():
        checkin.note, removed = REMOVED, removed + 1
        touched.add(checkin.improvement_id)
        session.add(checkin)
    marked = set(
        session.exec(
            select(AuditEntry.improvement_id).where(
                AuditEntry.workspace_id == workspace_id, AuditEntry.actor_id == user, AuditEntry.action == "implemented"
            )
        ).all()
    )
    noted = select(Improvement).where(
        Improvement.workspace_id == workspace_id, or_(col(Improvement.id).in_(marked), Improvement.closed_by == user)
    )
    for improvement in session.exec(noted).all():
        if improvement.id in marked and improvement.implemented_note:
            improvement.implemented_note, removed = REMOVED, removed + 1
            touched.add(improvement.id or 0)
        if improvement.closed_by == user and improvement.closed_note:
            improvement.closed_note, removed = REMOVED, removed + 1
            touched.add(improvement.id or 0)
        session.add(improvement)
    _forget_said(session, touched)
    return removed, touched


SAID = Message(summary=REMOVED, blocks=[Paragraph(spans=[Text(text=REMOVED)])]).model_dump(mode="json")


def _forget_said(session: Session, improvements: set[int]) -> None:
    """What was sent in those improvements' threads quoted their words: the copies kept of it go too."""
    kept = select(OutboxMessage).where(
        col(OutboxMessage.improvement_id).in_(improvements),
        col(OutboxMessage.status).in_(["sent", "dead"]),
        col(OutboxMessage.payload).is_not(None),
    )
    for row in session.exec(kept).all():
        row.payload = {"where": "", "message": SAID} if row.kind == "private" else SAID
        session.add(row)


def _stop_reaching(
    session: Session, workspace_id: int, user: str, chats: list[str], anonymous: list[Improvement]
) -> None:
    """Nothing more goes to them, and nothing is kept to reach them by (`chats`: their 1:1 chats; `anonymous`:
    what they reported anonymously)."""
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
    if chats:  # where messages in their 1:1 chat were posted: that chat leads back to them
        session.execute(delete(PostedMessage).where(col(PostedMessage.channel).in_(chats)))
    session.execute(
        delete(TeamsReference).where(
            col(TeamsReference.workspace_id) == workspace_id,
            col(TeamsReference.kind) == "user",
            (col(TeamsReference.key) == user) | (col(TeamsReference.user_id) == user),
        )
    )
    session.execute(delete(Download).where(col(Download.workspace_id) == workspace_id))  # exports may name them
    for improvement in anonymous:  # their anonymous reports: no way back to them
        improvement.reporter_sealed = None
        session.add(improvement)


def check_id(platform: str, user: str) -> str:
    """The id as stored on `platform` (Teams ids are kept lower-cased); ValueError when it cannot be one."""
    user = user.strip()
    shape = ID_SHAPES.get(platform)
    if shape is None or not shape.fullmatch(user if platform != "teams" else user.lower()):
        raise ValueError(f"{user!r} is not a {platform} user id ({ID_HINTS.get(platform, 'unknown platform')})")
    return user.lower() if platform == "teams" else user


def erase(
    session: Session, workspace: Workspace, user: str, now: datetime, sealer: Sealer | None = None
) -> Erased | None:
    """Erase `user` from `workspace` (in the caller's transaction); None when nothing is held about them.
    Raises ValueError when their anonymous reports could not be checked (no key, or another key)."""
    workspace_id = workspace.id or 0
    sealed = session.exec(
        select(Improvement).where(Improvement.workspace_id == workspace_id,
                                  col(Improvement.reporter_sealed).is_not(None))
    ).all()  # fmt: skip
    opened = [(improvement, sealer.unseal(improvement.reporter_sealed) if sealer else None) for improvement in sealed]
    if any(reporter is None for _, reporter in opened):
        raise ValueError("anonymous reports here can only be checked with the server's IMPROVE_SECRET_KEY: set it")
    find = scrub.as_id(user)
    references = session.exec(
        select(TeamsReference).where(
            TeamsReference.workspace_id == workspace_id, TeamsReference.kind == "user", TeamsReference.key == user
        )
    ).all()
    if not any(scrub.places(session, workspace_id, user, find)):
        return None
    stand_in = FORMER + secrets.token_hex(6)
    texts, _ = _their_text(session, workspace_id, user)
    for name in {r.name for r in references if r.name}:  # a mention of them by name in Teams text
        scrub.replace(session, workspace_id, name, re.compile(re.escape(f"<at>{name}</at>")), FORMER_TEAMMATE)
    chats = [r.conversation_id for r in references if r.conversation_id]
    _stop_reaching(session, workspace_id, user, chats, [i for i, reporter in opened if reporter == user])
    session.flush()
    values = scrub.replace(session, workspace_id, user, find, stand_in)
    audit(session, workspace_id, None, "improvebot", "erased_person", now, person=stand_in, ids=values, texts=texts)
    return Erased(stand_in, values, texts)
