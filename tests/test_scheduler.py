"""The serving process's timers: a tick every minute, and one at the workspace's digest time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.core.workspace import WorkspaceSettings
from bot.scheduler import start_scheduler


async def test_the_scheduler_ticks_every_minute_and_at_the_digest_time() -> None:
    ticks: list[str] = []

    async def tick() -> None:
        ticks.append("tick")

    settings = WorkspaceSettings(intake_channel="C1", digest_at="fri 16:00", timezone="Europe/Berlin")
    scheduler = start_scheduler(tick, settings)
    try:
        every_minute = scheduler.get_job("tick")
        digest = scheduler.get_job("digest")
        assert every_minute.trigger.interval.total_seconds() == 60
        assert every_minute.max_instances == 1 and every_minute.coalesce
        after = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
        fire = digest.trigger.get_next_fire_time(None, after)
        assert fire.astimezone(UTC) == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # Friday 16:00 in Berlin
        scheduler.modify_job("tick", next_run_time=datetime.now(UTC))
        for _ in range(100):
            if ticks:
                break
            await asyncio.sleep(0.02)
        assert ticks == ["tick"]
    finally:
        scheduler.shutdown(wait=False)


async def test_serving_catches_up_at_start_up(slack) -> None:
    from handlers.web import run_scheduled
    from tests.conftest import ALEX
    from tests.support.world import REPORT_DEFAULTS

    slack.stub.fail("chat.postMessage", times=3, status=503)  # Slack was down when this was reported
    view = await slack.command("", ALEX)
    await slack.submit(view, {**REPORT_DEFAULTS, "problem": "Leads twice"}, ALEX)
    assert not slack.cards()
    slack.clock.advance(minutes=5)  # the process restarts later

    async with run_scheduled(slack.bot):
        assert len(slack.cards()) == 1  # delivered by the start-up tick, before the first minute passes
