"""Similar reports at intake. Before a report is saved it is compared with the workspace's open problems (their
problem, whys and root cause: bot.improvements.similar); when it looks like one, the reporter is offered, on the
form itself, to add their voice to it instead (counted once, what they wrote goes into its thread) or to report
it as new. Nothing is saved until they choose."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.core.audit import audit
from bot.core.domain import OPEN_STATUSES, Status
from bot.core.messages import Form
from bot.core.outcomes import Actor, AskFirst, Invalid
from bot.core.registry import Answer, number
from bot.core.workspace import WorkspaceRef
from bot.delivery.outbox import Outbox
from bot.improvements import forms, me_too
from bot.improvements.intake_views import CHOICE, NEW, OFFERED, Match, choice_field, offer_form, voice_reply
from bot.improvements.ledger import estimate_locked
from bot.improvements.records import is_reporter, load
from bot.improvements.similar import SIMILAR_AT, similarity
from storage import queries
from storage.models import Improvement

MAX_COMPARED = 300  # the most recently active open problems a report is compared with (the form waits for it)
MAX_OFFERED = 3
COMPARED_CHARS = 400  # the opening of each text that is compared (a problem says what it is about up front)


def matches(session: Session, ws: WorkspaceRef, user: str, problem: str) -> list[Match]:
    """The open problems `problem` looks like, most alike first (not `user`'s own reports). Each text is compared
    by its opening (COMPARED_CHARS): the check runs while the form waits, so its cost stays bounded."""
    problem = problem[:COMPARED_CHARS]
    open_ = [s.value for s in OPEN_STATUSES]
    rows = session.exec(
        select(Improvement.id, Improvement.number, Improvement.problem, Improvement.me_too)
        .where(Improvement.workspace_id == ws.id, col(Improvement.status).in_(open_), Improvement.reporter_id != user)
        .order_by(col(Improvement.updated_at).desc())
        .limit(MAX_COMPARED)
    ).all()
    answers = queries.answers_of(session, [r[0] for r in rows])  # at most MAX_WHYS each
    found = []
    for improvement_id, shown, text, voices in rows:
        texts = (text, *answers.get(improvement_id or 0, []))
        score = max(similarity(problem, other[:COMPARED_CHARS]) for other in texts)
        if score >= SIMILAR_AT:
            found.append(Match(id=improvement_id or 0, number=shown, problem=text, voices=voices, score=score))
    found.sort(key=lambda m: (-m.score, -m.number))
    return found[:MAX_OFFERED]


def reshape(form: Form, context: dict[str, str]) -> Form:
    """The report form as the offer showed it (its choice first), to read and validate the answer to it."""
    if OFFERED not in context:
        return form
    return form.model_copy(update={"fields": [choice_field(offered(context)), *form.fields]})


def offered(context: dict[str, str]) -> list[tuple[str, str]]:
    """(improvement id, "#number") of each problem the offer in `context` made; malformed entries are left out."""
    found = []
    for entry in context.get(OFFERED, "").split(",")[:MAX_OFFERED]:
        id_, _, shown = entry.partition(":")
        try:
            found.append((str(number(id_)), f"#{number(shown)}"))
        except ValueError:
            continue
    return found


def before_report(session: Session, ws: WorkspaceRef, actor: Actor, answer: Answer, now: datetime) -> str | None:
    """Called before a report is saved. On its first submission, raises AskFirst with the offer when it looks like
    an open problem; once the reporter chose to add their voice, adds it and answers what to tell them. None:
    save the report."""
    if answer.values.get("anonymous") and ws.anonymity:
        return None  # an anonymous report is never turned into a voice: a voice is named
    if OFFERED not in answer.context:
        found = matches(session, ws, actor.user, answer.values["problem"])
        if found:
            raise AskFirst(offer_form(forms.report_form(ws.settings), answer.values, answer.context, found))
        return None
    choice = answer.values.get(CHOICE)
    if not choice or choice == NEW:
        return None
    return add_voice(session, ws, actor, number(choice), answer.values, now)


def add_voice(
    session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int, values: dict[str, Any], now: datetime
) -> str:
    """The reporter chose to join open problem `improvement_id`: counted once, their words in its thread."""
    improvement = load(session, ws, improvement_id, closed_ok=True)
    if Status(improvement.status) not in OPEN_STATUSES:
        raise Invalid({CHOICE: f"#{improvement.number} was closed a moment ago. Choose to report it as new."})
    if is_reporter(ws, improvement, actor.user):
        raise Invalid({CHOICE: f"You reported #{improvement.number}: you count already. Report it as new instead."})
    before = improvement.people
    added = me_too.add(session, improvement, actor.user, "intake", now)
    noticed = added and not estimate_locked(improvement) and _customers_notice(improvement, values)
    outbox = Outbox(session, ws.id, now)
    outbox.reply(improvement, voice_reply(actor.user, values))
    if added or noticed:
        outbox.refresh_card(improvement)
    audit(session, ws.id, improvement, actor.user, "me_too", now, count=improvement.me_too,
          people=[before, improvement.people], source="intake", added=added, customers=noticed)  # fmt: skip
    counted = f"Counted: {me_too.people_line(improvement.me_too)}." if added else "You were counted already."
    return f"{counted} Nothing new was opened: what you wrote is in the thread of #{improvement.number}."


def _customers_notice(improvement: Improvement, values: dict[str, Any]) -> bool:
    """A counted voice, before the case is approved, says customers notice it where the report did not: they do
    now (ranked so), in the voice's words (the thread shows who said so). True when that changed the report."""
    if improvement.customers_notice or not (values.get("customers_notice") or values.get("customers_how")):
        return False
    improvement.customers_notice = True
    improvement.customers_how = improvement.customers_how or values.get("customers_how") or None
    return True
