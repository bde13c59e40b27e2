"""What reminders, escalations and deadlines say. Pure functions: rows in, Message out."""

from __future__ import annotations

from datetime import date

from bot.core.messages import Context, Mention, Message, Paragraph, Quote, Span, Text, ThreadLink, clip, spans
from bot.improvements.approvers import Asked
from bot.improvements.card import owner_of, reporter_span, title_of
from bot.improvements.views import asked_spans
from storage.models import Checkin, Improvement


def _days(days: int) -> str:
    return f"{days} working day{'s' if days != 1 else ''}"


def approval_reminder(improvement: Improvement, asked: Asked, days: int) -> Message:
    """In the thread, under the request: one polite reminder."""
    return Message(
        summary=f"#{improvement.number} still waits for a decision",
        blocks=[
            Paragraph(
                spans=[
                    Text(text=f"⏰ The fix for #{improvement.number} has waited {_days(days)} for a decision. "),
                    *asked_spans(asked),
                    Text(text=", please approve, decline or ask a question on the request above."),
                ]
            )
        ],
    )


def approval_reminder_dm(improvement: Improvement, days: int) -> Message:
    return Message(
        summary=f"Reminder: #{improvement.number} waits for your review",
        blocks=[
            Paragraph(
                spans=[
                    Text(
                        text=f"⏰ #{improvement.number} {title_of(improvement)} has waited {_days(days)} for your "
                        "review. "
                    ),
                    ThreadLink(text=f"Open #{improvement.number}'s thread"),
                    Text(text=" to decide."),
                ]
            ),
            Quote(spans=spans(clip(improvement.countermeasure or "", 500))),
        ],
    )


def escalation(improvement: Improvement, escalated: Asked, days: int, fallback_label: str) -> Message:
    return Message(
        summary=f"#{improvement.number}: the decision is escalated",
        blocks=[
            Paragraph(
                spans=[
                    Text(
                        text=f"📣 The fix for #{improvement.number} has waited {_days(days)} with no decision, so "
                        f"{fallback_label} are asked too: "
                    ),
                    *asked_spans(escalated),
                    Text(text=", please decide on the request above."),
                ]
            )
        ],
    )


def escalation_dm(improvement: Improvement, days: int) -> Message:
    return Message(
        summary=f"#{improvement.number} needs a decision",
        blocks=[
            Paragraph(
                spans=[
                    Text(
                        text=f"📣 #{improvement.number} {title_of(improvement)} has waited {_days(days)} for a "
                        "decision and nobody has decided; you are asked too. "
                    ),
                    ThreadLink(text=f"Open #{improvement.number}'s thread"),
                    Text(text=" to approve, decline or ask a question."),
                ]
            ),
            Quote(spans=spans(clip(improvement.countermeasure or "", 500))),
        ],
    )


def whys_nudge(improvement: Improvement, position: int, days: int) -> Message:
    return Message(
        summary=f"Why #{position} of #{improvement.number} waits for your answer",
        blocks=[
            Paragraph(
                spans=[
                    Text(
                        text=f"👋 Why #{position} of #{improvement.number} {title_of(improvement)} has waited "
                        f"{_days(days)} for your answer. "
                    ),
                    *(
                        [Text(text="Reply here (anonymously, as before)")]
                        if improvement.anonymous
                        else [ThreadLink(text="Reply in its thread")]
                    ),
                    Text(text=", or click Root cause found there if the last answer already is the cause."),
                ]
            )
        ],
    )


def stalled(improvement: Improvement, position: int, days: int) -> Message:
    return Message(
        summary=f"#{improvement.number}: the 5 Whys stalled",
        blocks=[
            Paragraph(
                spans=[
                    Text(
                        text=f"⏸️ The 5 Whys of #{improvement.number} stalled: Why #{position} has had no answer "
                        f"for {_days(days)}. "
                    ),
                    reporter_span(improvement),
                    Text(text=f", reply {'in private' if improvement.anonymous else 'here'} to pick it up again."),
                ]
            )
        ],
    )


def overdue_dm(improvement: Improvement, due: date) -> Message:
    return Message(
        summary=f"The fix for #{improvement.number} is past its due date",
        blocks=[
            Paragraph(
                spans=[
                    Text(
                        text=f"📅 The fix for #{improvement.number} {title_of(improvement)} was due on "
                        f"{due.isoformat()}. When it is in place, click Mark implemented in "
                    ),
                    ThreadLink(text="its thread"),
                    Text(text="; if it needs longer, say so there."),
                ]
            ),
            Quote(spans=spans(clip(improvement.countermeasure or "", 500))),
        ],
    )


def missed(improvement: Improvement, checkin: Checkin, told: list[str]) -> Message:
    """In the thread: the check-in went unanswered; the fix is unverified until the next one is answered."""
    parts: list[Span] = [
        Text(
            text=f"🔕 Check-in {checkin.position} of {checkin.of} for #{improvement.number} went unanswered, so "
            "it is closed and the fix is unverified until the next check-in is answered. "
        ),
        Mention(user=owner_of(improvement)),
    ]
    for person in told:
        parts += [Text(text=", "), Mention(user=person)]
    parts.append(Text(text=" for your information."))
    return Message(
        summary=f"#{improvement.number}: a check-in was missed",
        blocks=[Paragraph(spans=parts), Context(spans=spans("The next check-in will ask again."))],
    )
