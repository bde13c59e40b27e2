"""Edit: the reporter, the owner or an approver fixes the report's facts (a typo, a number) at any time; the card
updates in place with the case recalculated, the thread says what changed, and the change is audited. (The fix
is edited through the proposal form: bot.improvements.approval, `edit=True`.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.core.audit import audit
from bot.core.domain import Frequency, Status, format_number
from bot.core.messages import Form
from bot.core.outcomes import Actor, Invalid, Refused
from bot.core.workspace import WorkspaceRef
from bot.delivery.outbox import Outbox
from bot.improvements import closing_views, forms, me_too, views
from bot.improvements.approval import may_decide
from bot.improvements.card import owner_of
from bot.improvements.ledger import estimate_locked
from bot.improvements.records import acting, is_reporter, load
from bot.improvements.report import why_key
from storage import queries
from storage.models import Improvement

FACTS = {  # field -> how the thread names it
    "problem": "the problem",
    "area": "process area",
    "frequency": "how often",
    "hours_per_week": "hours lost per week",
    "people": "people affected",
    "customers_notice": "customers notice",
    "customers_how": "how customers notice it",
}


def _check_editor(session: Session, ws: WorkspaceRef, improvement: Improvement, actor: Actor) -> None:
    if is_reporter(ws, improvement, actor.user) or actor.user == owner_of(improvement):
        return
    if may_decide(session, improvement, actor):
        return
    raise Refused(f"Only the reporter, the owner or an approver can edit #{improvement.number}.")


def _facts(improvement: Improvement) -> forms.ReportFacts:
    return forms.ReportFacts(
        problem=improvement.problem,
        area=improvement.area,
        frequency=improvement.frequency,
        hours_per_week=improvement.hours_per_week,
        people=improvement.people,
        customers_notice=improvement.customers_notice,
        customers_how=improvement.customers_how,
        voices=improvement.me_too,
    )


def edit_form(session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int) -> Form:
    improvement = load(session, ws, improvement_id)
    _check_editor(session, ws, improvement, actor)
    return forms.edit_report_form(
        ws.settings,
        improvement.number,
        _facts(improvement),
        {"improvement": str(improvement.id)},
        locked=estimate_locked(improvement),
    )


def _shown(field: str, value: Any) -> str:
    if value is None:
        return "not given"
    if field == "hours_per_week":
        return format_number(float(value))
    if field == "people":
        return f"{int(value):,}"
    if field == "frequency":
        return Frequency(value).label
    if field == "customers_notice":
        return "yes" if value else "no"
    return str(value)


def edit_report(
    session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int, values: dict[str, Any], now: datetime
) -> Improvement:
    improvement = load(session, ws, improvement_id)
    _check_editor(session, ws, improvement, actor)
    if values.get("customers_how") and not values.get("customers_notice"):
        raise Invalid({"customers_how": "Customers notice it if you say how: tick the box, or clear this."})
    changes: list[tuple[str, str, str]] = []
    for field, name in FACTS.items():
        if field in forms.LOCKED_CASE and estimate_locked(improvement):
            continue  # approved: the case stays as approved (a form opened before the approval may still send it)
        old, new = getattr(improvement, field), values.get(field)
        if field == "customers_notice":
            new = bool(new)
        if field == "customers_how":
            new = new or None
        if old == new:
            continue
        shown = ("", "") if field == "problem" else (_shown(field, old), _shown(field, new))
        changes.append((name, *shown))
        setattr(improvement, field, new)
    if not changes:
        return improvement  # saved as it was: nothing to say
    if any(name == FACTS["people"] for name, _, _ in changes):
        me_too.settled(session, improvement)  # the number given now includes everyone who said Me too so far
    session.add(improvement)  # (updated_at stays: it says since when the improvement waits at its stage)
    outbox = Outbox(session, ws.id, now)
    first = next(iter(queries.whys_of(session, improvement.id or 0)), None)
    if values.get("problem") is not None and first is not None and first.question != improvement.problem:
        first.question = improvement.problem  # Why #1 quotes the problem: it reads as edited too
        session.add(first)
        asking = improvement.status == Status.INVESTIGATING.value and first.answer is None
        outbox.edit(improvement, why_key(first), views.why_question(improvement, 1, first.question, live=asking))
    who = acting(ws, improvement, actor.user)  # an anonymous reporter edits as "a teammate"
    outbox.reply(improvement, closing_views.edited(improvement, who, changes, ws.settings))
    outbox.refresh_card(improvement)
    audit(session, ws.id, improvement, who, "edited", now, fields=[name for name, _, _ in changes])
    return improvement
