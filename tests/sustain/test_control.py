"""The XmR arithmetic of a fix's control chart, against examples worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.metrics import Direction, Metric
from bot.sustain.control import charted, judge, payload, xmr
from bot.sustain.control_chart import xmr_chart

DUPLICATES = Metric(unit="/week", direction=Direction.LOWER, baseline=40, target=5)


def test_limits_by_hand() -> None:
    # readings 12, 8, 10, 6: mean 9; moving ranges 4, 2, 4 -> mean 10/3; limits 9 ± 2.66 × 10/3 = 9 ± 8.8667
    limits = xmr([12, 8, 10, 6])
    assert limits is not None
    assert limits.center == 9
    assert limits.moving_range == pytest.approx(10 / 3)
    assert limits.upper == pytest.approx(17.866667, abs=1e-6)
    assert limits.lower == pytest.approx(0.133333, abs=1e-6)
    assert xmr([5]) is None  # no moving range yet
    assert xmr([0, 0]) is None and judge(DUPLICATES, [0, 0, 1]).signals == []  # no limits of zero width


def test_the_latest_reading_is_judged_against_the_limits_of_the_ones_before_it() -> None:
    # before it: 12, 8, 10 -> mean 10, moving ranges 4, 2 -> 3; upper limit 10 + 7.98 = 17.98
    judged = judge(DUPLICATES, [12, 8, 10, 19])
    assert judged.limits is not None and judged.limits.upper == pytest.approx(17.98)
    assert judged.signals == ["19/week is above the upper natural process limit (17.98/week)"]
    assert judge(DUPLICATES, [12, 8, 10, 17]).signals == []  # within the limits, better than the baseline


def test_higher_is_better_signals_below_the_lower_limit() -> None:
    replies = Metric(unit="%", direction=Direction.HIGHER, baseline=20, target=60)
    # before it: 50, 54, 52 -> mean 52, moving ranges 4, 2 -> 3; lower limit 52 - 7.98 = 44.02
    assert judge(replies, [50, 54, 52, 44]).signals == ["44% is below the lower natural process limit (44.02%)"]
    assert judge(replies, [50, 54, 52, 70]).signals == []  # beyond the upper limit, but on the good side


def test_worse_than_the_baseline_is_called_out_even_with_two_readings() -> None:
    assert judge(DUPLICATES, [3, 45]).signals == ["45/week is worse than the baseline (40/week)"]
    assert judge(DUPLICATES, [3, 39]).signals == []


def test_a_chart_needs_a_baseline_and_two_readings_and_draws_a_png() -> None:
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)
    points = [(start + timedelta(days=7 * n), value) for n, value in enumerate([3, 2, 45])]
    assert not charted(DUPLICATES, points[:1]) and not charted(Metric(unit="/week"), points)
    data = payload(12, "Duplicate leads per week", DUPLICATES, points, UTC)
    assert data["points"] == [["23 Nov", 3], ["30 Nov", 2], ["07 Dec", 45]]
    # drawn: the limits the latest reading was judged by (3, 2: mean 2.5, moving range 1, upper 2.5 + 2.66)
    assert data["limits"] == {"center": 2.5, "upper": pytest.approx(5.16), "lower": pytest.approx(-0.16)}
    assert data["signal"] is True
    assert data["baseline"] == 40 and data["target"] == 5
    assert xmr_chart(data).startswith(b"\x89PNG")
