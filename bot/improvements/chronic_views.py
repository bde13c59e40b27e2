"""What the bot says of a chronic problem: the mark on its card, the earlier chains its 5 Whys start from, and
the note when it becomes chronic on the way. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.domain import Status
from bot.core.messages import Message, Paragraph, Quote, clip, spans
from bot.improvements.chronic import PATTERN, REOPENED, VOICES, VOICES_AT, Earlier
from storage.models import Improvement

SHOWN = 3  # earlier chains quoted
QUOTE_LIMIT = 300


def card_line(improvement: Improvement) -> str:
    """'🔁 Chronic: …', the mark on a chronic problem's card."""
    why = {
        REOPENED: "its fix was reopened twice",
        PATTERN: f"{improvement.area} keeps producing this problem",
        VOICES: f"{VOICES_AT}+ people said Me too",
    }.get(improvement.chronic or "", "it keeps coming back")
    return f"🔁 Chronic: {why}"


def _numbers(earlier: Sequence[Earlier]) -> str:
    named = [f"#{e.number}" for e in earlier[:SHOWN]]
    if len(earlier) > SHOWN:
        return f"{', '.join(named)} and {len(earlier) - SHOWN:,} more"
    return named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"


def _chains(earlier: Sequence[Earlier]) -> list[Quote]:
    lines = []
    for e in earlier[:SHOWN]:
        ended = f"root cause “{clip(e.root_cause, QUOTE_LIMIT)}”" if e.root_cause else "no root cause found"
        lines.append(f"#{e.number} ({Status(e.status).label.lower()}): {ended}")
    return [Quote(spans=spans("\n".join(lines)))]


def comeback(improvement: Improvement, earlier: Sequence[Earlier]) -> Message:
    """Before Why #1 of a problem its area keeps producing: the earlier chains, and the question to start from."""
    last = next((e for e in earlier if e.root_cause), None)
    ask = (f"Last time the root cause was “{clip(last.root_cause or '', QUOTE_LIMIT)}” (#{last.number}): why did it "
           "come back? Keep that in mind as you answer the whys below." if last else
           "None of them found a root cause: this time, dig until you reach one.")  # fmt: skip
    text = (f"🔁 This keeps coming back: {_numbers(earlier)} in {improvement.area} were about the same problem. "
            "Their 5 Whys ended here:")  # fmt: skip
    return Message(summary="This problem keeps coming back",
                   blocks=[Paragraph(spans=spans(text)), *_chains(earlier), Paragraph(spans=spans(ask))])  # fmt: skip


def pattern_found(improvement: Improvement, earlier: Sequence[Earlier]) -> Message:
    """The root cause just found is one its area found before."""
    text = (f"🔁 Marked chronic: {_numbers(earlier)} in {improvement.area} ended at a similar root cause. A fix "
            "that holds this time has to reach further than theirs did:")  # fmt: skip
    return Message(summary="Marked chronic", blocks=[Paragraph(spans=spans(text)), *_chains(earlier)])


def slipped_again(improvement: Improvement, root_cause: str | None) -> Message:
    """The fix was reopened a second time."""
    found = f"The 5 Whys ended at “{clip(root_cause, QUOTE_LIMIT)}”" if root_cause else "Its 5 Whys found no root cause"
    text = (f"🔁 Marked chronic: the fix of #{improvement.number} has been reopened twice. {found}: if it keeps "
            "slipping, that may not be the root cause. Dig again with the team before fixing it a third "
            "time.")  # fmt: skip
    return Message(summary="Marked chronic", blocks=[Paragraph(spans=spans(text))])
