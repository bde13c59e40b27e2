"""What the sustain check-ins say. Pure functions: rows in, Message out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.calendar import zone
from bot.core.messages import (
    Actions,
    Bold,
    Button,
    Context,
    FieldItem,
    Fields,
    Mention,
    Message,
    Paragraph,
    Quote,
    Text,
    clip,
    spans,
)
from bot.core.metrics import verdict
from bot.improvements.card import owner_of, title_of
from bot.improvements.ledger import baseline_to_target, latest_text, metric_of
from bot.improvements.views import mark_implemented_button
from storage.models import Checkin, Improvement

# action ids carried by the check-in buttons (registered in bot.sustain.interactions)
HOLDING = "checkin_holding"
SLIPPING = "checkin_slipping"
SNOOZE = "checkin_snooze"
SIGNAL_SLIPPING = "signal_slipping"
SIGNAL_HOLDS = "signal_holds"


def _headline(checkin: Checkin, improvement: Improvement) -> Paragraph:
    return Paragraph(
        spans=[
            Text(text="🔁 "),
            Bold(text=f"Check-in {checkin.position} of {checkin.of}"),
            Text(text=f" for #{improvement.number} {title_of(improvement)}, {checkin.after_days} days after the fix."),
        ]
    )


def _facts(improvement: Improvement) -> Fields:
    metric = metric_of(improvement)
    last = metric.shown(improvement.metric_now_value, latest_text(improvement)) or "none yet"
    return Fields(
        items=[
            FieldItem(label="Fix", spans=spans(clip(improvement.countermeasure or "", 800))),
            FieldItem(label="Measured by", spans=spans(clip(improvement.measure or "", 800))),
            FieldItem(label="Baseline → target", spans=spans(baseline_to_target(metric))),
            FieldItem(label="Last reading", spans=spans(last)),
        ]
    )


def checkin_buttons(checkin: Checkin) -> Actions:
    value = str(checkin.id)
    return Actions(
        buttons=[
            Button(label="Still holding", action=HOLDING, value=value, style="primary"),
            Button(label="Slipping", action=SLIPPING, value=value, style="danger"),
            Button(label="Snooze a week", action=SNOOZE, value=value),
        ]
    )


def checkin_request(checkin: Checkin, improvement: Improvement) -> Message:
    return Message(
        summary=f"Check-in: is the fix for #{improvement.number} still holding?",
        blocks=[
            _headline(checkin, improvement),
            _facts(improvement),
            Paragraph(spans=spans("Is the fix still holding? A new reading of the metric helps the team see it.")),
            checkin_buttons(checkin),
        ],
    )


def _day(when: datetime, tz: str) -> str:
    return when.astimezone(zone(tz)).strftime("%a %d %b")


def checkin_answered(checkin: Checkin, improvement: Improvement) -> Message:
    """The check-in DM, edited in place once answered or snoozed: the outcome replaces the buttons."""
    if checkin.answer == "holding":
        outcome = "✅ Still holding"
    elif checkin.answer == "slipping":
        outcome = "⚠️ Slipping: reopened so the team can run the cycle again"
    else:
        outcome = f"💤 Snoozed: I'll ask again on {_day(checkin.due_at, checkin.tz)}"
    blocks: list = [_headline(checkin, improvement), Paragraph(spans=[Bold(text=outcome)])]
    if checkin.reading:
        blocks.append(Paragraph(spans=[Bold(text="Reading: "), Text(text=checkin.reading)]))
    if checkin.note:
        blocks.append(Quote(spans=spans(clip(checkin.note, 1500))))
    return Message(summary=f"Check-in for #{improvement.number}: {outcome}", blocks=blocks)


def checkin_missed(checkin: Checkin, improvement: Improvement) -> Message:
    """The check-in DM once it is missed: closed, its buttons gone."""
    outcome = "🔕 Missed: this check-in is closed; the next one will ask again"
    return Message(
        summary=f"Check-in for #{improvement.number}: missed",
        blocks=[_headline(checkin, improvement), Paragraph(spans=[Bold(text=outcome)])],
    )


def checkin_line(checkin: Checkin, improvement: Improvement, signals: Sequence[str] = ()) -> Message:
    """The one-line update in the improvement's thread; what its reading signals is called out."""
    says = "it is still holding" if checkin.answer == "holding" else "it is slipping"
    parts: list = [
        Text(text=f"🔁 Check-in {checkin.position} of {checkin.of} ({checkin.after_days} days): "),
        Mention(user=checkin.owner_id),
        Text(text=f" says {says}."),
    ]
    if checkin.reading:
        judged = verdict(metric_of(improvement), improvement.metric_now_value)
        parts.append(Text(text=f" Reading: {checkin.reading}" + (f" ({judged})." if judged else ".")))
    if checkin.note:
        parts.append(Text(text=f" “{clip(checkin.note, 300)}”"))
    blocks: list = [Paragraph(spans=parts)]
    if signals:
        blocks.append(Paragraph(spans=[Bold(text="⚠️ Worth a look: "), Text(text="; ".join(signals) + ".")]))
    return Message(summary=f"#{improvement.number}: check-in {checkin.position} answered", blocks=blocks)


def is_it_slipping(checkin: Checkin, improvement: Improvement, signals: Sequence[str]) -> Message:
    """To the owner, when a "still holding" answer came with a reading that signals."""
    value = str(checkin.id)
    return Message(
        summary=f"#{improvement.number}: is it slipping?",
        blocks=[
            Paragraph(
                spans=spans(
                    f"📉 You said the fix for #{improvement.number} {title_of(improvement)} still "
                    f"holds, but {'; '.join(signals)}. Is it slipping?"
                )
            ),
            Actions(
                buttons=[
                    Button(label="Yes, it's slipping", action=SIGNAL_SLIPPING, value=value, style="danger"),
                    Button(label="No, it holds", action=SIGNAL_HOLDS, value=value),
                ]
            ),
        ],
    )


def signal_answered(checkin: Checkin, improvement: Improvement, slipping: bool) -> Message:
    outcome = "⚠️ Slipping: reopened so it can be fixed again" if slipping else "✅ Noted: it holds"
    return Message(
        summary=f"#{improvement.number}: {outcome}",
        blocks=[Paragraph(spans=[Text(text=f"📉 Is #{improvement.number} slipping? "), Bold(text=outcome)])],
    )


def slipping_after_all(improvement: Improvement, checkin: Checkin, actor: str) -> Message:
    return Message(
        summary=f"#{improvement.number}: slipping after all",
        blocks=[Paragraph(spans=[Mention(user=actor), Text(text=f" says #{improvement.number} is slipping after all "
                                 f"(the reading of check-in {checkin.position} of {checkin.of}).")])],
    )  # fmt: skip


def reopened(improvement: Improvement, checkin: Checkin, approvers: Sequence[str]) -> Message:
    people: list = [Mention(user=owner_of(improvement))]
    for approver in approvers:
        people += [Text(text=", "), Mention(user=approver)]
    return Message(
        summary=f"#{improvement.number} is slipping: reopened",
        blocks=[
            Paragraph(
                spans=[
                    Text(text=f"⚠️ #{improvement.number} is slipping (check-in {checkin.position} of {checkin.of}), "
                         "so it is back in progress. "),
                    *people,
                    Text(text=": what changed? Fix it again, then click Mark implemented."),
                ]
            ),
            Actions(buttons=[mark_implemented_button(improvement)]),
        ],
    )  # fmt: skip


def sustained(improvement: Improvement) -> Message:
    return Message(
        summary=f"#{improvement.number} sustained",
        blocks=[
            Paragraph(
                spans=[Text(text=f"🏁 #{improvement.number} is sustained: every check-in said the fix still holds.")]
            )
        ],
    )


def nudge(checkin: Checkin, improvement: Improvement) -> Message:
    return Message(
        summary=f"A gentle nudge about #{improvement.number}",
        blocks=[
            Paragraph(
                spans=spans(
                    f"👋 A gentle nudge: is the fix for #{improvement.number} {title_of(improvement)} still holding? "
                    "It takes one click."
                )
            ),
            checkin_buttons(checkin),
            Context(spans=spans("This is the only reminder for this check-in.")),
        ],
    )


def pending_list(items: Sequence[tuple[Checkin, Improvement]]) -> Message:
    """`/improve checkins`: the person's check-ins waiting for an answer."""
    if not items:
        return Message(
            summary="No check-ins waiting", blocks=[Paragraph(spans=spans("No check-ins are waiting for you. 🎉"))]
        )
    blocks: list = [Paragraph(spans=[Bold(text=f"{len(items)} check-in(s) waiting for your answer")])]
    for checkin, improvement in items:
        blocks += [_headline(checkin, improvement), checkin_buttons(checkin)]
    return Message(summary=f"{len(items)} check-ins waiting", blocks=blocks[:50])
