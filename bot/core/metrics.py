"""A fix's metric as numbers: its unit, which way is better, baseline and target, and what a reading says against
them ("10% → 55%, target 60%: not yet met"). Pure: no I/O, no platform."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Direction(StrEnum):
    LOWER = "lower"  # fewer duplicates, shorter waits
    HIGHER = "higher"  # more replies, a higher conversion rate

    @property
    def label(self) -> str:
        return "lower is better" if self is Direction.LOWER else "higher is better"


@dataclass(frozen=True)
class Metric:
    """`baseline_text`/`target_text`: what was typed before metrics were numbers, where it did not parse."""

    unit: str = ""
    direction: Direction | None = None
    baseline: float | None = None
    target: float | None = None
    baseline_text: str | None = None
    target_text: str | None = None

    @property
    def way(self) -> Direction | None:
        """Which way is better: as set, else as baseline and target imply (an old proposal had no direction)."""
        if self.direction is not None:
            return self.direction
        if self.baseline is not None and self.target is not None and self.baseline != self.target:
            return Direction.LOWER if self.target < self.baseline else Direction.HIGHER
        return None

    def shown(self, value: float | None, text: str | None = None) -> str:
        return format_value(value, self.unit) if value is not None else (text or "")

    @property
    def baseline_shown(self) -> str:
        return self.shown(self.baseline, self.baseline_text)

    @property
    def target_shown(self) -> str:
        return self.shown(self.target, self.target_text)


def number_text(value: float) -> str:
    """12 -> '12', 0.055 -> '0.06', 1234.56 -> '1,234.6', 2.50 -> '2.5': what a person would write down."""
    decimals = 1 if abs(value) >= 100 else 2
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_value(value: float, unit: str) -> str:
    """'55%', '40/week', '12 duplicates/week'."""
    number = number_text(value)
    if not unit:
        return number
    return f"{number}{unit}" if unit[0] in "%/" else f"{number} {unit}"


def better(a: float, b: float, direction: Direction) -> bool:
    """`a` is strictly better than `b`."""
    return a < b if direction is Direction.LOWER else a > b


def target_met(metric: Metric, value: float) -> bool | None:
    """None when it cannot be told (no target, or no way to know which way is better)."""
    way = metric.way
    if metric.target is None or way is None:
        return None
    return value == metric.target or better(value, metric.target, way)


def worse_than_baseline(metric: Metric, value: float) -> bool:
    way = metric.way
    return metric.baseline is not None and way is not None and better(metric.baseline, value, way)


def verdict(metric: Metric, value: float | None) -> str:
    """'target met', 'not yet met' or '' (nothing to judge)."""
    if value is None:
        return ""
    met = target_met(metric, value)
    return "" if met is None else "target met" if met else "not yet met"


def before_after(metric: Metric, value: float | None, text: str | None = None) -> str:
    """'10% → 55%, target 60%: not yet met'; what is unknown is said so."""
    before = metric.baseline_shown or "no baseline"
    after = metric.shown(value, text) or "no reading yet"
    line = f"{before} → {after}"
    if metric.target_shown:
        line += f", target {metric.target_shown}"
        judged = verdict(metric, value)
        line += f": {judged}" if judged else ""
    return line
