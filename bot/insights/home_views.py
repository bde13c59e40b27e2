"""One person's home view: what waits on them (each with its buttons), their improvements with the ledger, and the
team's figures and charts. Pure: the gathered data in, a Message out (Slack's App Home, Teams' refreshing card,
the console's text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core.domain import Status, format_number
from bot.core.messages import Actions, Block, Bold, Context, Heading, Image, Message, Paragraph, Text, ThreadLink
from bot.core.workspace import WorkspaceSettings
from bot.improvements.card import title_of
from bot.improvements.ledger import ledger_of
from bot.improvements.views import approval_buttons, mark_implemented_button, resubmit_button
from bot.insights.team import TeamFigures, people_text
from bot.insights.views import line
from bot.sustain.views import checkin_buttons
from storage.models import Improvement

if TYPE_CHECKING:
    from bot.insights.home import Home

EACH = 5  # of each kind of waiting work, then "and N more"
MINE = 8
FEWER = ((2, 3), (1, 1))  # (EACH, MINE) tried in turn when the view is longer than the platform shows
REFRESH = "home"  # the verb a platform asks for the view again by (Teams' card refresh)


@dataclass(frozen=True)
class Chart:
    ref: str  # the platform's own reference to the uploaded image (ChatPort.image)
    made_at: str  # "09:40 UTC"


def home(
    data: Home, chart: Chart | None, settings: WorkspaceSettings, word: str, notice: str = "", fit: int | None = None
) -> Message:
    """`fit`: the most blocks the platform shows (Slack: 50 in a message); a view longer than that shows fewer of
    each kind of item (the rest is "…and N more"), so the team's figures at its end are never cut off."""
    for each, mine in ((EACH, MINE), *FEWER):
        blocks: list[Block] = [Context(spans=[Text(text=notice)])] if notice else []
        blocks += _waiting(data, word, each)
        blocks += _mine(data, settings, word, mine)
        blocks += _team(data.team, chart, settings)
        if fit is None or len(blocks) <= fit:
            break
    count = f"{data.waiting.count}{'+' if data.waiting.capped else ''}"
    plural = data.waiting.count != 1 or data.waiting.capped
    summary = f"Your home: {count} thing{'s' if plural else ''} wait{'' if plural else 's'} on you"
    return Message(summary=summary, blocks=blocks, refresh=REFRESH)


def _thread(improvement_id: int | None) -> ThreadLink:
    return ThreadLink(text="thread", improvement=improvement_id)


def _name(number: int, title: str) -> Bold:
    return Bold(text=f"#{number} {title}")


def _waiting(data: Home, word: str, each: int) -> list[Block]:
    waiting = data.waiting
    blocks: list[Block] = [Heading(text="Waiting on you")]
    if not waiting.count:
        return [*blocks, Paragraph(spans=[Text(text="Nothing waits on you right now. 🎉")])]
    for imp in waiting.approvals[:each]:
        blocks.append(Paragraph(spans=[Text(text="📝 Decide the fix of "), _name(imp.number, title_of(imp)),
                                       Text(text=f": {imp.countermeasure or ''}"[:300] + " · "),
                                       _thread(imp.id)]))  # fmt: skip
        blocks.append(approval_buttons(imp))
    for imp in waiting.whys[:each]:
        if imp.status == Status.QUESTION_ASKED.value:
            blocks.append(Paragraph(spans=[Text(text="❓ An approver asked about "), _name(imp.number, title_of(imp)),
                                           Text(text=": answer in the thread, then resubmit · "),
                                           _thread(imp.id)]))  # fmt: skip
            blocks.append(Actions(buttons=[resubmit_button(imp)]))
        else:
            blocks.append(Paragraph(spans=[Text(text="🔍 The 5 Whys of "), _name(imp.number, title_of(imp)),
                                           Text(text=" wait for your answer in its "), _thread(imp.id)]))  # fmt: skip
    for checkin, imp in waiting.checkins[:each]:
        blocks.append(Paragraph(spans=[Text(text=f"🔁 Check-in {checkin.position} of {checkin.of}: does the fix of "),
                                       _name(imp.number, title_of(imp)), Text(text=" still hold? · "),
                                       _thread(imp.id)]))  # fmt: skip
        blocks.append(checkin_buttons(checkin))
    for imp in waiting.overdue[:each]:
        due = f" (it was due {imp.due_date.isoformat()})" if imp.due_date else ""
        blocks.append(Paragraph(spans=[Text(text="⏰ Overdue: "), _name(imp.number, title_of(imp)),
                                       Text(text=f"{due} · "), _thread(imp.id)]))  # fmt: skip
        blocks.append(Actions(buttons=[mark_implemented_button(imp)]))
    shown = sum(min(each, len(kind)) for kind in (waiting.approvals, waiting.whys, waiting.checkins, waiting.overdue))
    if waiting.count > shown:
        more = f"{waiting.count - shown}{'+' if waiting.capped else ''}"
        blocks.append(Context(spans=[Text(text=f"…and {more} more: {word} list waiting")]))
    return blocks


def _mine(data: Home, settings: WorkspaceSettings, word: str, mine: int) -> list[Block]:
    blocks: list[Block] = [Heading(text="Your improvements")]
    if not data.mine:
        return [*blocks, Paragraph(spans=[Text(text=f"None yet. Type {word} the moment a process bites.")])]
    for imp in data.mine[:mine]:
        blocks.append(Paragraph(spans=line(imp, settings)))
        figures = _ledger(imp, settings)
        if figures:
            blocks.append(Context(spans=[Text(text=figures)]))
    if data.mine_total > min(mine, len(data.mine)):
        more = data.mine_total - min(mine, len(data.mine))
        blocks.append(Context(spans=[Text(text=f"…and {more} more: {word} list mine")]))
    return blocks


def _ledger(imp: Improvement, settings: WorkspaceSettings) -> str:
    """'estimated ≈ 624 h/year ≈ $31,200/year · approved ≈ 624 h/year ≈ $31,200/year · confirmed …'."""
    ledger = ledger_of(imp, settings)
    parts = []
    for figure, label in ((ledger.estimated, "estimated"), (ledger.approved, "approved"),
                          (ledger.confirmed, "confirmed")):  # fmt: skip
        if figure is not None and figure.hours_per_year:
            parts.append(f"{label} {figure.text(label).removesuffix(f' ({label})')}")
    return " · ".join(parts)


def _team(team: TeamFigures, chart: Chart | None, settings: WorkspaceSettings) -> list[Block]:
    stages = " · ".join(f"{status.emoji} {count:,} {status.label.lower()}" for status, count in team.stages.items())
    quarter = (
        f"{team.quarter.label}: {_fixes(team.approved.fixes)} approved{_unestimated(team.approved.unestimated)}, "
        f"≈ {format_number(team.approved.hours_per_year)} h/year expected (approved estimates); "
        f"{_fixes(team.confirmed.fixes)} confirmed, ≈ {format_number(team.confirmed.hours_per_year)} h/year "
        "(held through every check-in)."
    )
    blocks: list[Block] = [
        Heading(text="Team"),
        Paragraph(spans=[Text(text=stages)]),
        Paragraph(spans=[Bold(text="This quarter, "), Text(text=quarter)]),
    ]
    said = charts_in_words(team, settings)
    if chart is not None:
        blocks.append(Image(ref=chart.ref, title=f"Team charts (as of {chart.made_at})", alt=said))
    blocks.append(Context(spans=[Text(text=said)]))
    return blocks


def _unestimated(count: int) -> str:
    return f" ({count:,} not estimated yet)" if count else ""


def _fixes(count: int) -> str:
    return f"{count:,} fix{'es' if count != 1 else ''}"


def charts_in_words(team: TeamFigures, settings: WorkspaceSettings) -> str:
    """What the charts show, in one paragraph: their alt text, and the console's whole picture."""
    parts: list[str] = []
    if team.pareto:
        top = ", ".join(f"{area} ≈ {format_number(hours)} h/year" for area, hours in team.pareto[:3])
        parts.append(f"Open problems by estimated hours: {top}")
    else:
        parts.append("No open problem has an estimate")
    stages = []
    if team.to_approval is not None:
        stages.append(f"report → approved {_days(team.to_approval)}")
    if team.to_implemented is not None:
        stages.append(f"approved → implemented {_days(team.to_implemented)}")
    parts.append("Median cycle time (90 days): " + ("; ".join(stages) if stages else "nothing finished yet"))
    parts.append(f"{people_text(team.reporters)} reported this quarter")
    rate = team.sustain_rate
    parts.append(
        f"Sustain rate (90 days): {100 * rate:.0f}% of {_fixes(team.checked)} checked still hold"
        if rate is not None
        else "Sustain rate: no check-in answered in 90 days"
    )
    return ". ".join(parts) + "."


def _days(days: float) -> str:
    return f"{format_number(days)} day{'' if format_number(days) == '1' else 's'}"
