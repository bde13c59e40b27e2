"""Proposal and approval: propose (or resubmit) a fix, then an approver approves, declines or asks a question,
in the thread where it was reported."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from bot.core.audit import audit
from bot.core.domain import Status
from bot.core.identity import is_pseudonym
from bot.core.messages import Form
from bot.core.metrics import Direction
from bot.core.outcomes import Actor, Invalid, Refused
from bot.core.workspace import WorkspaceRef
from bot.delivery.outbox import Outbox
from bot.improvements import anonymous_views, forms, views
from bot.improvements.approvers import Asked
from bot.improvements.card import FIX_EDITABLE, owner_of
from bot.improvements.ledger import lock_approved
from bot.improvements.records import acting, id_of, is_reporter, last_decision, load, owner_key, touch
from storage.models import Decision, Improvement

# -- proposal -----------------------------------------------------------------------------------------


def _may_propose(ws: WorkspaceRef, improvement: Improvement, actor: Actor) -> bool:
    return actor.is_approver or actor.user == improvement.owner_id or is_reporter(ws, improvement, actor.user)


def proposal_form(
    session: Session,
    ws: WorkspaceRef,
    actor: Actor,
    improvement_id: int,
    *,
    resubmit_round: int | None = None,
    edit: bool = False,
) -> Form:
    """`edit`: change the fix waiting for approval, or an approved one (either way a new approval round)."""
    improvement = load(session, ws, improvement_id)
    _check_can_propose(ws, improvement, actor, resubmit_round, edit)
    owner = owner_of(improvement)
    prefill = forms.ProposalPrefill(
        countermeasure=improvement.countermeasure or improvement.idea,
        measure=improvement.measure,
        unit=improvement.metric_unit,
        direction=improvement.metric_direction,
        baseline=improvement.baseline_value,
        target=improvement.target_value,
        baseline_was=improvement.baseline if improvement.baseline_value is None else None,
        target_was=improvement.target if improvement.target_value is None else None,
        not_to_do=improvement.not_to_do,
        owner=None if is_pseudonym(owner) else owner,  # an anonymous reporter owns nothing until revealed
        due_date=improvement.due_date.isoformat() if improvement.due_date else None,
    )
    context = {"improvement": str(improvement.id)}
    if resubmit_round is not None:
        context["round"] = str(resubmit_round)
    if edit:
        context["edit"] = str(improvement.approval_round)
    return forms.propose_form(improvement.number, prefill, context)


def _check_can_propose(
    ws: WorkspaceRef, improvement: Improvement, actor: Actor, resubmit_round: int | None, edit: bool
) -> None:
    if not _may_propose(ws, improvement, actor):
        raise Refused("Only the reporter, the owner or an approver can propose or edit a fix.")
    status = Status(improvement.status)
    if edit:
        if status not in FIX_EDITABLE:
            raise Refused(f"#{improvement.number} is {status.label.lower()}; its fix can't be edited now.")
        return
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
    asked: Asked,
    *,
    resubmit_round: int | None = None,
    edited_round: int | None = None,
) -> Improvement:
    """`asked`: who decides it (bot.improvements.approvers.resolve, asked of the platform before this).
    `edited_round`: the fix of that round is edited (the form was opened then): a new approval round."""
    improvement = load(session, ws, improvement_id)
    edit = edited_round is not None
    _check_can_propose(ws, improvement, actor, resubmit_round, edit)
    owner = _owner(ws, improvement, actor, values.get("owner"))
    user = acting(ws, improvement, actor.user)  # an anonymous reporter proposes as "a teammate"
    if edit and edited_round != improvement.approval_round:
        raise Refused(f"The fix of #{improvement.number} has changed since you opened the form; open it again.")
    outbox = Outbox(session, ws.id, now)
    if edit and improvement.status == Status.AWAITING_APPROVAL.value:
        outbox.edit(
            improvement,
            f"approval:{improvement.approval_round}",
            views.approval_outcome(improvement, views.EDITED, user, _proposer(session, improvement)),
        )
    elif edit:
        outbox.reply(improvement, views.fix_edited_after_approval(improvement, user))
    if resubmit_round is not None:
        question = last_decision(session, improvement, "question")
        outbox.edit(
            improvement,
            f"question:{resubmit_round}",
            views.question_closed(
                improvement, question.actor_id if question else actor.user, (question.text if question else "") or ""
            ),
        )
    replaces = _replaces(session, improvement)
    improvement.overdue_at = None  # a new round: overdue again only past its (new) due date
    improvement.countermeasure = values["countermeasure"]
    improvement.measure = values["measure"]
    improvement.metric_unit = values.get("unit")
    improvement.metric_direction = values.get("direction") or Direction.LOWER.value
    improvement.baseline_value = values.get("baseline")
    improvement.target_value = values.get("target")
    improvement.baseline = improvement.target = None  # numbers now: an old text is not shown beside them
    improvement.not_to_do = values.get("not_to_do")
    improvement.owner_id = owner
    improvement.due_date = values.get("due_date")
    improvement.approval_round += 1
    touch(session, improvement, Status.AWAITING_APPROVAL, now)
    session.add(
        Decision(
            improvement_id=id_of(improvement),
            round=improvement.approval_round,
            kind="proposed",
            actor_id=user,
            asked={**asked.to_json(), **({"replaces": replaces} if replaces else {})},
            created_at=now,
        )
    )
    outbox.reply(
        improvement,
        views.approval_request(improvement, asked, user),
        key=f"approval:{improvement.approval_round}",
    )
    for person in asked.told:
        outbox.dm(person, views.approval_dm(improvement, user, asked), improvement=improvement)
    outbox.refresh_card(improvement)
    outbox.refresh_homes(asked.people)  # it waits on them now
    audit(session, ws.id, improvement, user, "proposed", now, round=improvement.approval_round)
    return improvement


def _owner(ws: WorkspaceRef, improvement: Improvement, actor: Actor, chosen: str | None) -> str:
    """Who owns the fix: the one chosen, else whoever proposes it (the reporter, when they are named). An
    anonymous reporter cannot own it without showing their name: they name an owner, or reveal themselves."""
    if not improvement.anonymous:
        return chosen or improvement.reporter_id
    if not is_reporter(ws, improvement, actor.user):
        return chosen or actor.user
    if not chosen or chosen == actor.user:
        raise Invalid({"owner": "Owning the fix would show your name: name someone else, or reveal yourself first "
                                "(the Reveal button in your direct messages with the bot)."})  # fmt: skip
    return chosen


def check_proposal(values: dict[str, Any], today: date) -> dict[str, str]:
    """A due date in the past, or a target on the wrong side of the baseline."""
    errors = forms.check_metric(values)
    due = values.get("due_date")
    if due is not None and due < today:
        errors["due_date"] = "Pick today or a later date."
    return errors


# -- approval -----------------------------------------------------------------------------------------


def asked_in(session: Session, improvement: Improvement) -> Asked | None:
    """Who the current approval request asked (None: a request from before it was recorded)."""
    proposal = last_decision(session, improvement, "proposed")
    return Asked.from_json(proposal.asked) if proposal else None


def may_decide(session: Session, improvement: Improvement, actor: Actor) -> bool:
    """An approver, or someone the current request asked (a fallback approver, an escalation's)."""
    asked = asked_in(session, improvement)
    return actor.is_approver or bool(asked and actor.user in asked.people)


def _check_decider(
    session: Session, ws: WorkspaceRef, improvement: Improvement, actor: Actor, round_: int, verb: str, proposer: str
) -> None:
    if not may_decide(session, improvement, actor):
        raise Refused(f"Only approvers can {verb} a fix. It has been sent to them.")
    if is_reporter(ws, improvement, actor.user):
        raise Refused(f"You reported #{improvement.number}, so someone else has to {verb} it.")
    if actor.user == proposer:
        raise Refused(f"You proposed this fix for #{improvement.number}, so someone else has to {verb} it.")
    if improvement.status != Status.AWAITING_APPROVAL.value or round_ != improvement.approval_round:
        raise Refused(f"This request for #{improvement.number} has already been answered.")


def _proposer(session: Session, improvement: Improvement) -> str:
    proposal = last_decision(session, improvement, "proposed")
    return proposal.actor_id if proposal else improvement.reporter_id


def check_decision(
    session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int, round_: int, form_id: str
) -> Form:
    """Decline and Ask a question open a form first; check the right to act before it opens."""
    improvement = load(session, ws, improvement_id)
    _check_decider(
        session,
        ws,
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
    improvement = load(session, ws, improvement_id)
    proposer = _proposer(session, improvement)
    _check_decider(session, ws, improvement, actor, round_, verb, proposer)
    touch(session, improvement, status, now)
    session.add(
        Decision(
            improvement_id=id_of(improvement), round=round_, kind=kind, actor_id=actor.user, text=text, created_at=now
        )
    )
    outbox = Outbox(session, ws.id, now)
    asked = asked_in(session, improvement)
    outbox.refresh_homes([actor.user, *(asked.people if asked else [])])  # it no longer waits on them
    outcome = views.approval_outcome(improvement, verdict, actor.user, proposer)
    outbox.edit(improvement, f"approval:{round_}", outcome)
    audit(session, ws.id, improvement, actor.user, kind if kind != "question" else "asked_question", now, round=round_)
    return improvement, outbox


def approve(
    session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int, round_: int, now: datetime
) -> Improvement:
    improvement, outbox = _decide(session, ws, actor, improvement_id, round_, views.APPROVE, None, now)
    improvement.approved_by = actor.user
    improvement.first_approved_at = improvement.first_approved_at or now
    lock_approved(improvement, ws.settings, now)
    outbox.refresh_card(improvement)
    outbox.reply(improvement, views.owner_assignment(improvement, actor.user), key=owner_key(improvement))
    if owner_of(improvement) != actor.user:
        outbox.dm(owner_of(improvement), views.owner_dm(improvement, actor.user), improvement=improvement)
    return improvement


def decline(
    session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int, round_: int, reason: str, now: datetime
) -> Improvement:
    improvement, outbox = _decide(session, ws, actor, improvement_id, round_, views.DECLINE, reason, now)
    approved = _replaces(session, improvement)
    if approved is not None:  # an edit of an approved fix was declined: the approved fix stands, still in progress
        _restore(improvement, approved)
        touch(session, improvement, Status.APPROVED, now)
        outbox.reply(improvement, views.edit_declined(improvement, actor.user, reason), key=owner_key(improvement))
    else:
        outbox.reply(improvement, views.declined(improvement, actor.user, reason), key=f"declined:{round_}")
    outbox.refresh_card(improvement)
    return improvement


_PROPOSAL = (
    "countermeasure",
    "measure",
    "baseline",
    "target",
    "not_to_do",
    "owner_id",
    "approved_by",
    "metric_unit",
    "metric_direction",
    "baseline_value",
    "target_value",
)


def _replaces(session: Session, improvement: Improvement) -> dict[str, Any] | None:
    """The approved fix an edit in progress would replace: taken when an approved fix is edited, carried through
    the edit's later rounds (a question, another edit), None once it is approved or for a fix never approved."""
    status = Status(improvement.status)
    if status is Status.APPROVED:
        approved: dict[str, Any] = {name: getattr(improvement, name) for name in _PROPOSAL}
        approved["due_date"] = improvement.due_date.isoformat() if improvement.due_date else None
        return approved
    if status not in (Status.AWAITING_APPROVAL, Status.QUESTION_ASKED, Status.DECLINED):
        return None
    proposal = last_decision(session, improvement, "proposed")
    replaces = (proposal.asked or {}).get("replaces") if proposal else None
    return replaces if isinstance(replaces, dict) else None


def _restore(improvement: Improvement, approved: dict[str, Any]) -> None:
    for name in _PROPOSAL:
        if name in approved:  # a snapshot from before a field existed leaves that field as it is
            setattr(improvement, name, approved[name])
    due = approved.get("due_date")
    improvement.due_date = date.fromisoformat(due) if isinstance(due, str) else None


def ask_question(
    session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int, round_: int, question: str, now: datetime
) -> Improvement:
    improvement, outbox = _decide(session, ws, actor, improvement_id, round_, views.QUESTION, question, now)
    outbox.reply(improvement, views.question_asked(improvement, actor.user, question), key=f"question:{round_}")
    if improvement.anonymous:  # the reporter cannot be mentioned: the question reaches them in private
        outbox.dm(improvement.reporter_id, anonymous_views.question_relayed(improvement, actor.user, question),
                  improvement=improvement)  # fmt: skip
    outbox.refresh_card(improvement)
    return improvement
