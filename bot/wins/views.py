"""What the weekly win announcement says. Pure: its content in, Message out."""

from __future__ import annotations

from bot.core.domain import format_money, format_number
from bot.core.messages import Bold, Context, Heading, Mention, Message, Paragraph, Span, Text
from bot.core.workspace import WorkspaceSettings
from bot.improvements.card import owner_of, title_of
from bot.wins.content import DigestContent, Totals, hours_per_year


def _totals_text(totals: Totals, currency: str) -> str:
    wins = "1 fix" if totals.wins == 1 else f"{totals.wins} fixes"
    return (
        f"{wins}, ≈ {format_number(totals.hours_per_year)} h/year"
        f" ≈ {format_money(totals.money_per_year, currency)}/year given back"
    )


MAX_LISTED = 40  # Slack takes at most 50 blocks a message


def compose(content: DigestContent, settings: WorkspaceSettings, *, week: str | None = None) -> Message:
    currency = settings.currency
    week = week or content.week
    if not content.wins:
        return _quiet_week(content, week)
    blocks: list = [Heading(text=f"🏆 This week's wins ({week})")]
    for win in content.wins[:MAX_LISTED]:
        imp = win.improvement
        idea: list[Span] = [Text(text="a teammate")] if imp.anonymous else [Mention(user=imp.reporter_id)]
        hours = hours_per_year(imp)
        news = "held through every check-in 🏁" if win.sustained else "implemented ✅"
        parts: list[Span] = [
            Bold(text=f"#{imp.number} {title_of(imp)}"),
            Text(text=f" {news}. Idea by "),
            *idea,
            Text(text=", carried out by "),
            Mention(user=owner_of(imp)),
            Text(text="."),
        ]
        if hours:
            parts.append(
                Text(
                    text=f" Gives back ≈ {format_number(hours)} h/year"
                    f" ≈ {format_money(hours * settings.hourly_rate, currency)}/year."
                )
            )
        blocks.append(Paragraph(spans=parts))
    if len(content.wins) > MAX_LISTED:
        blocks.append(Paragraph(spans=[Text(text=f"…and {len(content.wins) - MAX_LISTED} more wins.")]))
    blocks.append(Paragraph(spans=[Bold(text="This week: "), Text(text=_totals_text(content.week_totals, currency))]))
    blocks.append(
        Paragraph(spans=[Bold(text="Year to date: "), Text(text=_totals_text(content.year_totals, currency))])
    )
    blocks.append(Context(spans=[Text(text="Thank you! Spotted something broken? Type /improve.")]))
    return Message(summary=f"This week's wins: {len(content.wins)}", blocks=blocks)


def _quiet_week(content: DigestContent, week: str) -> Message:
    blocks: list = [Paragraph(spans=[Bold(text=f"No fixes landed this week ({week}).")])]
    if content.in_progress:
        blocks.append(Paragraph(spans=[Text(text="In progress:")]))
        for imp in content.in_progress:
            blocks.append(
                Paragraph(spans=[Text(text=f"• #{imp.number} {title_of(imp)}, owned by "),
                                 Mention(user=owner_of(imp))])
            )  # fmt: skip
    else:
        blocks.append(Paragraph(spans=[Text(text="Nothing is in progress either: a good week to type /improve.")]))
    return Message(summary=f"No wins this week ({week})", blocks=blocks)
