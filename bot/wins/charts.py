"""Charts as PNG bytes (matplotlib's Agg canvas: no display needed). Pure: data in, image out.

matplotlib is imported when the first chart is drawn, not when the bot starts: it is the heaviest import of the
process (start-up time and idle memory), and a chart is drawn once a week. Figures are built without pyplot, so
nothing global is shared between charts drawn in different worker threads.
"""

from __future__ import annotations

import io
from collections.abc import Sequence


def weekly_bars(title: str, series: Sequence[tuple[str, float]], unit: str = "h/week") -> bytes:
    """A bar per week, labelled with its value; the last (current) week highlighted."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [label for label, _ in series]
    values = [float(value) for _, value in series]
    figure = Figure(figsize=(8, 3.6), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    try:
        colors = ["#9db8d9"] * max(0, len(values) - 1) + ["#2b5797"] * min(1, len(values))
        bars = axes.bar(range(len(values)), values, color=colors)
        axes.set_xticks(range(len(values)), labels, rotation=45, ha="right", fontsize=8)
        axes.set_ylabel(unit)
        axes.set_title(title, fontsize=11, loc="left")
        axes.spines[["top", "right"]].set_visible(False)
        top = max(values, default=0)
        axes.set_ylim(0, top * 1.2 if top > 0 else 1)
        for bar, value in zip(bars, values, strict=True):
            if value:
                axes.annotate(f"{value:,.0f}", (bar.get_x() + bar.get_width() / 2, value), ha="center",
                              va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")  # fmt: skip
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        figure.clear()
