"""What people do on Slack, step by step, shared by the tests: report to the root cause, propose, approve,
implement, and let the clock run."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.conftest import ALEX, MAYA
from tests.support.slack_api import Call
from tests.support.world import SlackWorld

PROPOSAL = {
    "countermeasure": "One form, one webhook",
    "measure": "Duplicate leads per week, counted every Friday",
    "unit": "/week",
    "direction": "lower",
    "baseline": "40",
    "target": "5",
    "not_to_do": "The Monday dedupe spreadsheet",
    "owner": ALEX,
    "due_date": "2026-12-15",
}


async def to_root_cause(slack: SlackWorld):
    card = await slack.report(ALEX, hours_per_week=2, people=10)
    await slack.reply(card.ts, "Two web forms", ALEX)
    await slack.click(slack.thread(card)[-1], "root_cause", ALEX)
    return card, slack.thread(card)[-1]


async def to_approval(slack: SlackWorld):
    card, chain = await to_root_cause(slack)
    await slack.click_and_submit(chain, "propose", ALEX, PROPOSAL)
    return card, slack.thread(card)[-1]


NY_TZ = "America/New_York"


async def implemented(slack: SlackWorld) -> Call:
    """Report -> … -> implemented on Monday 23 Nov 2026, 09:00 UTC; the owner (Alex) lives in New York."""
    slack.stub.users[ALEX] = {"tz": NY_TZ}
    card, request = await to_approval(slack)
    await slack.click(request, "approve", MAYA)
    await slack.click_and_submit(slack.thread(card)[-1], "mark_implemented", ALEX, {"metric_now": "3"})
    return card


async def tick_at(slack: SlackWorld, when: datetime) -> None:
    slack.clock.set(when)
    await slack.bot.ticker.tick()


def checkin_dms(slack: SlackWorld) -> list[Call]:
    return [c for c in slack.dms(ALEX) if "Check-in" in c.text_of_blocks and "gentle nudge" not in c.text_of_blocks]


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026 if month > 2 else 2027, month, day, hour, minute, tzinfo=UTC)


async def open_form(slack: SlackWorld, message: Call, action: str, user: str) -> dict | None:
    """Click a button that opens a form: the form Slack was asked to open, or None when none opened."""
    before = len(slack.stub.of("views.open"))
    await slack.click(message, action, user)
    opened = slack.stub.of("views.open")
    return opened[-1]["view"] if len(opened) > before else None
