"""A control chart for every fix: an individuals chart (XmR) of its readings, the natural process limits from the
moving ranges, and what the latest reading says against them and the baseline. The arithmetic is pure; `payload`
is what the outbox keeps until the chart is drawn (bot.sustain.control_chart), at delivery.

The limits are the mean of the readings ± 2.66 × the mean moving range (Wheeler's XmR; 2.66 = 3 / d2, d2 = 1.128
for ranges of two). The latest reading is judged against the limits of the readings before it once there are at
least two of them (a new reading cannot stretch the limits it is judged by), else against all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from statistics import fmean
from typing import Any

from bot.core.metrics import Direction, Metric, format_value, worse_than_baseline

SCALING = 2.66


@dataclass(frozen=True)
class Limits:
    center: float  # the mean of the readings
    moving_range: float  # the mean of |x[i] - x[i-1]|
    upper: float  # the upper natural process limit
    lower: float


def xmr(values: Sequence[float]) -> Limits | None:
    """The natural process limits of `values`; None with fewer than two, or when they never moved (limits of
    zero width would call every change a signal: 0, 0, then 1)."""
    if len(values) < 2:
        return None
    center = fmean(values)
    moving_range = fmean(abs(b - a) for a, b in pairwise(values))
    if moving_range == 0:
        return None
    return Limits(center, moving_range, center + SCALING * moving_range, center - SCALING * moving_range)


@dataclass(frozen=True)
class Judged:
    limits: Limits | None
    signals: list[str]  # what is called out about the latest reading, in words


def judge(metric: Metric, values: Sequence[float]) -> Judged:
    """The latest of `values` against the limits and the baseline: beyond a limit on the wrong side, or worse than
    the baseline, is a signal."""
    if not values:
        return Judged(None, [])
    latest, earlier = values[-1], values[:-1]
    limits = xmr(earlier) if len(earlier) >= 2 else xmr(values)
    signals = []
    way, shown = metric.way, format_value(latest, metric.unit)
    if limits is not None and way is Direction.LOWER and latest > limits.upper:
        signals.append(f"{shown} is above the upper natural process limit ({format_value(limits.upper, metric.unit)})")
    if limits is not None and way is Direction.HIGHER and latest < limits.lower:
        signals.append(f"{shown} is below the lower natural process limit ({format_value(limits.lower, metric.unit)})")
    if worse_than_baseline(metric, latest):
        signals.append(f"{shown} is worse than the baseline ({metric.baseline_shown})")
    return Judged(limits, signals)


def charted(metric: Metric, readings: Sequence[tuple[datetime, float]]) -> bool:
    """A chart is worth posting once the fix has its baseline and two readings."""
    return metric.baseline is not None and len(readings) >= 2


def payload(number: int, title: str, metric: Metric, readings: Sequence[tuple[datetime, float]], tz: Any) -> dict:
    """What the chart shows: the readings (labelled by day in `tz`), the limits, the baseline and target lines."""
    judged = judge(metric, [value for _, value in readings])
    limits = judged.limits
    return {
        "chart": "xmr",
        "title": f"#{number} {title}: readings and natural process limits",
        "filename": f"control-chart-{number}.png",
        "unit": metric.unit,
        "points": [[when.astimezone(tz).strftime("%d %b"), value] for when, value in readings],
        "baseline": metric.baseline,
        "target": metric.target,
        "limits": None if limits is None else {"center": limits.center, "upper": limits.upper, "lower": limits.lower},
        "signal": bool(judged.signals),
    }
