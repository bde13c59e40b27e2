"""What the weekly win announcement says. Pure: its content in, Message out."""

from __future__ import annotations

from datetime import date, datetime

from bot.core.calendar import zone
from bot.core.clock import as_utc
from bot.core.domain import format_money, format_number
from bot.core.messages import Bold, Context, Heading, Mention, Message, Paragraph, Span, Text, clip
from bot.core.metrics import before_after
from bot.core.workspace import WorkspaceSettings
from bot.improvements.card import owner_of, title_of
from bot.improvements.ledger import Figure, latest_text, metric_of
from bot.wins.content import DigestContent, Totals, Win
from storage.models import Improvement


def _totals_text(implemented: Totals, confirmed: Totals, currency: str) -> str:
    """'2 fixes implemented, ≈ 1,040 h/year ≈ $52,000/year (approved estimates); 1 fix confirmed, ≈ …'."""
    parts = []
    for totals, done, label in ((implemented, "implemented", "approved estimates"), (confirmed, "confirmed",
                                                                                      "confirmed")):  # fmt: skip
        fixes = "1 fix" if totals.wins == 1 else f"{totals.wins} fixes"
        figure = (f", ≈ {format_number(totals.hours_per_year)} h/year ≈ {format_money(totals.money_per_year, currency)}"
                  f"/year ({label})") if totals.wins else ""  # fmt: skip
        parts.append(f"{fixes} {done}{figure}")
    return "; ".join(parts)


MAX_LISTED = 33  # Slack takes at most 50 blocks a message: the wins, two section titles, the totals, what waits


def compose(content: DigestContent, settings: WorkspaceSettings, *, week: str | None = None) -> Message:
    currency = settings.currency
    week = week or content.week
    if not content.wins:
        return _quiet_week(content, settings, week)
    blocks: list = [Heading(text=f"🏆 This week's wins ({week})")]
    listed = 0
    for title, wins, confirmed in (("Implemented this week", content.implemented, False),
                                   ("Held through every check-in 🏁", content.sustained, True)):  # fmt: skip
        shown = wins[: max(0, MAX_LISTED - listed)]
        if not shown:
            continue
        blocks.append(Paragraph(spans=[Bold(text=title)]))
        blocks += [Paragraph(spans=_win(win, confirmed)) for win in shown]
        listed += len(shown)
    more = len(content.implemented) + len(content.sustained) - listed
    if more > 0:
        blocks.append(Paragraph(spans=[Text(text=f"…and {more} more.")]))
    week_text = _totals_text(content.week_implemented, content.week_confirmed, currency)
    year_text = _totals_text(content.year_implemented, content.year_confirmed, currency)
    blocks.append(Paragraph(spans=[Bold(text="This week: "), Text(text=week_text)]))
    blocks.append(Paragraph(spans=[Bold(text="Year to date: "), Text(text=year_text)]))
    blocks += _what_waits(content, settings)
    blocks.append(Context(spans=[Text(text="Thank you! Spotted something broken? Type /improve.")]))
    return Message(summary=f"This week's wins: {len(content.wins)}", blocks=blocks)


def _win(win: Win, confirmed: bool) -> list[Span]:
    """One win: what happened, whose idea, who carried it out, before → after with the verdict, the work people
    stopped doing, and its hours with the figure's name."""
    imp = win.improvement
    idea: list[Span] = [Text(text="a teammate")] if imp.anonymous else [Mention(user=imp.reporter_id)]
    if confirmed:
        news = "held through every check-in 🏁"
    else:
        news = "fixed again after slipping ✅" if win.fixed_again else "implemented ✅"
    parts: list[Span] = [
        Bold(text=f"#{imp.number} {title_of(imp)}"),
        Text(text=f" {news}. Idea by "),
        *idea,
        Text(text=", carried out by "),
        Mention(user=owner_of(imp)),
        Text(text="."),
    ]
    if imp.metric_now_value is not None or imp.metric_now:
        parts.append(
            Text(text=f"\nBefore → after: {before_after(metric_of(imp), imp.metric_now_value, latest_text(imp))}.")
        )
    if imp.not_to_do:
        parts.append(Text(text=f"\nStops doing: {clip(imp.not_to_do, 300)}"))
    if imp.approved_hours_per_year:
        figure = Figure(imp.approved_hours_per_year, imp.approved_hourly_rate or 0, imp.approved_currency or "")
        parts.append(Text(text=f"\nGives back {figure.text('confirmed' if confirmed else 'approved estimate')}."))
    return parts


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
    """By stage, ranked then the longest waiting first: where a manager can act. One block a stage (Slack's 50-block
    cap); the approvers are named once, in their stage's title."""
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
            mark = "🔁 " if imp.chronic else ""  # chronic: it keeps coming back (ranked first)
            spans += [Text(text=f"\n• {mark}#{imp.number} {title_of(imp)} · "),
                      *_why_waiting(imp, waiting.stage, content, today)]  # fmt: skip
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
