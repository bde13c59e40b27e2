"""Retention (issue 13, #4): delivered (or given-up) messages are deleted by the tick IMPROVE_RETENTION_DAYS after
they were written; a message still waiting to go is kept however old, and so is a weekly announcement's row (its
outcome is read from it). Handled events go after 7 days (form answers after 90: bot.tick)."""

from __future__ import annotations

from sqlmodel import Session, func, select

from storage.models import Digest, Improvement, OutboxMessage, ProcessedEvent
from tests.conftest import ALEX
from tests.support.world import SlackWorld


def _count(slack: SlackWorld, model, *where) -> int:
    with Session(slack.engine) as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


async def test_old_events_and_delivered_messages_go_waiting_ones_stay(slack: SlackWorld) -> None:
    await slack.report(ALEX)  # its card, its why and the confirmation went out; the form's answer was recorded
    sent = _count(slack, OutboxMessage, OutboxMessage.status == "sent")
    assert sent >= 3 and _count(slack, ProcessedEvent) >= 1
    slack.clock.advance(days=29)
    slack.stub.fail("chat.postMessage", times=1000, status=500)
    await slack.report(ALEX, "Proposals wait a week for legal")  # its card cannot go: it waits

    slack.clock.advance(days=2)  # the first report's rows are 31 days old; the second's 2
    await slack.bot.ticker.tick()

    assert _count(slack, OutboxMessage, OutboxMessage.status == "sent") == 0
    assert _count(slack, OutboxMessage, OutboxMessage.status == "pending") >= 1  # waiting: kept
    assert _count(slack, Improvement) == 2  # the record itself is never touched by retention
    assert _count(slack, ProcessedEvent) == 2  # the form answers: kept 90 days, so a card sent again is not saved twice


async def test_a_weekly_announcements_row_is_kept(slack: SlackWorld) -> None:
    from tests.support.slack_flows import at, implemented, tick_at

    await implemented(slack)
    await tick_at(slack, at(27, 16, 5))  # Friday's announcement goes out
    with Session(slack.engine) as session:
        digest = session.exec(select(Digest)).one()
    assert digest.status == "posted" and digest.outbox_id is not None

    slack.clock.advance(days=60)
    await slack.bot.ticker.tick()

    assert _count(slack, OutboxMessage, OutboxMessage.id == digest.outbox_id) == 1
