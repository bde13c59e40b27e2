"""Drawing a chart to PNG bytes with matplotlib's Agg canvas (no display needed), shared by every chart.

matplotlib is imported when the first chart is drawn, not when the bot starts: it is the heaviest import of the
process (start-up time and idle memory). Figures are built without pyplot, so nothing global is shared between
charts drawn in different worker threads.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any


def draw(width: float, height: float, paint: Callable[[Any], None]) -> bytes:
    """A figure of `width` × `height` inches with one set of axes, painted by `paint(axes)`, as PNG."""
    return panels(width, height, [paint], columns=1)


def panels(width: float, height: float, paints: Sequence[Callable[[Any], None]], *, columns: int = 2) -> bytes:
    """Several charts side by side in one PNG (rows of `columns`), each painted by its `paint(axes)`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(figure)
    rows = -(-len(paints) // columns)
    grid = figure.subplots(rows, columns, squeeze=False)
    try:
        for index, axes in enumerate(grid.flat):
            if index < len(paints):
                paints[index](axes)
                axes.spines[["top", "right"]].set_visible(False)
            else:
                axes.set_visible(False)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        figure.clear()
