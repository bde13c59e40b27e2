"""Report and 5 Whys: save the report with its card and first why, take the reporter's answers one by one, and
close the chain at the root cause."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.core.audit import audit
from bot.core.domain import MAX_WHYS, Frequency, Status
from bot.core.forms import USER_ID, clean_text
from bot.core.identity import new_pseudonym
from bot.core.outcomes import Actor, Refused
from bot.core.workspace import WorkspaceRef
from bot.delivery.outbox import Outbox
from bot.improvements import anonymous_views, chronic, chronic_views, views
from bot.improvements.records import acting, id_of, is_reporter, load, touch
from storage import queries
from storage.models import Improvement, ProcessedEvent, Why

RAISED_BY, SOURCE_LINK = "raised_by", "source_link"  # in the report form's context when made from a message
# only links to a message on the platforms themselves: a form's context comes back through the client
_LINK = re.compile(r"https://([a-z0-9-]{1,63}\.slack\.com/archives/|teams\.microsoft\.com/l/message/)\S{1,440}")


def source_of(context: dict[str, str]) -> tuple[str | None, str | None]:
    """(who wrote the message the report was made from, the link to it), each None when absent or malformed."""
    raised, link = context.get(RAISED_BY, ""), context.get(SOURCE_LINK, "")
    return (raised if USER_ID.fullmatch(raised) else None), (link if _LINK.fullmatch(link) else None)


NO_INTAKE = (
    "Reports have no channel here yet: an admin first picks the intake channel in the settings (improve settings)."
)


def submit_report(
    session: Session,
    ws: WorkspaceRef,
    actor: Actor,
    values: dict[str, Any],
    now: datetime,
    context: dict[str, str] | None = None,
) -> Improvement:
    """Save the report (numbered per workspace), then queue its card and the first why in its thread. `context`:
    the form's (a report made from a message names its author and link there)."""
    if not ws.settings.intake_channel:  # a new organisation whose admin has not picked its channels yet
        raise Refused(f"{NO_INTAKE}\nWhat you wrote, to send again then: {str(values.get('problem') or '')[:1000]}")
    raised_by, source_link = source_of(context or {})
    anonymous = bool(values.get("anonymous")) and ws.anonymity
    improvement = Improvement(
        workspace_id=ws.id,
        number=queries.next_number(session, ws.id),
        status=Status.INVESTIGATING.value,
        problem=values["problem"],
        area=values["area"],
        frequency=Frequency(values["frequency"]).value,
        hours_per_week=values.get("hours_per_week"),
        people=values.get("people"),
        customers_notice=bool(values.get("customers_notice") or values.get("customers_how")),
        customers_how=values.get("customers_how") or None,
        idea=values.get("idea"),
        reporter_id=new_pseudonym() if anonymous else actor.user,  # anonymous: the person only sealed, below
        reporter_sealed=ws.sealer.seal(actor.user) if anonymous and ws.sealer else None,
        anonymous=anonymous,
        raised_by=raised_by if raised_by != actor.user else None,
        source_link=None if anonymous and raised_by == actor.user else source_link,  # their own words: unlinked
        owner_id=None if anonymous else actor.user,
        channel_id=ws.settings.intake_channel,
        created_at=now,
        updated_at=now,
    )
    session.add(improvement)
    session.flush()
    session.add(Why(improvement_id=id_of(improvement), position=1, question=improvement.problem))
    earlier = chronic.pattern(session, improvement, improvement.problem)
    outbox = Outbox(session, ws.id, now)
    outbox.refresh_card(improvement)
    if earlier:  # its area keeps producing it: the 5 Whys start from the earlier chains
        outbox.reply(improvement, chronic_views.comeback(improvement, earlier))
    if anonymous:
        outbox.dm(improvement.reporter_id, anonymous_views.welcome(improvement), improvement=improvement)
    ask(outbox, improvement, 1, improvement.problem, "why:1")
    audit(session, ws.id, improvement, improvement.reporter_id, "reported", now, number=improvement.number)
    return improvement


def answer_why(
    session: Session,
    ws: WorkspaceRef,
    *,
    channel: str,
    thread: str,
    user: str,
    text: str,
    ids: tuple[str, ...],
    now: datetime,
    ref: str = "",
) -> Improvement | None:
    """A reply in an improvement's thread (an anonymous reporter answers in private: bot.improvements.anonymous).
    `ref`: the message's own id, so a later edit or deletion of it finds the answer it became. Only the reporter's
    replies during the 5 Whys are answers; everything else in the thread is conversation and left alone. A message
    seen before, under any of its `ids` (a retried event, the same message under a new event id), does nothing."""
    text = clean_text(text)
    improvement = queries.improvement_by_thread(session, ws.id, channel, thread, for_update=True)
    if improvement is None or not text or user != improvement.reporter_id:
        return None  # not an improvement's thread, or not the reporter: nothing to record
    if not ids or any(queries.event_seen(session, ws.id, message_id) for message_id in ids):
        return None
    session.add_all(ProcessedEvent(workspace_id=ws.id, event_id=message_id, at=now) for message_id in ids)
    return improvement if record_answer(session, ws, improvement, user, text, now, ref=ref) else None


def record_answer(
    session: Session, ws: WorkspaceRef, improvement: Improvement, user: str, text: str, now: datetime, *, ref: str = ""
) -> Why | None:
    """`text` answers the open why of the 5 Whys (`user`: the reporter, or their pseudonym), and the next is asked
    (or the chain closes after the fifth). None when no why waits for an answer."""
    if improvement.status != Status.INVESTIGATING.value:
        return None
    whys = list(queries.whys_of(session, improvement.id or 0))
    current = next((w for w in whys if w.answer is None), None)
    if current is None:
        return None
    current.answer = text
    current.answered_by = user
    current.answered_at = now
    current.answer_ref = ref[:200] or None
    session.add(current)
    outbox = Outbox(session, ws.id, now)
    if improvement.anonymous:  # nobody wrote it in the thread: it is passed on there
        outbox.reply(improvement, anonymous_views.answer_passed_on(improvement, current.position, text))
    if improvement.stalled_at is not None:  # picked up again
        improvement.stalled_at = None
        session.add(improvement)
        outbox.refresh_card(improvement)
    audit(session, ws.id, improvement, user, "answered_why", now, position=current.position)
    if current.position >= MAX_WHYS:
        _finish_whys(session, improvement, whys, outbox, now, asked=current)
    else:
        position = current.position + 1
        # after a take-back, "why:N" may name a message already: a question asked anew gets a key of its own
        key = _fresh_key(position) if any(w.message_key for w in whys) else None
        session.add(Why(improvement_id=id_of(improvement), position=position, question=text, message_key=key))
        ask(outbox, improvement, position, text, key or f"why:{position}")
        _settle_question(improvement, current, outbox)
    return current


def ask(outbox: Outbox, improvement: Improvement, position: int, quoted: str, key: str, *, again: bool = False) -> None:
    """Ask why #`position` in the thread; an anonymous reporter gets the question in private, where they answer."""
    outbox.reply(improvement, views.why_question(improvement, position, quoted, again=again), key=key)
    if improvement.anonymous:
        message = anonymous_views.why_in_private(improvement, position, quoted, again=again)
        outbox.dm(improvement.reporter_id, message, improvement=improvement)


CLOSED_UNANSWERED = "Not needed: the answer it quotes is the root cause."


def _settle_question(improvement: Improvement, why: Why, outbox: Outbox) -> None:
    """The question once it is no longer the latest: its Root cause found button goes (edited in place). (An old
    button clicked before the edit arrives is refused by root_cause_found.) Why #1 has none."""
    if why.position > 1:
        settled = None if why.answer else CLOSED_UNANSWERED
        message = views.why_question(improvement, why.position, why.question, live=False, settled=settled)
        outbox.edit(improvement, why_key(why), message)


def why_key(why: Why) -> str:
    """The key of the message that asks this why (a why asked again has a message of its own)."""
    return why.message_key or f"why:{why.position}"


def _finish_whys(
    session: Session, improvement: Improvement, whys: list[Why], outbox: Outbox, now: datetime, *, asked: Why
) -> None:
    """`asked`: the last question posted (answered, or left open when the reporter found the root cause)."""
    touch(session, improvement, Status.ROOT_CAUSE_FOUND, now)
    improvement.stalled_at = None
    outbox.reply(improvement, views.root_cause_chain(improvement, whys), key="chain")
    _settle_question(improvement, asked, outbox)
    root = next((w.answer for w in reversed(whys) if w.answer), None)
    earlier = chronic.pattern(session, improvement, root) if root and improvement.chronic is None else []
    if earlier:
        outbox.reply(improvement, chronic_views.pattern_found(improvement, earlier))
    outbox.refresh_card(improvement)


def root_cause_found(
    session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int, now: datetime, *, asked: int | None = None
) -> None:
    """`asked`: the position of the why whose button was clicked (None: a button from before buttons named it)."""
    improvement = load(session, ws, improvement_id)
    if not is_reporter(ws, improvement, actor.user):
        raise Refused("Only the reporter can close the 5 Whys: the answers are theirs.")
    if improvement.status != Status.INVESTIGATING.value:
        raise Refused(f"The root cause of #{improvement.number} has already been found.")
    whys = list(queries.whys_of(session, improvement_id))
    if not any(w.answer for w in whys):
        raise Refused("Answer at least the first why in the thread first.")
    if asked is not None and asked != whys[-1].position:
        raise Refused(f"That button belongs to Why #{asked}; the 5 Whys have moved on. Use the one under the latest "
                      "why.")  # fmt: skip
    # the open question stays unanswered: drop it so the chain ends at the last answer
    for why in whys:
        if why.answer is None:
            session.delete(why)
    answered = [w for w in whys if w.answer]
    _finish_whys(session, improvement, answered, Outbox(session, ws.id, now), now, asked=whys[-1])
    audit(session, ws.id, improvement, acting(ws, improvement, actor.user), "root_cause_found", now, whys=len(answered))


# -- the reporter changes their mind -------------------------------------------------------------------

WITHDRAWN = "Withdrawn: the answer it quoted was taken back."


def _answer_of(session: Session, ws: WorkspaceRef, ref: str, user: str) -> tuple[Improvement, Why] | None:
    """The answer `ref` became, when `user` wrote it in this workspace."""

    def answer() -> Why | None:
        return session.exec(
            select(Why)
            .join(Improvement, col(Improvement.id) == col(Why.improvement_id))
            .where(Why.answer_ref == ref, Improvement.workspace_id == ws.id)
            .execution_options(populate_existing=True)
        ).first()

    seen = answer()
    locked = queries.improvement_in(session, ws.id, seen.improvement_id, for_update=True) if seen else None
    why = answer() if locked is not None else None  # again under the lock: a concurrent change may have won
    if locked is None or why is None or why.answered_by != user:
        return None
    return locked, why


def change_answer(
    session: Session, ws: WorkspaceRef, *, ref: str, user: str, text: str | None, now: datetime
) -> Improvement | None:
    """The reporter edited (`text`) or deleted (None) a message that was taken as an answer. While the 5 Whys run,
    an edit updates the answer (and the next question, which quotes it) and a deletion takes it back and asks that
    why again; once the root cause is found, an edit still updates the chain, until a fix is proposed."""
    found = _answer_of(session, ws, ref, user)
    if found is None:
        return None
    improvement, why = found
    status = Status(improvement.status)
    outbox = Outbox(session, ws.id, now)
    if text is None:
        if status is not Status.INVESTIGATING:
            return None  # the chain is closed: what was decided on it stays
        take_back(session, improvement, why, outbox)
        audit(session, ws.id, improvement, user, "answer_deleted", now, position=why.position)
        return improvement
    text = clean_text(text)
    if not text or text == why.answer or status not in (Status.INVESTIGATING, Status.ROOT_CAUSE_FOUND):
        return None
    why.answer = text
    session.add(why)
    whys = list(queries.whys_of(session, improvement.id or 0))
    following = next((w for w in whys if w.position == why.position + 1), None)
    if following is not None:
        following.question = text
        session.add(following)
        latest = status is Status.INVESTIGATING and following.answer is None
        settled = None if following.answer or latest else CLOSED_UNANSWERED
        message = views.why_question(improvement, following.position, text, live=latest, settled=settled)
        outbox.edit(improvement, why_key(following), message)
    if status is Status.ROOT_CAUSE_FOUND:
        outbox.edit(improvement, "chain", views.root_cause_chain(improvement, [w for w in whys if w.answer]))
        outbox.refresh_card(improvement)
    audit(session, ws.id, improvement, user, "answer_edited", now, position=why.position)
    return improvement


def take_back(session: Session, improvement: Improvement, why: Why, outbox: Outbox) -> None:
    """Take back `why`'s answer: the questions after it are withdrawn (edited in place) and it is asked again."""
    for later in queries.whys_of(session, improvement.id or 0):
        if later.position > why.position:
            message = views.why_question(improvement, later.position, later.question, live=False, settled=WITHDRAWN)
            outbox.edit(improvement, why_key(later), message)
            session.delete(later)
    why.answer = why.answered_by = why.answered_at = why.answer_ref = None
    why.message_key = _fresh_key(why.position)
    session.add(why)
    session.flush()
    ask(outbox, improvement, why.position, why.question, why.message_key, again=True)


def _fresh_key(position: int) -> str:
    return f"why:{position}:{uuid.uuid4().hex[:12]}"


def not_an_answer(
    session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int, now: datetime, *, asked: int
) -> Improvement:
    """Clicked on Why #`asked`: the answer it quotes (to Why #asked-1) was a chat aside. Take it back, ask again."""
    improvement = load(session, ws, improvement_id)
    if not is_reporter(ws, improvement, actor.user):
        raise Refused("Only the reporter can take an answer back: the answers are theirs.")
    if improvement.status != Status.INVESTIGATING.value:
        raise Refused(f"The 5 Whys of #{improvement.number} are closed; the chain stays as it is.")
    whys = list(queries.whys_of(session, improvement_id))
    if asked != whys[-1].position or asked < 2:
        raise Refused(f"That button belongs to Why #{asked}; the 5 Whys have moved on. Use the one under the latest "
                      "why.")  # fmt: skip
    previous = whys[-2]
    take_back(session, improvement, previous, Outbox(session, ws.id, now))
    audit(session, ws.id, improvement, acting(ws, improvement, actor.user), "not_an_answer", now,
          position=previous.position)  # fmt: skip
    return improvement
