"""One `tick(now)`: claim what is due (check-ins, nudges, misses, weekly digests), queue it, deliver it.

The due work is rows in the database, so a restart loses nothing and work missed while the bot was down is
done at the next tick. APScheduler calls this every minute (bot.scheduler); `improvebot tick` calls it once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete
from sqlmodel import col

from bot import checkins, digest
from bot.clock import Clock
from bot.delivery import Delivery, FlushReport
from storage.db import transaction
from storage.models import ProcessedEvent

log = logging.getLogger("improvebot.tick")
KEEP_EVENT_IDS = timedelta(days=7)  # Slack retries an event for minutes, not days


@dataclass
class TickReport:
    checkins: int = 0
    nudges: int = 0
    missed: int = 0
    digests: int = 0
    delivery: FlushReport = field(default_factory=FlushReport)

    def line(self) -> str:
        d = self.delivery
        return (
            f"check-ins {self.checkins}, nudges {self.nudges}, missed {self.missed}, digests {self.digests}; "
            f"delivered {d.sent}, failed {d.failed}, given up {d.dead}"
        )


class Ticker:
    def __init__(self, engine: Engine, clock: Clock, platform: str, delivery: Delivery) -> None:
        self._engine = engine
        self._clock = clock
        self._platform = platform
        self._delivery = delivery
        self._lock = asyncio.Lock()

    async def tick(self) -> TickReport:
        async with self._lock:
            now = self._clock.now()
            report = await asyncio.to_thread(self._queue, now)
            report.delivery = await self._delivery.flush()
            for error in report.delivery.errors:
                log.warning("delivery: %s", error)
            if report.checkins or report.nudges or report.digests or report.delivery.sent:
                log.info("tick %s: %s", now.isoformat(), report.line())
            return report

    def _queue(self, now: datetime) -> TickReport:
        report = TickReport()
        while True:  # in batches, one transaction each, so a huge backlog never holds one long lock
            with transaction(self._engine) as session:
                queued = checkins.queue_due(session, self._platform, now)
            report.checkins += queued
            if queued < checkins.BATCH:
                break
        with transaction(self._engine) as session:
            report.nudges = checkins.queue_nudges(session, self._platform, now)
            report.missed = checkins.mark_missed(session, self._platform, now)
        with transaction(self._engine) as session:
            report.digests = digest.queue_due(session, self._platform, now)
        with transaction(self._engine) as session:
            session.execute(delete(ProcessedEvent).where(col(ProcessedEvent.at) < now - KEEP_EVENT_IDS))
        return report
