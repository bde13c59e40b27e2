"""A fix's metric as numbers: what a reading says against the baseline and the target."""

from __future__ import annotations

from bot.core.metrics import Direction, Metric, before_after, format_value, number_text, target_met, verdict

CONVERSION = Metric(unit="%", direction=Direction.HIGHER, baseline=10, target=60)
DUPLICATES = Metric(unit="duplicates/week", direction=Direction.LOWER, baseline=40, target=5)


def test_the_issue_example_reads_not_yet_met() -> None:
    assert before_after(CONVERSION, 55) == "10% → 55%, target 60%: not yet met"
    assert before_after(CONVERSION, 60) == "10% → 60%, target 60%: target met"
    assert before_after(CONVERSION, 72.5) == "10% → 72.5%, target 60%: target met"


def test_lower_is_better_and_units_read_as_written() -> None:
    assert (
        before_after(DUPLICATES, 12) == "40 duplicates/week → 12 duplicates/week, target 5 duplicates/week: not yet met"
    )
    assert target_met(DUPLICATES, 4) is True and target_met(DUPLICATES, 6) is False
    assert format_value(3, "/week") == "3/week" and format_value(1234.56, "") == "1,234.6"
    assert [number_text(v) for v in (0.055, 2.5, -0.0, 12.0)] == ["0.06", "2.5", "0", "12"]


def test_what_is_unknown_is_said_so_and_never_judged() -> None:
    assert before_after(Metric(), None) == "no baseline → no reading yet"
    assert verdict(Metric(unit="%", baseline=10), 50) == ""  # no target: nothing to judge
    old = Metric(baseline_text="about half", target_text="most of them")  # text from before numbers
    assert before_after(old, None, "better") == "about half → better, target most of them"


def test_an_old_proposal_without_a_direction_takes_it_from_baseline_and_target() -> None:
    assert Metric(baseline=40, target=5).way is Direction.LOWER
    assert Metric(baseline=10, target=60).way is Direction.HIGHER
    assert Metric(baseline=10, target=10).way is None
