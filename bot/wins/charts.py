"""The weekly announcement's chart as PNG bytes. Pure: data in, image out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.core.charts import draw

WEEKLY_TITLE = "Hours given back per week (run rate of live fixes, approved estimates)"
WEEKLY_AXIS = "hours given back per week"


def weekly_payload(series: Sequence[tuple[str, float]]) -> dict[str, Any]:
    """What the outbox keeps of the chart until it is drawn, at delivery."""
    return {"chart": "weekly", "title": WEEKLY_TITLE, "filename": "hours-given-back.png",
            "series": [[label, value] for label, value in series]}  # fmt: skip


def weekly(payload: dict[str, Any]) -> bytes:
    series = [(str(label), float(value)) for label, value in payload.get("series", [])]
    return weekly_bars(str(payload.get("title") or WEEKLY_TITLE), series, str(payload.get("unit") or WEEKLY_AXIS))


def weekly_bars(title: str, series: Sequence[tuple[str, float]], unit: str = WEEKLY_AXIS) -> bytes:
    """A bar per week, labelled with its value; the last (current) week highlighted."""
    labels = [label for label, _ in series]
    values = [float(value) for _, value in series]

    def paint(axes: Any) -> None:
        colors = ["#9db8d9"] * max(0, len(values) - 1) + ["#2b5797"] * min(1, len(values))
        bars = axes.bar(range(len(values)), values, color=colors)
        axes.set_xticks(range(len(values)), labels, rotation=45, ha="right", fontsize=8)
        axes.set_ylabel(unit)
        axes.set_title(title, fontsize=10, loc="left")
        top = max(values, default=0)
        axes.set_ylim(0, top * 1.2 if top > 0 else 1)
        for bar, value in zip(bars, values, strict=True):
            if value:
                axes.annotate(f"{value:,.0f}", (bar.get_x() + bar.get_width() / 2, value), ha="center",
                              va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")  # fmt: skip

    return draw(8, 3.6, paint)
