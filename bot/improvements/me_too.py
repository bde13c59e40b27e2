"""Me too: people who say a problem bites them too, each counted once (a second click takes it back). Until the
case is approved each one adds to the people affected, so the estimate grows with them; a teammate who reports a
duplicate is counted the same way. The count ranks the open problems (bot.improvements.ranking)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.core.audit import audit
from bot.core.domain import OPEN_STATUSES, Status
from bot.core.outcomes import Actor, Refused
from bot.core.workspace import WorkspaceRef
from bot.delivery.outbox import Outbox
from bot.improvements import chronic, forms
from bot.improvements.ledger import estimate_locked
from bot.improvements.records import id_of, is_reporter, load
from storage.models import AuditEntry, Improvement, MeToo

ACTION = "me_too"
TAKEN_BACK = "me_too_taken_back"  # the audit entry of a voice taken back
# a second click this soon after the first is the same click twice, not a change of mind
DOUBLE_CLICK = timedelta(seconds=5)


def people_line(count: int) -> str:
    """'6 people say this bites them too'."""
    return f"{count:,} {'person says' if count == 1 else 'people say'} this bites them too"


def add(session: Session, improvement: Improvement, user: str, source: str, now: datetime) -> bool:
    """Count `user` once for `improvement` (locked by the caller); False when they count already (its reporter
    always does)."""
    if user == improvement.reporter_id or _voice(session, improvement, user) is not None:
        return False
    grows = not estimate_locked(improvement) and improvement.people is not None
    grows = grows and (improvement.people or 0) < forms.MAX_PEOPLE
    try:
        with session.begin_nested():
            session.add(MeToo(workspace_id=improvement.workspace_id, improvement_id=id_of(improvement), user_id=user,
                              counted=grows, source=source, created_at=now))  # fmt: skip
    except IntegrityError:  # counted a moment ago by another request
        return False
    improvement.me_too += 1
    if grows:
        improvement.people = (improvement.people or 0) + 1
    chronic.counted(improvement)
    session.add(improvement)
    return True


def counts(session: Session, improvement: Improvement, user: str) -> bool:
    """Whether `user` counts for `improvement` already (its reporter, or a voice)."""
    return user == improvement.reporter_id or _voice(session, improvement, user) is not None


def remove(session: Session, improvement: Improvement, user: str, source: str | None = None) -> bool:
    """`user` no longer counts for `improvement` (`source`: only a voice given that way); the people affected
    shrink back unless the case was approved since. False when they did not count."""
    voice = _voice(session, improvement, user)
    if voice is None or (source is not None and voice.source != source):
        return False
    session.delete(voice)
    improvement.me_too = max(0, improvement.me_too - 1)
    if voice.counted and not estimate_locked(improvement) and (improvement.people or 0) > 1:
        improvement.people = (improvement.people or 0) - 1
    session.add(improvement)
    return True


def settled(session: Session, improvement: Improvement) -> None:
    """The people affected were given anew (the report edited): the voices so far are in that number, so taking
    one back no longer subtracts."""
    session.execute(update(MeToo).where(col(MeToo.improvement_id) == improvement.id).values(counted=False))


def toggle(session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int, now: datetime) -> str:
    """The "Me too" button: counts the person, or takes their voice back. Returns what to tell them."""
    improvement = load(session, ws, improvement_id)
    if Status(improvement.status) not in OPEN_STATUSES:
        raise Refused(f"#{improvement.number} is not an open problem any more: there is nothing to add a voice to.")
    if is_reporter(ws, improvement, actor.user):
        raise Refused(f"You reported #{improvement.number}: you count already.")
    voice = _voice(session, improvement, actor.user)
    if voice is not None and now - voice.created_at < DOUBLE_CLICK:
        return f"You're counted already: {people_line(improvement.me_too)}."
    if voice is None and _taken_back(session, improvement, actor.user, now - DOUBLE_CLICK):
        return f"Taken back already: you no longer count for #{improvement.number}."
    before = improvement.people
    if voice is not None:
        remove(session, improvement, actor.user)
        said = f"Taken back: you no longer count for #{improvement.number}."
        action = TAKEN_BACK
    else:
        add(session, improvement, actor.user, "button", now)
        said = f"Counted: {people_line(improvement.me_too)}. Click Me too again to take it back."
        action = "me_too"
    Outbox(session, ws.id, now).refresh_card(improvement)
    people = [before, improvement.people]
    audit(session, ws.id, improvement, actor.user, action, now, count=improvement.me_too, people=people)
    return said


def _taken_back(session: Session, improvement: Improvement, user: str, since: datetime) -> bool:
    """`user` took their voice back a moment ago (a double click on the way out is one click too)."""
    mine = (AuditEntry.improvement_id == improvement.id, AuditEntry.actor_id == user, AuditEntry.action == TAKEN_BACK)
    return session.exec(select(AuditEntry.id).where(*mine, col(AuditEntry.at) >= since)).first() is not None


def _voice(session: Session, improvement: Improvement, user: str) -> MeToo | None:
    return session.exec(select(MeToo).where(MeToo.improvement_id == improvement.id, MeToo.user_id == user)).first()
