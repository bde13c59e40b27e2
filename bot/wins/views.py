"""What the weekly win announcement says. Pure: its content in, Message out."""

from __future__ import annotations

from datetime import date, datetime

from bot.core.calendar import zone
from bot.core.clock import as_utc
from bot.core.domain import format_money, format_number
from bot.core.messages import Bold, Context, Heading, Mention, Message, Paragraph, Span, Text
from bot.core.workspace import WorkspaceSettings
from bot.improvements.card import owner_of, title_of
from bot.wins.content import DigestContent, Totals, hours_per_year
from storage.models import Improvement


def _totals_text(totals: Totals, currency: str) -> str:
    wins = "1 fix" if totals.wins == 1 else f"{totals.wins} fixes"
    return (
        f"{wins}, ≈ {format_number(totals.hours_per_year)} h/year"
        f" ≈ {format_money(totals.money_per_year, currency)}/year given back"
    )


MAX_LISTED = 35  # Slack takes at most 50 blocks a message: the wins, the totals, what waits (a block a stage)


def compose(content: DigestContent, settings: WorkspaceSettings, *, week: str | None = None) -> Message:
    currency = settings.currency
    week = week or content.week
    if not content.wins:
        return _quiet_week(content, settings, week)
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
    blocks += _what_waits(content, settings)
    blocks.append(Context(spans=[Text(text="Thank you! Spotted something broken? Type /improve.")]))
    return Message(summary=f"This week's wins: {len(content.wins)}", blocks=blocks)


def _quiet_week(content: DigestContent, settings: WorkspaceSettings, week: str) -> Message:
    blocks: list = [Paragraph(spans=[Bold(text=f"No fixes landed this week ({week}).")])]
    waits = _what_waits(content, settings)
    if waits:
        blocks += waits
    else:
        nothing = "Nothing is waiting on anyone either: a good week to type /improve."
        blocks.append(Paragraph(spans=[Text(text=nothing)]))
    return Message(summary=f"No wins this week ({week})", blocks=blocks)


STAGE_TITLES = {
    "approval": "Waiting for approval",
    "question": "A question waits for the reporter",
    "in_progress": "Fixes in progress",
    "stalled": "5 Whys stalled (no answer for weeks)",
    "unverified": "Unverified fixes (a check-in was missed)",
    "whys": "5 Whys open",
    "proposal": "Root cause found, no fix approved yet",
}


def _what_waits(content: DigestContent, settings: WorkspaceSettings) -> list[Paragraph]:
    """By stage, the longest waiting first: where a manager can act. One block a stage (Slack's 50-block cap); the
    approvers are named once, in their stage's title."""
    today = content.until.astimezone(zone(settings.timezone)).date()
    blocks = []
    for waiting in content.waiting:
        spans: list[Span] = [Bold(text=STAGE_TITLES[waiting.stage])]
        if waiting.stage == "approval":
            spans.append(Text(text=" (asked: "))
            for n, approver in enumerate(settings.approvers):
                spans += [Text(text=", ")] if n else []
                spans.append(Mention(user=approver))
            spans.append(Text(text="the workspace admins)" if not settings.approvers else ")"))
        for imp in waiting.items:
            spans += [Text(text=f"\n• #{imp.number} {title_of(imp)} · "), *_why_waiting(imp, waiting.stage, content,
                                                                                     today)]  # fmt: skip
        if waiting.total > len(waiting.items):
            spans.append(Text(text=f"\n…and {waiting.total - len(waiting.items)} more"))
        blocks.append(Paragraph(spans=spans))
    return blocks


def _why_waiting(imp: Improvement, stage: str, content: DigestContent, today: date) -> list[Span]:
    days = (content.until - as_utc(imp.updated_at)).days
    since, ago = _since(days), ("today" if days <= 0 else "1 day ago" if days == 1 else f"{days} days ago")
    reporter: Span = Text(text="a teammate") if imp.anonymous else Mention(user=imp.reporter_id)
    if stage == "approval":
        return [Text(text=f"waiting {since}")]
    if stage == "question":
        return [Text(text=f"asked {ago}, for "), reporter]
    if stage == "in_progress":
        due = imp.due_date
        when = "no due date" if due is None else f"due {due:%d %b %Y}"
        overdue = " (overdue)" if due is not None and due < today else ""
        return [Mention(user=owner_of(imp)), Text(text=f", {when}{overdue}")]
    if stage == "whys":
        return [Text(text=f"open {since}, "), reporter]
    if stage == "stalled":
        return [Text(text=f"stalled {_ago(content.until, imp.stalled_at)}, "), reporter]
    if stage == "unverified":
        return [Mention(user=owner_of(imp)), Text(text=f", missed {_ago(content.until, imp.unverified_at)}")]
    return [Text(text=f"{'declined' if imp.status == 'declined' else 'root cause found'} {ago}")]


def _ago(until: datetime, when: datetime | None) -> str:
    days = (until - as_utc(when)).days if when else 0
    return "today" if days <= 0 else "1 day ago" if days == 1 else f"{days} days ago"


def _since(days: int) -> str:
    """How long something has waited, as it reads after "waiting"/"open": for 3 days, for 1 day, since today."""
    return "since today" if days <= 0 else "for 1 day" if days == 1 else f"for {days} days"
