"""The improvement lifecycle's use cases: report -> 5 Whys -> proposal -> approval -> implemented.

Each runs inside one transaction (the caller's session), checks who may act, changes state, and queues what
should be said in the outbox. None of them talks to a chat platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from bot import forms, views
from bot.domain import MAX_WHYS, Frequency, Status
from bot.messages import Form
from bot.outbox import Outbox, audit
from bot.workspace import WorkspaceRef
from storage import queries
from storage.models import Decision, Improvement, ProcessedEvent, Why


class Refused(Exception):
    """The person may not do this now; the message is shown to them privately."""


@dataclass(frozen=True)
class Actor:
    user: str
    is_approver: bool = False


def _load(session: Session, ws: WorkspaceRef, improvement_id: int) -> Improvement:
    improvement = queries.improvement_in(session, ws.id, improvement_id, for_update=True)
    if improvement is None:
        raise Refused("I can't find that improvement in this workspace.")
    return improvement


def _id(improvement: Improvement) -> int:
    assert improvement.id is not None, "flushed improvements have an id"
    return improvement.id


def _touch(session: Session, improvement: Improvement, status: Status, now: datetime) -> None:
    improvement.status = status.value
    improvement.updated_at = now
    session.add(improvement)


def owner_key(improvement: Improvement) -> str:
    """The message that carries the live "Mark implemented" button (a reopened fix gets a new one)."""
    return f"owner:{improvement.approval_round}" if improvement.cycle == 0 else f"reopen:{improvement.cycle}"


def _owner(improvement: Improvement) -> str:
    return improvement.owner_id or improvement.reporter_id


# -- report -------------------------------------------------------------------------------------------


def submit_report(
    session: Session, ws: WorkspaceRef, actor: Actor, values: dict[str, Any], now: datetime
) -> Improvement:
    """Save the report (numbered per workspace), then queue its card and the first why in its thread."""
    improvement = Improvement(
        workspace_id=ws.id,
        number=queries.next_number(session, ws.id),
        status=Status.INVESTIGATING.value,
        problem=values["problem"],
        area=values["area"],
        frequency=Frequency(values["frequency"]).value,
        hours_per_week=values.get("hours_per_week"),
        people=values.get("people"),
        customers_notice=bool(values.get("customers_notice")),
        idea=values.get("idea"),
        reporter_id=actor.user,
        owner_id=actor.user,
        channel_id=ws.settings.intake_channel,
        created_at=now,
        updated_at=now,
    )
    session.add(improvement)
    session.flush()
    session.add(Why(improvement_id=_id(improvement), position=1, question=improvement.problem))
    outbox = Outbox(session, ws.id, now)
    outbox.refresh_card(improvement)
    outbox.reply(improvement, views.why_question(improvement, 1, improvement.problem), key="why:1")
    audit(session, ws.id, improvement, actor.user, "reported", now, number=improvement.number)
    return improvement


# -- 5 Whys -------------------------------------------------------------------------------------------


def answer_why(
    session: Session,
    ws: WorkspaceRef,
    *,
    channel: str,
    thread: str,
    user: str,
    text: str,
    event_id: str,
    now: datetime,
) -> Improvement | None:
    """A reply in an improvement's thread. Only the reporter's replies during the 5 Whys are answers;
    everything else in the thread is conversation and left alone. A replayed event does nothing."""
    text = text.strip()
    improvement = queries.improvement_by_thread(session, ws.id, channel, thread, for_update=True)
    if improvement is None or not text or user != improvement.reporter_id:
        return None  # not an improvement's thread, or not the reporter: nothing to record
    if queries.event_seen(session, ws.id, event_id):
        return None
    session.add(ProcessedEvent(workspace_id=ws.id, event_id=event_id, at=now))
    if improvement.status != Status.INVESTIGATING.value:
        return None
    whys = list(queries.whys_of(session, improvement.id or 0))
    current = next((w for w in whys if w.answer is None), None)
    if current is None:
        return None
    current.answer = text
    current.answered_by = user
    current.answered_at = now
    session.add(current)
    outbox = Outbox(session, ws.id, now)
    audit(session, ws.id, improvement, user, "answered_why", now, position=current.position)
    if current.position >= MAX_WHYS:
        _finish_whys(session, improvement, whys, outbox, now)
    else:
        position = current.position + 1
        session.add(Why(improvement_id=_id(improvement), position=position, question=text))
        outbox.reply(improvement, views.why_question(improvement, position, text), key=f"why:{position}")
    return improvement


def _finish_whys(session: Session, improvement: Improvement, whys: list[Why], outbox: Outbox, now: datetime) -> None:
    _touch(session, improvement, Status.ROOT_CAUSE_FOUND, now)
    outbox.reply(improvement, views.root_cause_chain(improvement, whys), key="chain")
    outbox.refresh_card(improvement)


def root_cause_found(session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int, now: datetime) -> None:
    improvement = _load(session, ws, improvement_id)
    if actor.user != improvement.reporter_id:
        raise Refused("Only the reporter can close the 5 Whys: the answers are theirs.")
    if improvement.status != Status.INVESTIGATING.value:
        raise Refused(f"The root cause of #{improvement.number} has already been found.")
    whys = list(queries.whys_of(session, improvement_id))
    if not any(w.answer for w in whys):
        raise Refused("Answer at least the first why in the thread first.")
    # the open question stays unanswered: drop it so the chain ends at the last answer
    for why in whys:
        if why.answer is None:
            session.delete(why)
    answered = [w for w in whys if w.answer]
    _finish_whys(session, improvement, answered, Outbox(session, ws.id, now), now)
    audit(session, ws.id, improvement, actor.user, "root_cause_found", now, whys=len(answered))


# -- proposal -----------------------------------------------------------------------------------------


def _may_propose(improvement: Improvement, actor: Actor) -> bool:
    return actor.is_approver or actor.user in (improvement.reporter_id, improvement.owner_id)


def proposal_form(
    session: Session,
    ws: WorkspaceRef,
    actor: Actor,
    improvement_id: int,
    *,
    resubmit_round: int | None = None,
) -> Form:
    improvement = _load(session, ws, improvement_id)
    _check_can_propose(improvement, actor, resubmit_round)
    prefill = forms.ProposalPrefill(
        countermeasure=improvement.countermeasure or improvement.idea,
        measure=improvement.measure,
        baseline=improvement.baseline,
        target=improvement.target,
        not_to_do=improvement.not_to_do,
        owner=improvement.owner_id or improvement.reporter_id,
        due_date=improvement.due_date.isoformat() if improvement.due_date else None,
    )
    context = {"improvement": str(improvement.id)}
    if resubmit_round is not None:
        context["round"] = str(resubmit_round)
    return forms.propose_form(improvement.number, prefill, context)


def _check_can_propose(improvement: Improvement, actor: Actor, resubmit_round: int | None) -> None:
    if not _may_propose(improvement, actor):
        raise Refused("Only the reporter, the owner or an approver can propose a fix.")
    status = Status(improvement.status)
    if resubmit_round is not None:
        if status is not Status.QUESTION_ASKED or resubmit_round != improvement.approval_round:
            raise Refused(f"#{improvement.number} has moved on since that question; nothing to resubmit.")
        return
    if status not in (Status.ROOT_CAUSE_FOUND, Status.DECLINED):
        raise Refused(f"#{improvement.number} is {status.label.lower()}; a fix can't be proposed now.")


def submit_proposal(
    session: Session,
    ws: WorkspaceRef,
    actor: Actor,
    improvement_id: int,
    values: dict[str, Any],
    now: datetime,
    *,
    resubmit_round: int | None = None,
) -> Improvement:
    improvement = _load(session, ws, improvement_id)
    _check_can_propose(improvement, actor, resubmit_round)
    outbox = Outbox(session, ws.id, now)
    if resubmit_round is not None:
        question = _last_decision(session, improvement, "question")
        outbox.edit(
            improvement,
            f"question:{resubmit_round}",
            views.question_closed(
                improvement, question.actor_id if question else actor.user, (question.text if question else "") or ""
            ),
        )
    improvement.countermeasure = values["countermeasure"]
    improvement.measure = values["measure"]
    improvement.baseline = values.get("baseline")
    improvement.target = values.get("target")
    improvement.not_to_do = values.get("not_to_do")
    improvement.owner_id = values.get("owner") or improvement.reporter_id
    improvement.due_date = values.get("due_date")
    improvement.approval_round += 1
    _touch(session, improvement, Status.AWAITING_APPROVAL, now)
    session.add(
        Decision(
            improvement_id=_id(improvement),
            round=improvement.approval_round,
            kind="proposed",
            actor_id=actor.user,
            created_at=now,
        )
    )
    outbox.reply(
        improvement,
        views.approval_request(improvement, ws.settings.approvers, actor.user),
        key=f"approval:{improvement.approval_round}",
    )
    outbox.refresh_card(improvement)
    audit(session, ws.id, improvement, actor.user, "proposed", now, round=improvement.approval_round)
    return improvement


def validate_due_date(values: dict[str, Any], today: date) -> dict[str, str]:
    due = values.get("due_date")
    if due is not None and due < today:
        return {"due_date": "Pick today or a later date."}
    return {}


# -- approval -----------------------------------------------------------------------------------------


def _check_decider(improvement: Improvement, actor: Actor, round_: int, verb: str, proposer: str) -> None:
    if not actor.is_approver:
        raise Refused(f"Only approvers can {verb} a fix. It has been sent to them.")
    if actor.user == improvement.reporter_id:
        raise Refused(f"You reported #{improvement.number}, so someone else has to {verb} it.")
    if actor.user == proposer:
        raise Refused(f"You proposed this fix for #{improvement.number}, so someone else has to {verb} it.")
    if improvement.status != Status.AWAITING_APPROVAL.value or round_ != improvement.approval_round:
        raise Refused(f"This request for #{improvement.number} has already been answered.")


def _proposer(session: Session, improvement: Improvement) -> str:
    proposal = _last_decision(session, improvement, "proposed")
    return proposal.actor_id if proposal else improvement.reporter_id


def _last_decision(session: Session, improvement: Improvement, kind: str) -> Decision | None:
    return session.exec(
        select(Decision)
        .where(Decision.improvement_id == improvement.id, Decision.kind == kind)
        .order_by(col(Decision.id).desc())
    ).first()


def check_decision(
    session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int, round_: int, form_id: str
) -> Form:
    """Decline and Ask a question open a form first; check the right to act before it opens."""
    improvement = _load(session, ws, improvement_id)
    _check_decider(
        improvement,
        actor,
        round_,
        "decline" if form_id == forms.DECLINE else "question",
        _proposer(session, improvement),
    )
    return forms.reason_form(form_id, improvement.number, {"improvement": str(improvement.id), "round": str(round_)})


_VERDICTS = {
    views.APPROVE: (Status.APPROVED, "approved", "approve"),
    views.DECLINE: (Status.DECLINED, "declined", "decline"),
    views.QUESTION: (Status.QUESTION_ASKED, "question", "question"),
}


def _decide(
    session: Session,
    ws: WorkspaceRef,
    actor: Actor,
    improvement_id: int,
    round_: int,
    verdict: str,
    text: str | None,
    now: datetime,
) -> tuple[Improvement, Outbox]:
    """What every decision shares: the right to decide, the new status, the record, and the approval request
    edited in place (the verdict replaces the buttons)."""
    status, kind, verb = _VERDICTS[verdict]
    improvement = _load(session, ws, improvement_id)
    proposer = _proposer(session, improvement)
    _check_decider(improvement, actor, round_, verb, proposer)
    _touch(session, improvement, status, now)
    session.add(
        Decision(
            improvement_id=_id(improvement), round=round_, kind=kind, actor_id=actor.user, text=text, created_at=now
        )
    )
    outbox = Outbox(session, ws.id, now)
    outcome = views.approval_outcome(improvement, verdict, actor.user, proposer)
    outbox.edit(improvement, f"approval:{round_}", outcome)
    audit(session, ws.id, improvement, actor.user, kind if kind != "question" else "asked_question", now, round=round_)
    return improvement, outbox


def approve(
    session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int, round_: int, now: datetime
) -> Improvement:
    improvement, outbox = _decide(session, ws, actor, improvement_id, round_, views.APPROVE, None, now)
    improvement.approved_by = actor.user
    outbox.refresh_card(improvement)
    outbox.reply(improvement, views.owner_assignment(improvement, actor.user), key=owner_key(improvement))
    if _owner(improvement) != actor.user:
        outbox.dm(_owner(improvement), views.owner_dm(improvement, actor.user), improvement=improvement)
    return improvement


def decline(
    session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int, round_: int, reason: str, now: datetime
) -> Improvement:
    improvement, outbox = _decide(session, ws, actor, improvement_id, round_, views.DECLINE, reason, now)
    outbox.reply(improvement, views.declined(improvement, actor.user, reason), key=f"declined:{round_}")
    outbox.refresh_card(improvement)
    return improvement


def ask_question(
    session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int, round_: int, question: str, now: datetime
) -> Improvement:
    improvement, outbox = _decide(session, ws, actor, improvement_id, round_, views.QUESTION, question, now)
    outbox.reply(improvement, views.question_asked(improvement, actor.user, question), key=f"question:{round_}")
    outbox.refresh_card(improvement)
    return improvement


# -- done ---------------------------------------------------------------------------------------------


def _check_implementer(improvement: Improvement, actor: Actor) -> None:
    if actor.user != _owner(improvement) and not actor.is_approver:
        raise Refused("Only the owner or an approver can mark this implemented.")
    if improvement.status != Status.APPROVED.value:
        status = Status(improvement.status)
        raise Refused(
            f"#{improvement.number} is {status.label.lower()}; only an approved fix can be marked implemented."
        )


def implemented_form(session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int) -> Form:
    improvement = _load(session, ws, improvement_id)
    _check_implementer(improvement, actor)
    return forms.implemented_form(
        improvement.number, improvement.measure, improvement.baseline, {"improvement": str(improvement.id)}
    )


def mark_implemented(
    session: Session,
    ws: WorkspaceRef,
    actor: Actor,
    improvement_id: int,
    values: dict[str, Any],
    now: datetime,
) -> Improvement:
    improvement = _load(session, ws, improvement_id)
    _check_implementer(improvement, actor)
    improvement.metric_now = values["metric_now"]
    improvement.implemented_note = values.get("note")
    improvement.implemented_at = now
    _touch(session, improvement, Status.IMPLEMENTED, now)
    outbox = Outbox(session, ws.id, now)
    outbox.edit(improvement, owner_key(improvement), views.owner_done(improvement, actor.user))
    outbox.reply(improvement, views.marked_implemented(improvement, actor.user, values.get("note")))
    outbox.refresh_card(improvement)
    audit(session, ws.id, improvement, actor.user, "implemented", now, metric_now=improvement.metric_now)
    return improvement  # the caller schedules the sustain check-ins in the same transaction
