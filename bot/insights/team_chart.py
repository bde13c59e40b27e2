"""The team charts on the home views, in one PNG of four panels. Pure: the chart's payload in, image out."""

from __future__ import annotations

from typing import Any

from bot.core.charts import panels

TITLE = "Team charts"
FILENAME = "team-charts.png"
BAR = "#2b5797"
LIGHT = "#9db8d9"


def draw(payload: dict[str, Any]) -> bytes:
    return panels(10, 6.4, [_pareto(payload), _cycle(payload), _participation(payload), _sustain(payload)])


def _empty(axes: Any, title: str, said: str) -> None:
    axes.set_title(title, fontsize=10, loc="left")
    axes.text(0.5, 0.5, said, ha="center", va="center", fontsize=9, color="#666666", transform=axes.transAxes)
    axes.set_xticks([])
    axes.set_yticks([])


def _pareto(payload: dict[str, Any]) -> Any:
    rows = [(str(area), float(hours)) for area, hours in payload.get("pareto", [])]

    def paint(axes: Any) -> None:
        title = "Open problems: estimated hours per year by area"
        if not rows:
            _empty(axes, title, "no open problem has an estimate")
            return
        areas, hours = [a for a, _ in rows], [h for _, h in rows]
        axes.bar(range(len(rows)), hours, color=BAR)
        axes.set_xticks(range(len(rows)), areas, rotation=30, ha="right", fontsize=8)
        axes.set_ylabel("hours per year (estimated)", fontsize=8)
        axes.set_title(title, fontsize=10, loc="left")
        total, running, cumulative = sum(hours), 0.0, []
        for value in hours:
            running += value
            cumulative.append(100 * running / total if total else 0)
        share = axes.twinx()
        share.plot(range(len(rows)), cumulative, color="#c0392b", marker="o", markersize=3)
        share.set_ylim(0, 105)
        share.set_ylabel("cumulative %", fontsize=8)
        share.spines[["top"]].set_visible(False)

    return paint


def _cycle(payload: dict[str, Any]) -> Any:
    cycle = [*(payload.get("cycle") or []), None, None, 0]  # [median days to approval, to implemented, fixes]
    to_approval, to_implemented, fixes = cycle[0], cycle[1], cycle[2] or 0

    def paint(axes: Any) -> None:
        title = "Cycle time, last 90 days (median days)"
        stages = [("report → approved", to_approval), ("approved → implemented", to_implemented)]
        known = [(label, float(days)) for label, days in stages if days is not None]
        if not known:
            _empty(axes, title, "nothing approved or implemented in 90 days")
            return
        bars = axes.barh([label for label, _ in known], [days for _, days in known], color=[BAR, LIGHT][: len(known)])
        for bar, (_, days) in zip(bars, known, strict=True):
            axes.annotate(f"{days:g} d", (bar.get_width(), bar.get_y() + bar.get_height() / 2), va="center",
                          fontsize=8, xytext=(3, 0), textcoords="offset points")  # fmt: skip
        axes.set_xlabel(f"days ({fixes} fixes implemented)", fontsize=8)
        axes.tick_params(axis="y", labelsize=8)
        axes.set_title(title, fontsize=10, loc="left")

    return paint


def _participation(payload: dict[str, Any]) -> Any:
    # a count of 1 or 2 people comes as None: drawn as a marked gap, never as the number (bot.insights.team)
    weeks = [
        (str(week), None if people is None else int(people)) for week, people in payload.get("reporters_by_week", [])
    ]
    reporters = payload.get("reporters")

    def paint(axes: Any) -> None:
        people = (
            "fewer than 3 people"
            if reporters is None
            else f"{int(reporters)} {'person' if reporters == 1 else 'people'}"
        )
        title = f"Participation {payload.get('quarter', '')}: {people} reported"
        if not weeks:
            _empty(axes, title, "no report this quarter")
            return
        axes.bar(range(len(weeks)), [p or 0 for _, p in weeks], color=BAR)
        for x, (_, p) in enumerate(weeks):
            if p is None:
                axes.annotate("<3", (x, 0), ha="center", va="bottom", fontsize=7)
        axes.set_xticks(range(len(weeks)), [w for w, _ in weeks], rotation=45, ha="right", fontsize=7)
        axes.set_ylabel("people who reported", fontsize=8)
        axes.set_title(title, fontsize=10, loc="left")

    return paint


def _sustain(payload: dict[str, Any]) -> Any:
    holding, checked = [*(payload.get("sustain") or []), 0, 0][:2]

    def paint(axes: Any) -> None:
        title = "Sustain rate, last 90 days"
        if not checked:
            _empty(axes, title, "no check-in answered in 90 days")
            return
        slipped = int(checked) - int(holding)
        axes.barh(["fixes"], [holding], color="#2e8b57", label=f"still holding ({holding})")
        axes.barh(["fixes"], [slipped], left=[holding], color="#c0392b", label=f"slipping ({slipped})")
        axes.set_xlim(0, checked)
        axes.set_xlabel("fixes checked, by their last check-in", fontsize=8)
        axes.legend(fontsize=8, loc="upper right", frameon=False)
        axes.set_title(f"{title}: {100 * holding / checked:.0f}% holding", fontsize=10, loc="left")

    return paint
