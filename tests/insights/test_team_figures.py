"""The team's figures read the dates they mean: a fix counts as approved when it was approved, not when its case
was locked (a fix approved without an estimate is locked when it is implemented, maybe a quarter later)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session

from bot.core.domain import Status
from bot.insights.team import team_figures
from storage.models import Improvement, Workspace

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Q4 2026


def _improvement(number: int, reporter_id: str = "U0ALEX", **values) -> Improvement:
    return Improvement(workspace_id=1, number=number, reporter_id=reporter_id, problem="Leads arrive twice",
                       area="Sales", frequency="weekly", channel_id="C0INTAKE", updated_at=values["created_at"],
                       **values)  # fmt: skip


def test_a_fix_counts_as_approved_in_the_quarter_it_was_approved(db: Engine) -> None:
    with Session(db) as session:
        session.add(Workspace(id=1, platform="slack", external_id="T1", settings={}, created_at=NOW))
        session.flush()
        # approved in September without an estimate; estimated and implemented (the case locked) in November
        session.add(_improvement(1, status=Status.IMPLEMENTED.value, created_at=datetime(2026, 9, 1, tzinfo=UTC),
                                 first_approved_at=datetime(2026, 9, 3, tzinfo=UTC),
                                 approved_at=datetime(2026, 11, 10, tzinfo=UTC), approved_hours_per_year=520,
                                 implemented_at=datetime(2026, 11, 10, tzinfo=UTC)))  # fmt: skip
        # reported and approved this quarter, 4 days apart; implemented 6 days later
        session.add(_improvement(2, status=Status.IMPLEMENTED.value, created_at=datetime(2026, 11, 1, tzinfo=UTC),
                                 first_approved_at=datetime(2026, 11, 5, tzinfo=UTC),
                                 approved_at=datetime(2026, 11, 5, tzinfo=UTC), approved_hours_per_year=104,
                                 implemented_at=datetime(2026, 11, 11, tzinfo=UTC)))  # fmt: skip
        # approved this quarter without an estimate: counted, said to be not estimated yet
        session.add(_improvement(3, status=Status.APPROVED.value, created_at=datetime(2026, 11, 2, tzinfo=UTC),
                                 first_approved_at=datetime(2026, 11, 6, tzinfo=UTC)))  # fmt: skip
        session.commit()

        figures = team_figures(session, 1, NOW, "UTC")

    approved = figures.approved
    assert (approved.fixes, approved.hours_per_year, approved.unestimated) == (2, 104, 1)  # #1 was approved in Q3
    assert figures.to_approval == 4  # median of 2 (#1), 4 (#2) and 4 (#3) days; with the lock date #1 was 70
    assert figures.to_implemented == 37  # of 68 (#1: approved 3 Sep, implemented 10 Nov) and 6 (#2)


def test_the_slow_trends_can_be_reused_while_the_counts_are_current(db: Engine) -> None:
    with Session(db) as session:
        session.add(Workspace(id=1, platform="slack", external_id="T1", settings={}, created_at=NOW))
        session.flush()
        session.add(_improvement(1, status=Status.IMPLEMENTED.value, created_at=datetime(2026, 11, 1, tzinfo=UTC),
                                 first_approved_at=datetime(2026, 11, 5, tzinfo=UTC), approved_hours_per_year=104,
                                 implemented_at=datetime(2026, 11, 11, tzinfo=UTC)))  # fmt: skip
        session.commit()
        before = team_figures(session, 1, NOW, "UTC")
        session.add(_improvement(2, status=Status.IMPLEMENTED.value, created_at=datetime(2026, 11, 2, tzinfo=UTC),
                                 first_approved_at=datetime(2026, 11, 20, tzinfo=UTC), approved_hours_per_year=52,
                                 implemented_at=datetime(2026, 11, 21, tzinfo=UTC), reporter_id="U0JO"))  # fmt: skip
        session.commit()

        reused = team_figures(session, 1, NOW, "UTC", trends=before)
        counted = team_figures(session, 1, NOW, "UTC")

    assert reused.stages[Status.IMPLEMENTED] == 2 and reused.reporters == 2  # counts: current
    assert (reused.approved.fixes, reused.approved.hours_per_year) == (2, 156)
    assert (reused.to_approval, reused.cycle_fixes) == (before.to_approval, 1) == (4, 1)  # trends: as they were
    assert (counted.to_approval, counted.cycle_fixes) == (11, 2)  # median of 4 and 18 days
