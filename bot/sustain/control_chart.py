"""The control chart of a fix as PNG bytes (bot.sustain.control's payload in, image out)."""

from __future__ import annotations

from typing import Any

from bot.core.charts import draw


def xmr_chart(payload: dict[str, Any]) -> bytes:
    points = [(str(label), float(value)) for label, value in payload.get("points", [])]
    labels, values = [label for label, _ in points], [value for _, value in points]
    limits = payload.get("limits") or {}
    unit = str(payload.get("unit") or "")

    def paint(axes: Any) -> None:
        xs = range(len(values))
        axes.plot(xs, values, marker="o", color="#2b5797", linewidth=1.5, label="readings")
        if values and payload.get("signal"):
            axes.plot([len(values) - 1], [values[-1]], marker="o", markersize=10, color="#c0392b",
                      linestyle="none", label="signal")  # fmt: skip
        lines = [("center", "mean", "#7f8c8d", "-"), ("upper", "natural process limits", "#c0392b", "--"),
                 ("lower", None, "#c0392b", "--")]  # fmt: skip
        for key, label, color, style in lines:
            if isinstance(limits.get(key), int | float):
                axes.axhline(float(limits[key]), color=color, linestyle=style, linewidth=1, label=label)
        for key, label, color, style in (("baseline", "baseline", "#34495e", ":"), ("target", "target", "#27ae60",
                                                                                       "-."),):  # fmt: skip
            if isinstance(payload.get(key), int | float):
                axes.axhline(float(payload[key]), color=color, linestyle=style, linewidth=1.5, label=label)
        axes.set_xticks(list(xs), labels, rotation=45, ha="right", fontsize=8)
        axes.set_ylabel(unit or "reading")
        axes.set_title(str(payload.get("title", "")), fontsize=10, loc="left")
        axes.legend(fontsize=7, loc="best")

    return draw(8, 3.8, paint)
