"""The improvement's card: the thread's parent, edited in place at every change. `report_card` is pure (rows in,
Message out); `card_of` reads what it needs first."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from bot.core.domain import OPEN_STATUSES, CloseReason, Frequency, Status
from bot.core.messages import (
    Actions,
    Bold,
    Button,
    Context,
    FieldItem,
    Fields,
    Heading,
    Link,
    Mention,
    Message,
    Paragraph,
    Span,
    Text,
    clip,
    spans,
)
from bot.core.metrics import before_after
from bot.core.workspace import WorkspaceSettings
from bot.improvements import chronic_views, me_too
from bot.improvements.ledger import impact_of, latest_text, ledger_lines, ledger_of, metric_of
from storage import queries
from storage.models import Improvement, Why


def title_of(improvement: Improvement) -> str:
    first_line = improvement.problem.strip().splitlines()[0] if improvement.problem.strip() else "(no text)"
    return clip(first_line, 120)


def owner_of(improvement: Improvement) -> str:
    """Who carries the fix out: the owner named in the proposal, else the reporter."""
    return improvement.owner_id or improvement.reporter_id


def reporter_span(improvement: Improvement, *, named: str = "the reporter") -> Span:
    """How a message names the reporter: a mention, or `named` when they reported anonymously."""
    return Text(text=named) if improvement.anonymous else Mention(user=improvement.reporter_id)


def button_value(improvement: Improvement, round_: int | None = None) -> str:
    return f"{improvement.id}" if round_ is None else f"{improvement.id}:{round_}"


# action ids of the card's buttons (registered in bot.improvements.interactions)
EDIT_REPORT = "edit_report"
EDIT_FIX = "edit_fix"
CLOSE = "close"
REOPEN = "reopen"
FIX_EDITABLE = (Status.AWAITING_APPROVAL, Status.APPROVED)  # before approval, and after it (a new round)


def closed_spans(improvement: Improvement) -> list[Span]:
    """'withdrawn by @alex', 'won't fix, decided by @maya', 'a duplicate of #3, closed by @jo'."""
    reason = CloseReason(improvement.closed_reason or CloseReason.WITHDRAWN.value)
    by = Mention(user=improvement.closed_by or improvement.reporter_id)
    if reason is CloseReason.WITHDRAWN:
        return [Text(text="withdrawn by "), by]
    if reason is CloseReason.WONT_FIX:
        return [Text(text="won't fix, decided by "), by]
    return [Text(text=f"a duplicate of #{improvement.duplicate_of}, closed by "), by]


def card_buttons(improvement: Improvement) -> Actions | None:
    status = Status(improvement.status)
    value = button_value(improvement)
    if status is Status.CLOSED:
        return Actions(buttons=[Button(label="Reopen", action=REOPEN, value=value)])
    if status is Status.SUSTAINED:
        return None
    buttons = [Button(label="Me too", action=me_too.ACTION, value=value)] if status in OPEN_STATUSES else []
    buttons.append(Button(label="Edit report", action=EDIT_REPORT, value=value))
    if status in FIX_EDITABLE:
        buttons.append(Button(label="Edit the fix", action=EDIT_FIX, value=value))
    buttons.append(Button(label="Close…", action=CLOSE, value=value))
    return Actions(buttons=buttons)


def _customers(improvement: Improvement) -> str:
    """'Yes: they get two welcome emails', 'Yes', 'No'."""
    if not improvement.customers_notice:
        return "No"
    return f"Yes: {clip(improvement.customers_how, 300)}" if improvement.customers_how else "Yes"


def flag_of(improvement: Improvement) -> str:
    """What is wrong with where the improvement stands, in a few words ("" when nothing is)."""
    status = Status(improvement.status)
    if status is Status.INVESTIGATING and improvement.stalled_at:
        return "stalled: the 5 Whys wait for an answer"
    if status is Status.APPROVED and improvement.overdue_at and improvement.due_date:
        return f"overdue: it was due {improvement.due_date.isoformat()}"
    if status is Status.IMPLEMENTED and improvement.unverified_at:
        return "unverified: a check-in was missed"
    return ""


def _raised_by(improvement: Improvement) -> list[FieldItem]:
    """A report made from a message: who wrote it, and a link to it."""
    if not improvement.raised_by and not improvement.source_link:
        return []
    shown: list[Span] = [Mention(user=improvement.raised_by)] if improvement.raised_by else [Text(text="Someone")]
    if improvement.source_link:
        shown += [Text(text=" in "), Link(text="this message", url=improvement.source_link)]
    return [FieldItem(label="Raised by", spans=shown)]


def report_card(improvement: Improvement, whys: Sequence[Why], settings: WorkspaceSettings) -> Message:
    status = Status(improvement.status)
    impact = impact_of(improvement, settings)
    flag = flag_of(improvement)
    shown: list[Span] = spans(f"{status.emoji} {status.label}" + (f" ({flag})" if flag else ""))
    if status is Status.CLOSED:
        shown = [Text(text=f"{status.emoji} Closed: "), *closed_spans(improvement)]
    fields = [
        FieldItem(label="Status", spans=shown),
        FieldItem(label="Reported by", spans=[reporter_span(improvement, named="a teammate")]),
        *_raised_by(improvement),
        FieldItem(label="Process area", spans=spans(improvement.area)),
        FieldItem(label="How often", spans=spans(Frequency(improvement.frequency).label)),
        FieldItem(label="Aggravation", spans=spans(f"{impact.aggravation}/5")),
        FieldItem(label="Customers notice", spans=spans(_customers(improvement))),
    ]
    if improvement.owner_id:
        owner: list[Span] = [Mention(user=improvement.owner_id)]
        if improvement.due_date:
            owner.append(Text(text=f", due {improvement.due_date.isoformat()}"))
        fields.append(FieldItem(label="Owner", spans=owner))
    blocks: list = [
        Heading(text=f"#{improvement.number} {title_of(improvement)}"),
        Paragraph(spans=spans(clip(improvement.problem, 2800))),
        Fields(items=fields),
    ]
    if improvement.me_too:
        blocks.append(Paragraph(spans=spans(f"🙋 {me_too.people_line(improvement.me_too)}")))
    if improvement.chronic:
        blocks.append(Paragraph(spans=spans(chronic_views.card_line(improvement))))
    for label, line in ledger_lines(ledger_of(improvement, settings), improvement, settings):
        blocks.append(Paragraph(spans=[Bold(text=f"{label}: "), Text(text=line)]))
    if improvement.idea:
        blocks.append(Paragraph(spans=[Bold(text="Reporter's idea: "), Text(text=clip(improvement.idea, 1500))]))
    answered = [w for w in whys if w.answer]
    if status not in (Status.INVESTIGATING,) and answered:
        root = answered[-1].answer or ""
        blocks.append(Paragraph(spans=[Bold(text="Root cause: "), Text(text=clip(root, 1500))]))
    if improvement.countermeasure:
        blocks.append(Paragraph(spans=[Bold(text="Fix: "), Text(text=clip(improvement.countermeasure, 1500))]))
        blocks.append(Paragraph(spans=measure_spans(improvement)))
    if improvement.not_to_do:
        blocks.append(Paragraph(spans=[Bold(text="Stops doing: "), Text(text=clip(improvement.not_to_do, 800))]))
    if status in (Status.IMPLEMENTED, Status.SUSTAINED) or improvement.metric_now_value is not None:
        blocks.append(Paragraph(spans=before_after_spans(improvement)))
    if status is Status.CLOSED and improvement.closed_note:
        blocks.append(Paragraph(spans=[Bold(text="Why closed: "), Text(text=clip(improvement.closed_note, 800))]))
    buttons = card_buttons(improvement)
    if buttons is not None:
        blocks.append(buttons)
    blocks.append(Context(spans=spans("Everything about this improvement happens in its thread.")))
    summary = f"#{improvement.number} {title_of(improvement)} ({status.label})"
    return Message(summary=summary, blocks=blocks)


def measure_spans(improvement: Improvement) -> list[Span]:
    """'Measured by: Duplicate leads per week (duplicates/week, lower is better; baseline 40, target 5)'."""
    metric = metric_of(improvement)
    parts: list[Span] = [Bold(text="Measured by: "), Text(text=clip(improvement.measure or "", 800))]
    about = [x for x in (metric.unit, metric.direction.label if metric.direction else "") if x]
    numbers = f"baseline {metric.baseline_shown or 'not recorded'}, target {metric.target_shown or 'not set'}"
    parts.append(Text(text=f" ({', '.join(about)}; {numbers})" if about else f" ({numbers})"))
    return parts


def before_after_spans(improvement: Improvement) -> list[Span]:
    """'Before → after: 10% → 55%, target 60%: not yet met'."""
    line = before_after(metric_of(improvement), improvement.metric_now_value, latest_text(improvement))
    return [Bold(text="Before → after: "), Text(text=line)]


def card_of(session: Session, improvement: Improvement, settings: WorkspaceSettings) -> Message:
    """The card as it reads now (delivery renders it when it goes out)."""
    return report_card(improvement, queries.whys_of(session, improvement.id or 0), settings)
