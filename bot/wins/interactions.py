"""What the weekly wins offer, registered in one place: the announcement queued by the tick, and its chart."""

from __future__ import annotations

from bot.core.registry import Registry, TickJob
from bot.wins import charts, digest


def register(registry: Registry) -> None:
    registry.chart("weekly", charts.weekly)
    registry.tick(TickJob("digests", digest.queue_due, repeat=True))
