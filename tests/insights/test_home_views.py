"""The home view as a message on a platform that shows few blocks (Slack: 50): fewer of each kind of item, so the
team's figures at its end are never cut off; counts that reach the cap say so ("25+")."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.domain import Status
from bot.core.messages import Heading
from bot.core.workspace import WorkspaceSettings
from bot.insights.home import Home
from bot.insights.home_views import home
from bot.insights.team import Gained, Quarter, TeamFigures
from bot.insights.waiting import MAX_EACH, Waiting
from storage.models import Checkin, Improvement

AT = datetime(2026, 11, 23, 9, tzinfo=UTC)
TEAM = TeamFigures(
    quarter=Quarter("Q4 2026", AT),
    stages={},
    approved=Gained(),
    confirmed=Gained(),
    pareto=[],
    to_approval=None,
    to_implemented=None,
    cycle_fixes=0,
    reporters=3,
)


def _improvement(number: int, status: Status) -> Improvement:
    return Improvement(id=number, workspace_id=1, number=number, status=status.value, problem=f"Problem {number}",
                       area="Sales", frequency="weekly", reporter_id="U0ALEX", channel_id="C1", approval_round=1,
                       countermeasure="A fix", created_at=AT, updated_at=AT)  # fmt: skip


def _checkin(improvement: Improvement) -> tuple[Checkin, Improvement]:
    checkin = Checkin(id=improvement.number, workspace_id=1, improvement_id=improvement.number, owner_id="U0MAYA",
                      position=1, of=3, after_days=7, tz="UTC", status="sent", due_at=AT)  # fmt: skip
    return checkin, improvement


def _busy_home() -> Home:
    def many(start: int, status: Status) -> list[Improvement]:  # as many of each kind as are read
        return [_improvement(n, status) for n in range(start, start + MAX_EACH)]

    waiting = Waiting(approvals=many(1, Status.AWAITING_APPROVAL), whys=many(100, Status.QUESTION_ASKED),
                      checkins=[_checkin(i) for i in many(200, Status.IMPLEMENTED)],
                      overdue=many(300, Status.APPROVED))  # fmt: skip
    mine = [_improvement(400 + n, Status.INVESTIGATING) for n in range(8)]
    for imp in mine:
        imp.hours_per_week, imp.people = 2, 3  # each with its ledger line
    return Home(user="U0MAYA", waiting=waiting, mine=mine, mine_total=12, team=TEAM)


def _texts(message) -> str:
    return "\n".join(getattr(s, "text", "") for b in message.blocks for s in getattr(b, "spans", ()))


def test_a_busy_home_fits_a_message_with_the_team_part_whole() -> None:
    settings = WorkspaceSettings(intake_channel="C1")
    full = home(_busy_home(), None, settings, "/improve")
    fitted = home(_busy_home(), None, settings, "/improve", fit=50)

    assert len(full.blocks) > 50  # as the Home tab shows it (up to 100)
    assert len(fitted.blocks) <= 50
    assert [b.text for b in fitted.blocks if isinstance(b, Heading)] == ["Waiting on you", "Your improvements", "Team"]
    assert "3 people reported this quarter" in _texts(fitted)
    assert "…and 92+ more: /improve list waiting" in _texts(fitted)  # 2 of each of 4 kinds shown of 100 read
    assert "…and 9 more: /improve list mine" in _texts(fitted)
    assert fitted.summary == "Your home: 100+ things wait on you"


def test_a_quiet_home_is_the_same_whatever_the_fit() -> None:
    quiet = Home(user="U0MAYA", waiting=Waiting(approvals=[_improvement(1, Status.AWAITING_APPROVAL)]), mine=[],
                 mine_total=0, team=TEAM)  # fmt: skip
    settings = WorkspaceSettings(intake_channel="C1")
    assert home(quiet, None, settings, "/improve", fit=50) == home(quiet, None, settings, "/improve")
    assert home(quiet, None, settings, "/improve").summary == "Your home: 1 thing waits on you"
