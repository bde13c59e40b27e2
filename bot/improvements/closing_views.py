"""What closing, reopening and editing say in the thread. Pure functions: rows in, Message out."""

from __future__ import annotations

from bot.core.domain import impact_line
from bot.core.messages import Actions, Mention, Message, Paragraph, Quote, Span, Text, clip, spans
from bot.core.workspace import WorkspaceSettings
from bot.improvements.card import closed_spans, owner_of
from bot.improvements.ledger import impact_of
from bot.improvements.me_too import people_line
from bot.improvements.views import mark_implemented_button
from storage.models import Improvement


def closed(improvement: Improvement) -> Message:
    blocks: list = [
        Paragraph(spans=[Text(text=f"🗂️ #{improvement.number} is closed: "), *closed_spans(improvement),
                         Text(text=". It leaves every list, reminder and check-in; an approver can reopen it.")])
    ]  # fmt: skip
    if improvement.closed_note:
        blocks.append(Quote(spans=spans(clip(improvement.closed_note, 1000))))
    return Message(summary=f"#{improvement.number} closed", blocks=blocks)


def duplicate_joined(original: Improvement, duplicate: Improvement, before: int | None) -> Message:
    grew = before is not None and original.people != before
    said = [f"people affected: {before} → {original.people}"] if grew else []
    said += [people_line(original.me_too)] if original.me_too else []
    people = f" ({'; '.join(said)})" if said else ""
    reporter: Span = Text(text="a teammate") if duplicate.anonymous else Mention(user=duplicate.reporter_id)
    return Message(
        summary=f"#{duplicate.number} joins #{original.number}",
        blocks=[
            Paragraph(
                spans=[
                    Text(text=f"🔗 #{duplicate.number} was closed as a duplicate of this one: "),
                    reporter,
                    Text(text=f" is affected too{people}."),
                ]
            )
        ],
    )


def reopened(improvement: Improvement, actor: str, *, live: bool) -> Message:
    """`live`: back in progress, with the owner's Mark implemented button."""
    parts: list[Span] = [Text(text=f"↩️ #{improvement.number} was reopened by "), Mention(user=actor), Text(text=".")]
    blocks: list = []
    if live:
        parts += [Text(text=" "), Mention(user=owner_of(improvement)),
                  Text(text=", when the fix is in place again, click Mark implemented.")]  # fmt: skip
    blocks.append(Paragraph(spans=parts))
    if live:
        blocks.append(Actions(buttons=[mark_implemented_button(improvement)]))
    return Message(summary=f"#{improvement.number} reopened", blocks=blocks)


def edited(
    improvement: Improvement, actor: str, changes: list[tuple[str, str, str]], settings: WorkspaceSettings
) -> Message:
    """'✏️ @maya edited the report: people affected 1,000 → 10. The estimate now: ≈ …' (an approved case is
    locked: no estimate line)."""
    said = "; ".join(
        name if not before and not after else f"{name} {before} → {after}" for name, before, after in changes
    )
    blocks: list = [Paragraph(spans=[Text(text="✏️ "), Mention(user=actor), Text(text=f" edited the report: {said}.")])]
    if improvement.approved_at is None:
        estimate = impact_line(impact_of(improvement, settings), settings.currency)
        blocks.append(Paragraph(spans=spans(f"The estimate now: {estimate}")))
    return Message(summary=f"#{improvement.number}: the report was edited", blocks=blocks)
