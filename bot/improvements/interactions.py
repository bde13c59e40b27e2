"""What the improvement lifecycle offers every platform, registered in one place: the report command, its
buttons and forms, the 5 Whys answers taken from thread replies, and the card delivery renders."""

from __future__ import annotations

from sqlmodel import Session

from bot.core.commands import Invocation, Subcommand
from bot.core.domain import CloseReason, Status
from bot.core.metrics import Metric
from bot.core.outcomes import Done, Invalid, Notice, OpenForm, Outcome
from bot.core.ports import ChatError
from bot.core.registry import Act, Answer, FormHandler, Lookup, Registry, Reply, Target, number
from bot.delivery.outbox import Outbox
from bot.improvements import (
    anonymous,
    anonymous_views,
    approval,
    approvers,
    card,
    closing,
    editing,
    forms,
    intake,
    me_too,
    report,
    views,
)
from bot.improvements.card import owner_of
from bot.improvements.implemented import Implemented, implemented_form, mark_implemented
from bot.improvements.records import Moved
from storage import queries


def register(registry: Registry) -> None:
    registry.views(card=card.card_of)
    registry.command(
        Subcommand(
            name="",
            usage="[what's broken]",
            summary="Report a broken process; what you type after the command fills in the form.",
            detail="I post its card in the intake channel and coach a 5 Whys search in its thread; approvers "
            "decide right there.",
            run=_report_command,
            args=r".*",
            reads=False,  # the form opens from the settings alone, before Slack's trigger id expires
        )
    )
    registry.form(forms.REPORT, FormHandler(spec=forms.report_form, apply=_reported, reshape=intake.reshape))
    registry.form(
        forms.PROPOSE,
        FormHandler(
            spec=lambda _settings: forms.propose_form(0, forms.ProposalPrefill(), {}),
            apply=_proposed,
            check=approval.check_proposal,
            prepare=_who_is_asked,
        ),
    )
    registry.form(forms.DECLINE, FormHandler(spec=lambda _s: forms.reason_form(forms.DECLINE, 0, {}), apply=_declined))
    registry.form(forms.QUESTION, FormHandler(spec=lambda _s: forms.reason_form(forms.QUESTION, 0, {}), apply=_asked))
    registry.form(
        forms.IMPLEMENTED,
        FormHandler(
            spec=lambda _settings: forms.implemented_form(0, None, Metric(), {}),
            apply=_implemented,
            prepare=_owner_timezone,
        ),
    )
    registry.form(
        forms.EDIT_REPORT,
        FormHandler(
            spec=lambda settings: forms.edit_report_form(settings, 0, _NO_FACTS, {}),
            apply=_edited,
        ),
    )
    registry.form(forms.CLOSE, FormHandler(spec=lambda _s: forms.close_form(0, list(CloseReason), {}), apply=_closed))
    registry.button(card.EDIT_REPORT, lambda act, t: OpenForm(editing.edit_form(act.session, act.ws, act.actor, t.id)))
    registry.button(card.EDIT_FIX, _edit_fix)
    registry.button(card.CLOSE, lambda act, t: OpenForm(closing.close_form(act.session, act.ws, act.actor, t.id)))
    registry.button(card.REOPEN, _reopen)
    registry.button(me_too.ACTION, lambda act, t: Notice(me_too.toggle(act.session, act.ws, act.actor, t.id, act.now)))
    registry.button(views.ROOT_CAUSE, _root_cause)
    registry.button(views.NOT_AN_ANSWER, _not_an_answer, needs_round=True)
    registry.button(views.PROPOSE, _propose)
    registry.button(views.MARK_IMPLEMENTED, _implemented_form)
    registry.button(views.APPROVE, _approve, needs_round=True)
    registry.button(views.DECLINE, lambda act, t: _decision_form(act, t, forms.DECLINE), needs_round=True)
    registry.button(views.QUESTION, lambda act, t: _decision_form(act, t, forms.QUESTION), needs_round=True)
    registry.button(views.RESUBMIT, _resubmit, needs_round=True)
    registry.reply(_answer_why)
    registry.private(lambda act, reply: anonymous.private_message(act.session, act.ws, reply, act.actor.user, act.now))
    registry.button(anonymous_views.REVEAL, lambda act, t: anonymous.ask_reveal(act.session, act.ws, act.actor, t.id))
    registry.button(anonymous_views.REVEAL_CONFIRMED, _reveal)


# -- the command ----------------------------------------------------------------------------------------


def _report_command(act: Act, invocation: Invocation) -> Outcome:
    text = invocation.args
    form = forms.report_form(act.ws.settings, text, invocation.context)
    if invocation.context.get(forms.SHARED):  # a form everyone there sees: anonymity is offered only in private
        form = forms.without_anonymity(form)
    return OpenForm(form, leftover=text[forms.MAX_PROBLEM :])


# -- buttons --------------------------------------------------------------------------------------------


def _moved(act: Act, improvement_id: int) -> None:
    """Tell the capabilities that chase an improvement (reminders) that it changed stage or round."""
    improvement = queries.improvement_in(act.session, act.ws.id, improvement_id)
    if improvement is not None:
        act.publish(Moved(improvement))


def _root_cause(act: Act, target: Target) -> Outcome:
    report.root_cause_found(act.session, act.ws, act.actor, target.id, act.now, asked=target.round)
    _moved(act, target.id)
    return Done()


def _not_an_answer(act: Act, target: Target) -> Outcome:
    report.not_an_answer(act.session, act.ws, act.actor, target.id, act.now, asked=target.round or 0)
    _moved(act, target.id)
    return Done()


def _propose(act: Act, target: Target) -> Outcome:
    return OpenForm(approval.proposal_form(act.session, act.ws, act.actor, target.id))


def _implemented_form(act: Act, target: Target) -> Outcome:
    return OpenForm(implemented_form(act.session, act.ws, act.actor, target.id))


def _approve(act: Act, target: Target) -> Outcome:
    approval.approve(act.session, act.ws, act.actor, target.id, target.round or 0, act.now)
    _moved(act, target.id)
    return Done()


def _decision_form(act: Act, target: Target, form_id: str) -> Outcome:
    return OpenForm(approval.check_decision(act.session, act.ws, act.actor, target.id, target.round or 0, form_id))


def _edit_fix(act: Act, target: Target) -> Outcome:
    return OpenForm(approval.proposal_form(act.session, act.ws, act.actor, target.id, edit=True))


def _reopen(act: Act, target: Target) -> Outcome:
    closing.reopen(act.session, act.ws, act.actor, target.id, act.now)
    _moved(act, target.id)
    return Done()


def _reveal(act: Act, target: Target) -> Outcome:
    improvement = anonymous.reveal(act.session, act.ws, act.actor, target.id, act.now)
    then = " Answer its 5 Whys in its thread from now on." if improvement.status == Status.INVESTIGATING else ""
    return Notice(f"Done: #{improvement.number} names you as its reporter now.{then}")


def _resubmit(act: Act, target: Target) -> Outcome:
    return OpenForm(approval.proposal_form(act.session, act.ws, act.actor, target.id, resubmit_round=target.round))


# -- forms ----------------------------------------------------------------------------------------------


def _reported(act: Act, answer: Answer) -> Outcome:
    joined = intake.before_report(act.session, act.ws, act.actor, answer, act.now)
    if joined is not None:
        return Notice(joined)
    improvement = report.submit_report(act.session, act.ws, act.actor, answer.values, act.now, answer.context)
    where = answer.context.get("channel") or answer.context.get("conversation") or ""
    if improvement.anonymous:  # to their pseudonym (opened to send), in their DM: where they acted names them
        to, where = improvement.reporter_id, ""
    else:
        to = act.actor.user
    # after the card (one improvement's messages go in order): "the card is in the intake channel" holds
    outbox = Outbox(act.session, act.ws.id, act.now)
    outbox.private(to, views.report_received(improvement), where=where, improvement=improvement)
    act.publish(Moved(improvement))
    return Done()


_NO_FACTS = forms.ReportFacts(problem="", area="", frequency="weekly", hours_per_week=None, people=None,
                              customers_notice=False)  # fmt: skip


def _edited(act: Act, answer: Answer) -> Outcome:
    editing.edit_report(act.session, act.ws, act.actor, answer.id("improvement"), answer.values, act.now)
    return Done()


def _closed(act: Act, answer: Answer) -> Outcome:
    closing.close(act.session, act.ws, act.actor, answer.id("improvement"), answer.values, act.now)
    _moved(act, answer.id("improvement"))
    return Done()


def _proposed(act: Act, answer: Answer) -> Outcome:
    round_ = answer.id("round") if "round" in answer.context else None
    edited_round = int(answer.context["edit"]) if "edit" in answer.context else None
    approval.submit_proposal(
        act.session,
        act.ws,
        act.actor,
        answer.id("improvement"),
        answer.values,
        act.now,
        answer.prepared,
        resubmit_round=round_,
        edited_round=edited_round,
    )
    _moved(act, answer.id("improvement"))
    return Done()


def _declined(act: Act, answer: Answer) -> Outcome:
    round_ = answer.id("round")
    approval.decline(act.session, act.ws, act.actor, answer.id("improvement"), round_, answer.values["text"], act.now)
    _moved(act, answer.id("improvement"))
    return Done()


def _asked(act: Act, answer: Answer) -> Outcome:
    round_ = answer.id("round")
    approval.ask_question(
        act.session, act.ws, act.actor, answer.id("improvement"), round_, answer.values["text"], act.now
    )
    _moved(act, answer.id("improvement"))
    return Done()


def _implemented(act: Act, answer: Answer) -> Outcome:
    improvement = mark_implemented(act.session, act.ws, act.actor, answer.id("improvement"), answer.values, act.now)
    act.publish(Implemented(improvement, owner_tz=answer.prepared))
    act.publish(Moved(improvement))
    return Done()


NOBODY_TO_ASK = (
    "Nobody else can approve this fix: the approvers reported or proposed it and there is no admin left to ask. "
    "Ask whoever runs the bot to add an approver or fallback approvers, then submit again."
)
CANNOT_ASK = "I couldn't check who can approve this just now. Please submit again in a minute; what you typed is kept."


async def _who_is_asked(lookup: Lookup, context: dict[str, str]) -> approvers.Asked:
    """Who decides the proposal, asked of the platform before its transaction: never the reporter nor the
    proposer; when nobody is left, the form says so and nothing is posted."""
    improvement_id = number(context.get("improvement", ""))

    def reporter(session: Session) -> str | None:
        improvement = queries.improvement_in(session, lookup.ws.id, improvement_id)
        # an anonymous reporter's pseudonym: they are asked like any approver (leaving them out would point at
        # them) and refused if they try to decide their own report
        return improvement.reporter_id if improvement else None

    reporter_id = await lookup.read(reporter)
    if reporter_id is None:
        raise KeyError("no such improvement")  # "out of date"
    try:
        asked = await approvers.resolve(lookup.directory, lookup.ws.settings, {reporter_id, lookup.user})
    except ChatError:
        raise Invalid({"countermeasure": CANNOT_ASK}) from None
    if asked is None:
        raise Invalid({"countermeasure": NOBODY_TO_ASK})
    return asked


async def _owner_timezone(lookup: Lookup, context: dict[str, str]) -> str | None:
    """The owner's time zone, asked of the platform before the transaction (check-ins land at 10:00 local)."""
    improvement_id = number(context.get("improvement", ""))

    def owner(session: Session) -> str | None:
        improvement = queries.improvement_in(session, lookup.ws.id, improvement_id)
        return owner_of(improvement) if improvement else None

    user = await lookup.read(owner)
    return await lookup.directory.timezone(user) if user else None


# -- thread replies -------------------------------------------------------------------------------------


def _answer_why(act: Act, reply: Reply) -> bool:
    if reply.kind != "new":
        text = reply.text if reply.kind == "edited" else None
        changed = report.change_answer(act.session, act.ws, ref=reply.ref, user=act.actor.user, text=text, now=act.now)
        if changed is not None:
            act.publish(Moved(changed))
        return changed is not None
    taken = report.answer_why(
        act.session,
        act.ws,
        channel=reply.channel,
        thread=reply.thread,
        user=act.actor.user,
        text=reply.text,
        ids=reply.ids,
        now=act.now,
        ref=reply.ref,
    )
    if taken is not None:
        act.publish(Moved(taken))
    return taken is not None
