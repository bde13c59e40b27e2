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

    slack.stub.fail("chat.postMessage", status=503)  # Slack was down when this was reported
    view = await slack.command("", ALEX)
    await slack.submit(view, {**REPORT_DEFAULTS, "problem": "Leads twice"}, ALEX)
    assert not slack.cards()
    slack.clock.advance(minutes=5)  # the process restarts later

    async with run_scheduled(slack.bot):
        for _ in range(200):  # the catch-up runs in the background
            if slack.cards():
                break
            await asyncio.sleep(0.02)
        assert len(slack.cards()) == 1  # delivered by the start-up tick, before the first minute passes


async def test_serving_starts_before_the_catch_up_is_done(slack) -> None:
    """A backlog and a slow Slack at start-up: the server is serving at once; the catch-up goes on behind it."""
    from handlers.web import run_scheduled
    from tests.conftest import ALEX
    from tests.support.world import REPORT_DEFAULTS

    slack.stub.fail("chat.postMessage", times=3, status=503)
    for n in range(3):
        view = await slack.command("", ALEX)
        await slack.submit(view, {**REPORT_DEFAULTS, "problem": f"Leads twice {n}"}, ALEX)
    slack.clock.advance(minutes=5)
    slack.stub.latency = 1.0  # every Web API call (auth.test too) takes a second

    loop = asyncio.get_running_loop()
    started = loop.time()
    async with run_scheduled(slack.bot):
        assert loop.time() - started < 0.5  # not waiting for Slack, nor for the backlog
        response = await slack.http.get("/healthz")
        assert response.status_code == 200 and loop.time() - started < 0.8
        assert not slack.cards()  # the catch-up is still under way
        for _ in range(300):
            if len(slack.cards()) == 3:
                break
            await asyncio.sleep(0.05)
        assert len(slack.cards()) == 3
