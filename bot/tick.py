"""One `tick(now)`: run the due work every capability registered (check-ins, nudges, misses, weekly digests),
queue what it says, deliver it.

The due work is rows in the database, so a restart loses nothing and work missed while the bot was down is
done at the next tick. APScheduler calls this every minute (bot.scheduler); `improvebot tick` calls it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete
from sqlmodel import col

from bot.core.clock import Clock
from bot.core.registry import Registry
from bot.delivery.sender import Delivery, FlushReport
from storage.db import Runner, Unavailable, transaction
from storage.models import ProcessedEvent

log = logging.getLogger("improvebot.tick")
KEEP_EVENT_IDS = timedelta(days=7)  # Slack retries an event for minutes, not days
KEEP_FORM_ANSWERS = timedelta(days=90)  # a Teams form card stays in a chat: answered again weeks later, it is the same


@dataclass
class TickReport:
    queued: dict[str, int] = field(default_factory=dict)  # per job label, in the order the jobs run
    delivery: FlushReport = field(default_factory=FlushReport)

    def line(self) -> str:
        d = self.delivery
        jobs = ", ".join(f"{label} {count}" for label, count in self.queued.items())
        return f"{jobs}; delivered {d.sent}, failed {d.failed}, given up {d.dead}"


def _merged(reports: list[FlushReport]) -> FlushReport:
    """One tick's deliveries together (a waiting tick's early flushes and its last)."""
    return FlushReport(
        sent=sum(r.sent for r in reports),
        failed=sum(r.failed for r in reports),
        dead=sum(r.dead for r in reports),
        errors=[error for r in reports for error in r.errors],
    )


def _log_failure(task: asyncio.Task[FlushReport]) -> None:
    if not task.cancelled() and task.exception() is not None:  # a bug: the next nudge or tick tries again
        log.error("background delivery failed", exc_info=task.exception())


class Ticker:
    def __init__(
        self, engine: Engine, clock: Clock, platform: str, delivery: Delivery, registry: Registry, runner: Runner
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._platform = platform
        self._delivery = delivery
        self._registry = registry
        self._runner = runner
        self._lock = asyncio.Lock()
        self._flushing: asyncio.Task[FlushReport] | None = None
        self._stopped = False  # shutting down: nothing more is delivered

    async def tick(self, *, wait: bool = True) -> TickReport:
        """Queue the due work, then deliver. Delivery starts with the first batch the tick queues, not after the
        last (10,000 due check-ins are 20 batches: seconds of queueing). `wait=False` (the serving process):
        delivery goes on in the background, one flush at a time that keeps claiming what comes due, so a long,
        paced backlog never holds up the next minute's tick (nor another platform's); else the tick returns when
        what it queued has been delivered (or failed)."""
        loop = asyncio.get_running_loop()
        early: list[asyncio.Task[FlushReport]] = []  # the flushes a waiting tick started while it queued

        def deliver_early() -> None:  # on the loop: a batch was committed
            self.nudge()
            if wait and self._flushing is not None and self._flushing not in early:
                early.append(self._flushing)

        async with self._lock:
            now = self._clock.now()
            try:
                report = await self._runner.run(
                    lambda: self._queue(now, lambda: loop.call_soon_threadsafe(deliver_early))
                )
            except Unavailable as exc:  # the database is busy (another instance queues the same work) or down:
                skipped: Unavailable | None = exc  # what is queued already still goes out meanwhile; the next tick
            else:  # queues what this one could not
                skipped = None
        if skipped is not None:
            if wait:
                await asyncio.gather(*early, return_exceptions=True)
                await self._delivery.flush()
            else:
                self.nudge()
            raise skipped
        if not wait:
            if any(report.queued.values()):
                log.info("tick %s: %s", now.isoformat(), report.line().split(";")[0])
            self.nudge()
            return report
        done = await asyncio.gather(*early, return_exceptions=True)
        if self._stopped:  # stopped meanwhile: what went early is what went
            report.delivery = _merged([r for r in done if isinstance(r, FlushReport)])
            return report
        report.delivery = _merged([*(r for r in done if isinstance(r, FlushReport)), await self._delivery.flush()])
        failed = [r for r in done if isinstance(r, Exception)]
        if failed:  # a bug in an early flush: `improvebot tick` fails as it did when its one flush failed
            raise failed[0]
        if any(report.queued.values()) or report.delivery.sent:
            log.info("tick %s: %s", now.isoformat(), report.line())
        return report

    def nudge(self) -> None:
        """Deliver what is due in the background, unless a background flush is under way already (it keeps
        claiming what comes due). A worker calls this every second for what the serving processes queued."""
        if not self._stopped and (self._flushing is None or self._flushing.done()):
            self._flushing = asyncio.ensure_future(self._deliver_behind())
            self._flushing.add_done_callback(_log_failure)

    async def _deliver_behind(self) -> FlushReport:
        report = await self._delivery.flush()  # each failure is logged where it happens
        if report.sent or report.failed:
            log.info("delivered in the background: sent %s, failed %s, given up %s",
                     report.sent, report.failed, report.dead)  # fmt: skip
        return report

    async def stop(self) -> None:
        """Stop a background delivery: what it holds is released (a send under way as unsure)."""
        self._stopped = True
        flushing, self._flushing = self._flushing, None
        if flushing is not None and not flushing.done():
            flushing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flushing

    def _queue(self, now: datetime, queued_some: Callable[[], object] | None = None) -> TickReport:
        """Every tick job's due work into the outbox; `queued_some()` after each run that queued something (it is
        committed: delivery may take it)."""
        report = TickReport()
        for job in self._registry.tick_jobs:
            report.queued[job.label] = 0
            while True:  # one transaction a run, so a huge backlog never holds one long lock
                with transaction(self._engine) as session:
                    queued = job.run(session, self._platform, now)
                report.queued[job.label] += queued
                if queued and queued_some is not None:
                    queued_some()
                if not (job.repeat and queued):
                    break
        with transaction(self._engine) as session:
            form = col(ProcessedEvent.event_id).startswith("form:")
            session.execute(delete(ProcessedEvent).where(~form, col(ProcessedEvent.at) < now - KEEP_EVENT_IDS))
            session.execute(delete(ProcessedEvent).where(form, col(ProcessedEvent.at) < now - KEEP_FORM_ANSWERS))
        return report
