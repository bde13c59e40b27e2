"""Ways out: close an improvement with a reason (withdrawn by its reporter, won't fix by an approver, a duplicate
of another by anyone), and reopen it (an approver). A closed improvement leaves every list, reminder and check-in
(the capabilities that chase it listen for `Moved`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.core.audit import audit
from bot.core.domain import CloseReason, Status
from bot.core.messages import Form
from bot.core.outcomes import Actor, Invalid, Refused
from bot.core.workspace import WorkspaceRef
from bot.delivery.outbox import Outbox
from bot.improvements import chronic, chronic_views, closing_views, forms, me_too, readings
from bot.improvements.approval import asked_in, may_decide
from bot.improvements.records import acting, is_reporter, load, owner_key, touch
from storage import queries
from storage.models import Improvement


def _reasons(session: Session, ws: WorkspaceRef, improvement: Improvement, actor: Actor) -> list[CloseReason]:
    reasons = [CloseReason.WITHDRAWN] if is_reporter(ws, improvement, actor.user) else []
    if may_decide(session, improvement, actor):
        reasons.append(CloseReason.WONT_FIX)
    return [*reasons, CloseReason.DUPLICATE]


def _check_closable(improvement: Improvement) -> None:
    if improvement.status == Status.SUSTAINED.value:
        raise Refused(f"#{improvement.number} is sustained: it is done, there is nothing to close.")


def close_form(session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int) -> Form:
    improvement = load(session, ws, improvement_id)
    _check_closable(improvement)
    reasons = _reasons(session, ws, improvement, actor)
    return forms.close_form(improvement.number, reasons, {"improvement": str(improvement.id)})


def close(
    session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int, values: dict[str, Any], now: datetime
) -> Improvement:
    improvement = load(session, ws, improvement_id)
    _check_closable(improvement)
    reason = CloseReason(values["reason"])
    if reason not in _reasons(session, ws, improvement, actor):
        who = "the reporter" if reason is CloseReason.WITHDRAWN else "an approver"
        raise Refused(f"Only {who} can close #{improvement.number} as {reason.label.lower()}.")
    note = values.get("note")
    if reason is CloseReason.WONT_FIX and not note:
        raise Invalid({"note": "Say why it won't be fixed: the reporter and the team deserve a reason."})
    original = _original(session, ws, improvement, values) if reason is CloseReason.DUPLICATE else None
    if improvement.status == Status.IMPLEMENTED.value:
        readings.ended(session, improvement, "closed", now)  # it no longer counts as live from here
    waited = improvement.status == Status.AWAITING_APPROVAL.value  # on the people asked to decide it
    improvement.reopen_status = improvement.status
    improvement.closed_reason = reason.value
    improvement.closed_note = note
    improvement.closed_by = acting(ws, improvement, actor.user)  # an anonymous reporter withdraws unseen
    improvement.closed_at = now
    improvement.duplicate_of = original.number if original else None
    touch(session, improvement, Status.CLOSED, now)
    outbox = Outbox(session, ws.id, now)
    outbox.reply(improvement, closing_views.closed(improvement))
    outbox.refresh_card(improvement)
    _refresh_asked(session, outbox, improvement, waited)
    audit(
        session,
        ws.id,
        improvement,
        improvement.closed_by,
        "closed",
        now,
        reason=reason.value,
        of=improvement.duplicate_of,
    )
    if original is not None:
        before = original.people
        # the reporter of the duplicate is affected too: a voice of its own, as a "Me too" (updated_at stays: it
        # says since when the original waits at its stage)
        if not _counted_already(ws, improvement, original, session):
            me_too.add(session, original, improvement.reporter_id, "duplicate", now)
        outbox.reply(original, closing_views.duplicate_joined(original, improvement, before))
        outbox.refresh_card(original)
        audit(session, ws.id, original, improvement.closed_by, "duplicate_joined", now, duplicate=improvement.number)
    return improvement


def _counted_already(ws: WorkspaceRef, duplicate: Improvement, original: Improvement, session: Session) -> bool:
    """An anonymous duplicate's reporter may count for the original already (its reporter, or a voice): their
    pseudonym would count them twice. Their id is opened to check, and stored nowhere."""
    real = ws.sealer.unseal(duplicate.reporter_sealed) if duplicate.anonymous and ws.sealer else None
    return real is not None and (is_reporter(ws, original, real) or me_too.counts(session, original, real))


def _refresh_asked(session: Session, outbox: Outbox, improvement: Improvement, waits: bool) -> None:
    """The homes of the people asked to decide it: it stopped (or started again) waiting on them."""
    asked = asked_in(session, improvement) if waits else None
    if asked is not None:
        outbox.refresh_homes(asked.people)


def _original(session: Session, ws: WorkspaceRef, improvement: Improvement, values: dict[str, Any]) -> Improvement:
    number = values.get("duplicate_of")
    if number is None:
        raise Invalid({"duplicate_of": "Which improvement does it duplicate? Give its number."})
    found = queries.improvement_by_number(session, ws.id, int(number))
    if found is None:
        raise Invalid({"duplicate_of": f"There is no #{int(number)} in this workspace."})
    if found.id == improvement.id:
        raise Invalid({"duplicate_of": "An improvement cannot duplicate itself."})
    original = load(session, ws, found.id or 0, closed_ok=True)  # locked, and read as it is now
    if original.status == Status.CLOSED.value:
        raise Invalid({"duplicate_of": f"#{original.number} is closed too; give the one that is still open."})
    return original


def reopen(session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int, now: datetime) -> Improvement:
    improvement = load(session, ws, improvement_id, closed_ok=True)
    if improvement.status != Status.CLOSED.value:
        raise Refused(f"#{improvement.number} is not closed.")
    if not may_decide(session, improvement, actor):
        raise Refused(f"Only an approver can reopen #{improvement.number}.")
    back = Status(improvement.reopen_status or Status.INVESTIGATING.value)
    outbox = Outbox(session, ws.id, now)
    if back in (Status.IMPLEMENTED, Status.APPROVED):
        # back in progress with a Mark implemented button of its own (a new cycle: its check-ins were cancelled)
        back = Status.APPROVED
        improvement.cycle += 1
        improvement.unverified_at = improvement.overdue_at = None
    if improvement.closed_reason == CloseReason.DUPLICATE.value and improvement.duplicate_of is not None:
        found = queries.improvement_by_number(session, ws.id, improvement.duplicate_of)
        original = load(session, ws, found.id or 0, closed_ok=True) if found else None  # locked: counts add up
        if original is not None and me_too.remove(session, original, improvement.reporter_id, "duplicate"):
            outbox.refresh_card(original)
    improvement.closed_reason = improvement.closed_note = improvement.closed_by = None
    improvement.closed_at = improvement.duplicate_of = improvement.reopen_status = None
    touch(session, improvement, back, now)
    live = back is Status.APPROVED  # the owner's Mark implemented button, under the key the next edit finds
    message = closing_views.reopened(improvement, actor.user, live=live)
    outbox.reply(improvement, message, key=owner_key(improvement) if live else None)
    if live:
        count_reopening(session, improvement, outbox)
    outbox.refresh_card(improvement)
    _refresh_asked(session, outbox, improvement, back is Status.AWAITING_APPROVAL)
    audit(session, ws.id, improvement, actor.user, "reopened", now, status=back.value)
    return improvement


def count_reopening(session: Session, improvement: Improvement, outbox: Outbox) -> None:
    """The fix was reopened (its cycle bumped): a second time makes it chronic, and the thread is told."""
    if chronic.counted(improvement) and improvement.chronic == chronic.REOPENED:
        answered = [w for w in queries.whys_of(session, improvement.id or 0) if w.answer]
        outbox.reply(improvement, chronic_views.slipped_again(improvement, answered[-1].answer if answered else None))
