"""`GET /metrics` in Prometheus' text format (prometheus-client): request (ack) latency by kind, deliveries by
result and ticks (counted in this process), the outbox's backlog and its oldest message's age, and the rows due
now by kind (read when Prometheus scrapes, each an indexed count; `improvebot_database_up` 0 when they could not
be). Every app has a registry of its own (tests build many)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.core.clock import as_utc
from bot.delivery.sender import FlushReport
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
        up = GaugeMetricFamily("improvebot_database_up", "1 when the database figures below could be read")
        try:
            figures = self._read()
        except SQLAlchemyError:  # the scrape still answers: the process's own figures matter most now
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        backlog, oldest, due = figures
        pending = GaugeMetricFamily("improvebot_outbox_backlog", "Messages waiting to be delivered")
        pending.add_metric([], backlog)
        yield pending
        age = GaugeMetricFamily("improvebot_outbox_oldest_pending_seconds", "Age of the oldest undelivered message")
        age.add_metric([], oldest)
        yield age
        rows = GaugeMetricFamily("improvebot_due_rows", "Scheduled rows due now, by kind", labels=["kind"])
        for kind, count in due.items():
            rows.add_metric([kind], count)
        yield rows

    def _read(self) -> tuple[int, float, dict[str, int]]:
        """(messages pending, the oldest one's age in seconds, rows due now by kind): indexed counts only."""
        now = self._now()
        with Session(self._engine) as session:
            pending = OutboxMessage.status == "pending"
            backlog, oldest = session.exec(
                select(func.count(), func.min(OutboxMessage.created_at)).where(pending)
            ).one()
            due = {
                "checkin": select(func.count()).where(Checkin.status == "scheduled", col(Checkin.due_at) <= now),
                "reminder": select(func.count()).where(Reminder.status == "pending", col(Reminder.due_at) <= now),
                "outbox": select(func.count()).where(pending, col(OutboxMessage.next_attempt_at) <= now),
            }
            counts = {kind: int(session.exec(query).one()) for kind, query in due.items()}
        return int(backlog), max(0.0, (now - as_utc(oldest)).total_seconds()) if oldest else 0.0, counts


class Timed:
    """ASGI middleware: each request's time until its answer starts, by kind. Plain ASGI (not Starlette's
    BaseHTTPMiddleware): a client that leaves mid-body gets no answer, and that must stay a non-event."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app, self._metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started, kind = time.perf_counter(), kind_of(str(scope.get("path", "")))

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._metrics.requests.labels(kind).observe(time.perf_counter() - started)
            await send(message)

        await self._app(scope, receive, timed_send)


class Metrics:
    def __init__(self, engine: Engine, now: Callable[[], datetime]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram("improvebot_request_seconds", "Time to answer a request (the ack), by kind",
                                  ["kind"], buckets=BUCKETS, registry=self.registry)  # fmt: skip
        self.ticks = Counter("improvebot_ticks", "Scheduled ticks run, by result", ["result"], registry=self.registry)
        self.deliveries = Counter("improvebot_deliveries", "Messages delivered, failed (retried) or given up",
                                  ["result"], registry=self.registry)  # fmt: skip
        self.registry.register(_Database(engine, now))

    def ticked(self, result: str) -> None:
        self.ticks.labels(result).inc()

    def delivered(self, report: FlushReport) -> None:
        for result, count in (("sent", report.sent), ("failed", report.failed), ("dead", report.dead)):
            if count:
                self.deliveries.labels(result).inc(count)

    async def page(self) -> Response:
        body = await asyncio.to_thread(generate_latest, self.registry)  # the database figures: off the loop
        return Response(body, media_type=CONTENT_TYPE_LATEST)
