"""Anonymous reports: the reporter answers the 5 Whys and approvers' questions in private, and the bot passes
their words on to the thread as "the reporter"; they may reveal themselves (confirmed) and own the fix.

Their id is only ever sealed (bot.core.identity): a private message is matched to their reports by opening the
sealed ids of the workspace's open anonymous reports, one by one."""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Session, col, select, update

from bot.core.audit import audit
from bot.core.domain import Status
from bot.core.forms import clean_text
from bot.core.outcomes import Actor, Refused, Show
from bot.core.registry import Reply
from bot.core.workspace import WorkspaceRef
from bot.delivery.outbox import Outbox
from bot.improvements import anonymous_views, me_too, report
from bot.improvements.records import is_reporter, load
from storage import queries
from storage.models import AuditEntry, Decision, Improvement, MeToo, OutboxMessage, ProcessedEvent, Why

# where the reporter still has something to say: the 5 Whys, and the fix until it is decided
RELAYED = [s.value for s in (Status.INVESTIGATING, Status.ROOT_CAUSE_FOUND, Status.AWAITING_APPROVAL,
                             Status.QUESTION_ASKED)]  # fmt: skip
PASSED_ON = "passed-on"  # an answer's ref when it was written in private and passed on (never a message's own id)
NUMBERED = re.compile(r"#(\d{1,9})\b[\s:,.–-]*")  # "#5 because …": which report a message is about


def _theirs(session: Session, ws: WorkspaceRef, user: str) -> list[Improvement]:
    """`user`'s open anonymous reports in this workspace, oldest first."""
    if ws.sealer is None:
        return []
    rows = session.exec(
        select(Improvement)
        .where(
            Improvement.workspace_id == ws.id,
            col(Improvement.anonymous).is_(True),
            col(Improvement.reporter_sealed).is_not(None),
            col(Improvement.status).in_(RELAYED),
        )
        .order_by(col(Improvement.number))
    ).all()
    return [row for row in rows if ws.sealer.unseal(row.reporter_sealed) == user]


def private_message(session: Session, ws: WorkspaceRef, message: Reply, user: str, now: datetime) -> bool:
    """A message `user` wrote to the bot in private: when they reported anonymously, it answers the open why of
    their report, or else is passed on to its thread. With several open reports it names one ("#5 …"). A message
    seen before, under any of its ids, does nothing more."""
    text = clean_text(message.text)
    theirs = _theirs(session, ws, user) if text and message.kind == "new" else []
    if not theirs:
        return False
    if not message.ids or any(queries.event_seen(session, ws.id, i) for i in message.ids):
        return True
    session.add_all(ProcessedEvent(workspace_id=ws.id, event_id=i, at=now) for i in message.ids)
    outbox = Outbox(session, ws.id, now)
    named = NUMBERED.match(text)
    chosen = [i for i in theirs if named and i.number == int(named.group(1))]
    if chosen and named:
        text = text[named.end() :].strip()
    elif len(theirs) == 1:
        chosen = theirs
    if len(chosen) != 1 or not text:
        which = anonymous_views.which_one([i.number for i in theirs])
        outbox.dm(theirs[0].reporter_id, which, improvement=theirs[0])
        return True
    improvement = queries.improvement_in(session, ws.id, chosen[0].id or 0, for_update=True)
    if improvement is None or not improvement.anonymous or improvement.status not in RELAYED:
        return False  # revealed or moved on a moment ago
    if report.record_answer(session, ws, improvement, improvement.reporter_id, text, now, ref=PASSED_ON) is None:
        outbox.reply(improvement, anonymous_views.words_passed_on(improvement, text))
        audit(session, ws.id, improvement, improvement.reporter_id, "said_in_private", now)
        outbox.dm(improvement.reporter_id, anonymous_views.passed_on(improvement), improvement=improvement)
    elif improvement.status != Status.INVESTIGATING.value:  # the last why: no question follows to show it went
        outbox.dm(improvement.reporter_id, anonymous_views.passed_on(improvement), improvement=improvement)
    return True


def _own_anonymous(session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int) -> Improvement:
    improvement = load(session, ws, improvement_id, closed_ok=True)
    if not improvement.anonymous:
        raise Refused(f"#{improvement.number} already names who reported it.")
    if not is_reporter(ws, improvement, actor.user):
        raise Refused("Only its reporter can reveal who reported it.")
    return improvement


def ask_reveal(session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int) -> Show:
    """Reveal myself: confirmed first, in private."""
    return Show(anonymous_views.confirm_reveal(_own_anonymous(session, ws, actor, improvement_id)))


def reveal(session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int, now: datetime) -> Improvement:
    """The reporter puts their name to it: the pseudonym becomes their id everywhere it stood (whys, decisions,
    the audit trail, messages on their way), the sealed id is dropped, and they own the fix unless someone does."""
    improvement = _own_anonymous(session, ws, actor, improvement_id)
    pseudonym, user = improvement.reporter_id, actor.user
    outbox = Outbox(session, ws.id, now)
    for voice in session.exec(select(MeToo).where(MeToo.user_id == pseudonym)).all():
        other = queries.improvement_in(session, ws.id, voice.improvement_id, for_update=True)
        named = session.exec(select(MeToo).where(MeToo.improvement_id == voice.improvement_id, MeToo.user_id == user))
        if other is not None and (other.reporter_id == user or named.first() is not None):
            me_too.remove(session, other, pseudonym, voice.source)  # they count there already: once is enough
            outbox.refresh_card(other)
    replaced = (
        update(Why).where(col(Why.answered_by) == pseudonym, col(Why.improvement_id) == improvement.id)
        .values(answered_by=user),
        update(Decision).where(col(Decision.actor_id) == pseudonym, col(Decision.improvement_id) == improvement.id)
        .values(actor_id=user),
        update(AuditEntry).where(col(AuditEntry.actor_id) == pseudonym, col(AuditEntry.workspace_id) == ws.id)
        .values(actor_id=user),
        update(OutboxMessage).where(col(OutboxMessage.target) == pseudonym, col(OutboxMessage.status) == "pending")
        .values(target=user),
        update(MeToo).where(col(MeToo.user_id) == pseudonym).values(user_id=user),
    )  # fmt: skip
    for statement in replaced:
        session.execute(statement)
    improvement.anonymous = False
    improvement.reporter_id = user
    improvement.reporter_sealed = None
    improvement.owner_id = improvement.owner_id or user
    if improvement.closed_by == pseudonym:
        improvement.closed_by = user
    improvement.updated_at = now
    session.add(improvement)
    outbox.reply(improvement, anonymous_views.revealed(improvement))
    outbox.refresh_card(improvement)
    audit(session, ws.id, improvement, user, "revealed", now)
    return improvement
