"""What the lists and the one-improvement answer say. Pure: rows in, Message out."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.domain import Status, format_number
from bot.core.messages import Block, Bold, Context, Message, Paragraph, Span, Text, ThreadLink
from bot.core.workspace import WorkspaceSettings
from bot.improvements.card import flag_of, title_of
from bot.improvements.ledger import ledger_of
from bot.insights.lists import PAGE, USAGE, Query
from storage.models import Improvement


def best_figure(improvement: Improvement, settings: WorkspaceSettings) -> str:
    """The most certain figure of its ledger, named: '≈ 624 h/year (confirmed)'; '' when there is none."""
    ledger = ledger_of(improvement, settings)
    for figure, name in ((ledger.confirmed, "confirmed"), (ledger.approved, "approved"),
                         (ledger.estimated, "estimated")):  # fmt: skip
        if figure is not None and figure.hours_per_year:
            return f"≈ {format_number(figure.hours_per_year)} h/year ({name})"
    return ""


def line(improvement: Improvement, settings: WorkspaceSettings) -> list[Span]:
    """'#12 Leads arrive twice · 🛠️ Approved, in progress (overdue: …) · Sales · ≈ 624 h/year (approved) · thread'."""
    status = Status(improvement.status)
    flag = flag_of(improvement)
    facts = [f"{status.emoji} {status.label}" + (f" ({flag})" if flag else ""), improvement.area]
    figure = best_figure(improvement, settings)
    facts += [figure] if figure else []
    facts += ["🔁 chronic"] if improvement.chronic else []
    facts += ["customers notice"] if improvement.customers_notice else []
    facts += [f"🙋 +{improvement.me_too:,}"] if improvement.me_too else []
    return [
        Bold(text=f"#{improvement.number} {title_of(improvement)}"),
        Text(text=" · " + " · ".join(facts) + " · "),
        ThreadLink(text="thread", improvement=improvement.id),
    ]


def listing(rows: Sequence[Improvement], total: int, query: Query, settings: WorkspaceSettings, word: str) -> Message:
    said = query.said
    if not rows:
        nothing = f"No improvements {said}." if query != Query() else "Nothing is open: a good time to type " + word
        return Message(summary=f"No improvements {said}", blocks=[Paragraph(spans=[Text(text=nothing)])])
    ranked = any(imp.customers_notice or imp.me_too for imp in rows)
    order = ", what customers notice and what bites most people first, then newest" if ranked else ", newest first"
    blocks: list[Block] = [Paragraph(spans=[Bold(text=f"{total:,} improvement{'s' if total != 1 else ''} ({said})"
                                                     f"{order if total > 1 else ''}")])]  # fmt: skip
    blocks += [Paragraph(spans=line(imp, settings)) for imp in rows]
    if total > len(rows):
        blocks.append(Context(spans=[Text(text=f"…and {total - len(rows):,} more. Narrow it: {word} list {USAGE}.")]))
    else:
        blocks.append(Context(spans=[Text(text=f"Narrow it: {word} list {USAGE}. One of them: {word} #12.")]))
    return Message(summary=f"{total:,} improvement{'s' if total != 1 else ''} ({said})", blocks=blocks[: PAGE + 2])


def one(card: Message, improvement: Improvement) -> Message:
    """`/improve #12`: its card as it reads now, and the way to its thread."""
    blocks: list[Block] = [b for b in card.blocks if not isinstance(b, Context)]
    link = ThreadLink(text=f"Open #{improvement.number}'s thread", improvement=improvement.id)
    blocks.append(Paragraph(spans=[link]))
    return Message(summary=card.summary, blocks=blocks)


def not_found(number: int, word: str) -> str:
    return f"There is no #{number} in this workspace. “{word} list” shows the open ones."
