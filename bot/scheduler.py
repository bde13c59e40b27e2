"""APScheduler in the serving process: a tick every minute, and one at each workspace's digest time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.core.calendar import WEEKDAYS, parse_weekly, zone
from bot.core.workspace import WorkspaceSettings


def start_scheduler(tick: Callable[[], Awaitable[object]], settings: WorkspaceSettings) -> AsyncIOScheduler:
    """Must be called with the event loop running. The jobs only trigger `tick`; what is due lives in rows."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 60}
    scheduler.add_job(tick, IntervalTrigger(minutes=1, timezone=UTC), id="tick", **common)
    weekday, at = parse_weekly(settings.digest_at)
    digest_time = CronTrigger(
        day_of_week=WEEKDAYS[weekday], hour=at.hour, minute=at.minute, timezone=zone(settings.timezone)
    )
    scheduler.add_job(tick, digest_time, id="digest", **common)
    scheduler.start()
    return scheduler
