"""`GET /metrics` in Prometheus' text format (prometheus-client): request (ack) latency by kind, the outbox
(backlog, its oldest pending message's age, messages by result), the rows due now by kind, and ticks. The
database figures are read when Prometheus scrapes, each in one indexed count; every app has a registry of its
own (tests build many)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from starlette.requests import Request
from starlette.responses import Response

from bot.core.clock import as_utc
from storage.models import Checkin, OutboxMessage, Reminder

# what a request is, by its route: the platforms' doors and the server's own
KINDS = {"/slack/events": "slack", "/api/messages": "teams", "/healthz": "healthz", "/readyz": "readyz",
         "/metrics": "metrics"}  # fmt: skip
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)  # Slack's ack limit is 3 s


def kind_of(path: str) -> str:
    return KINDS.get(path) or ("download" if path.startswith(("/downloads/", "/charts/")) else "other")


class _Database(Collector):
    """Read at each scrape: a stalled database shows as a failed scrape of these, not as a stuck server."""

    def __init__(self, engine: Engine, now: Callable[[], datetime]) -> None:
        self._engine, self._now = engine, now

    def collect(self) -> Iterator[Metric]:
        now = self._now()
        with Session(self._engine) as session:
            by_status = select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status))
            statuses: dict[str, int] = {status: count for status, count in session.exec(by_status).all()}
            oldest = session.exec(
                select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == "pending")
            ).one()
            checkins = session.exec(
                select(func.count()).where(Checkin.status == "scheduled", col(Checkin.due_at) <= now)
            ).one()
            reminders = session.exec(
                select(func.count()).where(Reminder.status == "pending", col(Reminder.due_at) <= now)
            ).one()
            outbox = session.exec(
                select(func.count()).where(OutboxMessage.status == "pending", col(OutboxMessage.next_attempt_at) <= now)
            ).one()
        backlog = GaugeMetricFamily("improvebot_outbox_backlog", "Messages waiting to be delivered")
        backlog.add_metric([], statuses.get("pending", 0))
        yield backlog
        age = GaugeMetricFamily("improvebot_outbox_oldest_pending_seconds", "Age of the oldest undelivered message")
        age.add_metric([], max(0.0, (now - as_utc(oldest)).total_seconds()) if oldest else 0.0)
        yield age
        results = GaugeMetricFamily("improvebot_outbox_messages", "Messages kept, by result", labels=["result"])
        for status in ("sent", "dead", "pending"):
            results.add_metric([status], statuses.get(status, 0))
        yield results
        due = GaugeMetricFamily("improvebot_due_rows", "Scheduled rows due now, by kind", labels=["kind"])
        for kind, count in (("checkin", checkins), ("reminder", reminders), ("outbox", outbox)):
            due.add_metric([kind], count)
        yield due


class Metrics:
    def __init__(self, engine: Engine, now: Callable[[], datetime]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram("improvebot_request_seconds", "Time to answer a request (the ack), by kind",
                                  ["kind"], buckets=BUCKETS, registry=self.registry)  # fmt: skip
        self.ticks = Counter("improvebot_ticks", "Scheduled ticks run, by result", ["result"], registry=self.registry)
        self.registry.register(_Database(engine, now))

    async def timed(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Middleware: every request's time to answer, by kind."""
        started = time.perf_counter()
        try:
            return await call_next(request)
        finally:
            self.requests.labels(kind_of(request.url.path)).observe(time.perf_counter() - started)

    async def page(self) -> Response:
        body = await asyncio.to_thread(generate_latest, self.registry)  # the database figures: off the loop
        return Response(body, media_type=CONTENT_TYPE_LATEST)
