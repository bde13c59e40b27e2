"""What the bot says in an improvement's thread, step by step. Pure functions: rows in, Message out."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.messages import (
    Actions,
    Bold,
    Button,
    Context,
    FieldItem,
    Fields,
    Heading,
    Mention,
    Message,
    Paragraph,
    Quote,
    Span,
    Text,
    ThreadLink,
    clip,
    spans,
)
from bot.improvements.approvers import Asked
from bot.improvements.card import before_after_spans, button_value, owner_of, reporter_span
from bot.improvements.ledger import baseline_to_target, metric_of
from storage.models import Improvement, Why

# action ids carried by buttons (registered in bot.improvements.interactions)
ROOT_CAUSE = "root_cause"
NOT_AN_ANSWER = "not_an_answer"  # the quoted answer was a chat aside: take it back and ask again
PROPOSE = "propose"
APPROVE = "approve"
DECLINE = "decline"
QUESTION = "question"
RESUBMIT = "resubmit"
EDITED = "edited"  # not a button: the verdict shown on a request replaced by an edited proposal
MARK_IMPLEMENTED = "mark_implemented"

QUOTE_LIMIT = 500


# -- the 5 Whys ---------------------------------------------------------------------------------------


def why_question(
    improvement: Improvement,
    position: int,
    quoted: str,
    *,
    live: bool = True,
    settled: str | None = None,
    again: bool = False,
) -> Message:
    """Why #1 quotes the problem; each later why quotes the last answer, with *Root cause found* (that answer is
    the root cause). `live=False`: the question once the next one is asked (or the chain closed), edited in place
    without its button, so only the latest why offers it."""
    that, where = ("this" if position == 1 else "that"), ("private" if improvement.anonymous else "this thread")
    blocks: list = [
        Paragraph(
            spans=[
                Bold(text=f"Why #{position}" + (" (again)" if again else "")),
                Text(text=" · "),
                reporter_span(improvement),
                Text(text=f", why does {that} happen?"),
            ]
        ),
        Quote(spans=spans(clip(quoted, QUOTE_LIMIT))),
        Context(
            spans=spans(
                (
                    "The reporter answers in private; the bot passes each answer on here."
                    if improvement.anonymous
                    else "Reply in this thread with your answer."
                )
                + (" When the cause is one the team controls, click Root cause found." if position > 1 else "")
            )
        ),
    ]
    if not live:
        blocks[-1] = Context(spans=spans(settled or f"Answered in {where}."))
    elif position > 1:
        blocks.append(why_buttons(improvement, position))
    return Message(summary=f"Why #{position}: why does {that} happen?", blocks=blocks)


def why_buttons(improvement: Improvement, position: int) -> Actions:
    """The buttons name their why: a click on an older one is refused, whatever it still shows."""
    value = button_value(improvement, position)
    return Actions(buttons=[Button(label="Root cause found", action=ROOT_CAUSE, value=value),
                            Button(label="Not an answer", action=NOT_AN_ANSWER, value=value)])  # fmt: skip


def root_cause_chain(improvement: Improvement, whys: Sequence[Why]) -> Message:
    answered = [w for w in whys if w.answer]
    lines: list = [
        Heading(text=f"Root cause of #{improvement.number}"),
        Paragraph(spans=[Bold(text="Problem: "), Text(text=clip(improvement.problem, 500))]),
    ]
    for why in answered[:-1]:
        lines.append(Paragraph(spans=[Bold(text=f"Why {why.position} → "), Text(text=clip(why.answer or "", 500))]))
    last = answered[-1]
    lines.append(Paragraph(spans=[Bold(text="Root cause → "), Text(text=clip(last.answer or "", 500))]))
    lines.append(
        Actions(
            buttons=[Button(label="Propose a fix", action=PROPOSE, value=button_value(improvement), style="primary")]
        )
    )
    return Message(summary=f"Root cause of #{improvement.number} found", blocks=lines)


# -- approval -----------------------------------------------------------------------------------------


def proposal_fields(improvement: Improvement) -> Fields:
    items = [
        FieldItem(label="Fix", spans=spans(clip(improvement.countermeasure or "", 1500))),
        FieldItem(label="Measured by", spans=spans(clip(improvement.measure or "", 800))),
        FieldItem(label="Baseline → target", spans=spans(baseline_to_target(metric_of(improvement)))),
        FieldItem(label="Owner", spans=[Mention(user=owner_of(improvement))]),
    ]
    if improvement.not_to_do:
        items.append(FieldItem(label="Stops doing", spans=spans(clip(improvement.not_to_do, 800))))
    if improvement.due_date:
        items.append(FieldItem(label="Due", spans=spans(improvement.due_date.isoformat())))
    return Fields(items=items)


def asked_spans(asked: Asked) -> list[Span]:
    """'@maya, @sam and 3 more': who a request asks."""
    out: list[Span] = []
    for n, person in enumerate(asked.mentions):
        if n:
            out.append(Text(text=", " if n < len(asked.mentions) - 1 or asked.more else " and "))
        out.append(Mention(user=person))
    if asked.more:
        out.append(Text(text=f" and {asked.more} more"))
    return out


def approval_request(improvement: Improvement, asked: Asked, proposer: str) -> Message:
    asking: list[Span] = [
        Text(text="📝 "),
        Mention(user=proposer),
        Text(text=" proposes a fix. "),
        *asked_spans(asked),
        Text(text=", please review."),
    ]
    return Message(
        summary=f"Fix proposed for #{improvement.number}: approval requested",
        blocks=[
            Paragraph(spans=asking),
            *([Context(spans=spans(asked.why))] if asked.why else []),
            proposal_fields(improvement),
            approval_buttons(improvement),
        ],
    )


def approval_buttons(improvement: Improvement) -> Actions:
    """The decision's buttons, for this round of approval (a later round refuses them as out of date)."""
    value = button_value(improvement, improvement.approval_round)
    return Actions(
        buttons=[
            Button(label="Approve", action=APPROVE, value=value, style="primary"),
            Button(label="Decline", action=DECLINE, value=value, style="danger"),
            Button(label="Ask a question", action=QUESTION, value=value),
        ]
    )


def approval_dm(improvement: Improvement, proposer: str, asked: Asked) -> Message:
    """To each person asked: what waits for them, and the way to the thread where they decide."""
    return Message(
        summary=f"#{improvement.number} waits for your review",
        blocks=[
            Paragraph(
                spans=[
                    Text(text=f"📝 #{improvement.number} waits for your review: "),
                    Mention(user=proposer),
                    Text(text=" proposes a fix for "),
                    Bold(text=clip(improvement.problem, 150)),
                    Text(text=". "),
                    ThreadLink(text=f"Open #{improvement.number}'s thread"),
                    Text(text=" to approve, decline or ask a question."),
                ]
            ),
            Quote(spans=spans(clip(improvement.countermeasure or "", QUOTE_LIMIT))),
            *([Context(spans=spans(asked.why))] if asked.why else []),
        ],
    )


def fix_edited_after_approval(improvement: Improvement, actor: str) -> Message:
    return Message(
        summary=f"#{improvement.number}: the approved fix was edited",
        blocks=[
            Paragraph(
                spans=[
                    Text(text="✏️ "),
                    Mention(user=actor),
                    Text(text=" edited the approved fix, so it goes through approval again (the request follows)."),
                ]
            )
        ],
    )


def approval_outcome(improvement: Improvement, verdict: str, actor: str, proposer: str) -> Message:
    """The approval request, edited in place once decided: the verdict replaces the buttons."""
    headline = {
        APPROVE: ("✅ Approved by ", "approved"),
        DECLINE: ("🚫 Declined by ", "declined"),
        QUESTION: ("❓ Question from ", "questioned"),
        RESUBMIT: ("↩️ Replaced by a resubmitted proposal from ", "replaced"),
        EDITED: ("✏️ Replaced by an edited proposal from ", "replaced"),
    }[verdict]
    return Message(
        summary=f"Fix for #{improvement.number} {headline[1]}",
        blocks=[
            Paragraph(spans=[Text(text=headline[0]), Mention(user=actor)]),
            proposal_fields(improvement),
            Context(spans=[Text(text="Proposed by "), Mention(user=proposer)]),
        ],
    )


def mark_implemented_button(improvement: Improvement) -> Button:
    """The owner's button, wherever the fix is handed (back) to them."""
    return Button(label="Mark implemented", action=MARK_IMPLEMENTED, value=button_value(improvement), style="primary")


def owner_assignment(improvement: Improvement, approver: str) -> Message:
    owner = owner_of(improvement)
    due = f" Due {improvement.due_date.isoformat()}." if improvement.due_date else ""
    return Message(
        summary=f"#{improvement.number} approved: over to the owner",
        blocks=[
            Paragraph(
                spans=[
                    Mention(user=owner),
                    Text(text=" it's yours: "),
                    Mention(user=approver),
                    Text(text=f" approved the fix.{due} When it is in place, click Mark implemented."),
                ]
            ),
            Actions(buttons=[mark_implemented_button(improvement)]),
        ],
    )


def owner_dm(improvement: Improvement, approver: str) -> Message:
    return Message(
        summary=f"You own improvement #{improvement.number}",
        blocks=[
            Paragraph(
                spans=[
                    Text(text=f"✅ The fix for #{improvement.number} was approved by "),
                    Mention(user=approver),
                    Text(text=" and you are its owner."),
                ]
            ),
            Quote(spans=spans(clip(improvement.countermeasure or "", QUOTE_LIMIT))),
            Context(spans=spans("When it is in place, click Mark implemented in the improvement's thread.")),
        ],
    )


def declined(improvement: Improvement, actor: str, reason: str) -> Message:
    return Message(
        summary=f"#{improvement.number}: fix declined",
        blocks=[
            Paragraph(
                spans=[
                    reporter_span(improvement),
                    Text(text=", "),
                    Mention(user=actor),
                    Text(text=" declined the proposed fix:"),
                ]
            ),
            Quote(spans=spans(clip(reason, 2500))),
            Context(spans=spans("A different fix can still be proposed.")),
            Actions(buttons=[Button(label="Propose another fix", action=PROPOSE, value=button_value(improvement))]),
        ],
    )


def edit_declined(improvement: Improvement, actor: str, reason: str) -> Message:
    """An edit of an approved fix was declined: the approved fix stands and its owner carries on."""
    return Message(
        summary=f"#{improvement.number}: the edit was declined; the approved fix stands",
        blocks=[
            Paragraph(spans=[Text(text="🚫 "), Mention(user=actor), Text(text=" declined the edit of the fix:")]),
            Quote(spans=spans(clip(reason, 2500))),
            Paragraph(
                spans=[
                    Text(text="The approved fix stands. "),
                    Mention(user=owner_of(improvement)),
                    Text(text=", it is still yours: click Mark implemented when it is in place."),
                ]
            ),
            Actions(buttons=[mark_implemented_button(improvement)]),
        ],
    )


def question_asked(improvement: Improvement, actor: str, question: str) -> Message:
    return Message(
        summary=f"#{improvement.number}: a question about the fix",
        blocks=[
            Paragraph(
                spans=[
                    Text(text="❓ "),
                    reporter_span(improvement),
                    Text(text=", "),
                    Mention(user=actor),
                    Text(text=" asks:"),
                ]
            ),
            Quote(spans=spans(clip(question, 2500))),
            Context(spans=spans("Answer here in the thread, then click Resubmit (you can adjust the proposal).")),
            Actions(buttons=[resubmit_button(improvement)]),
        ],
    )


def resubmit_button(improvement: Improvement) -> Button:
    """The reporter's button once an approver's question is answered."""
    value = button_value(improvement, improvement.approval_round)
    return Button(label="Resubmit", action=RESUBMIT, value=value, style="primary")


def question_closed(improvement: Improvement, actor: str, question: str) -> Message:
    return Message(
        summary=f"#{improvement.number}: question answered",
        blocks=[
            Paragraph(spans=[Text(text="❓ "), Mention(user=actor), Text(text=" asked:")]),
            Quote(spans=spans(clip(question, 2500))),
            Context(spans=spans("The proposal was resubmitted below.")),
        ],
    )


def marked_implemented(improvement: Improvement, actor: str, note: str | None) -> Message:
    blocks: list = [
        Paragraph(
            spans=[
                Text(text="✅ "),
                Mention(user=actor),
                Text(text=f" marked #{improvement.number} implemented."),
            ]
        ),
        Paragraph(spans=before_after_spans(improvement)),
    ]
    if note:
        blocks.append(Quote(spans=spans(clip(note, 1500))))
    return Message(summary=f"#{improvement.number} implemented", blocks=blocks)


def owner_done(improvement: Improvement, actor: str) -> Message:
    """The owner's assignment message, edited in place once done (the button goes). After a slip it stays a
    record of the slip: the thread keeps every cycle."""
    owner = owner_of(improvement)
    if improvement.cycle > 0:
        return Message(
            summary=f"#{improvement.number} fixed again",
            blocks=[
                Paragraph(
                    spans=[
                        Text(text=f"⚠️ #{improvement.number} slipped or was reopened, and went back in progress. "),
                        Mention(user=owner),
                        Text(text=" owned fixing it again. ✅ Fixed again: marked implemented by "),
                        Mention(user=actor),
                        Text(text="."),
                    ]
                )
            ],
        )
    return Message(
        summary=f"#{improvement.number} implemented",
        blocks=[
            Paragraph(
                spans=[
                    Mention(user=owner),
                    Text(text=" owned this fix. ✅ Marked implemented by "),
                    Mention(user=actor),
                    Text(text="."),
                ]
            )
        ],
    )


def report_received(improvement: Improvement) -> Message:
    """The private confirmation for the reporter."""
    where = "our direct messages (the card says a teammate reported it)" if improvement.anonymous else "its thread"
    text = f"Thanks! Saved as #{improvement.number}. The card is in the intake channel; I'll ask you “why?” in {where}."
    return Message(summary=f"Saved as #{improvement.number}", blocks=[Paragraph(spans=spans(text))])
