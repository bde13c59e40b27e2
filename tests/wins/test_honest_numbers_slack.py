"""Honest numbers on Slack: the approved case is locked, announcements say before → after with the target's
verdict and the work people stopped, confirmed fixes count apart, and a fix fixed again after slipping says so."""

from __future__ import annotations

from sqlmodel import Session, col, select

from storage.models import FixCycle, Improvement, OutboxMessage
from tests.conftest import ALEX, MAYA, make_settings
from tests.support.slack_flows import (
    PROPOSAL,
    at,
    checkin_dms,
    implemented,
    open_form,
    tick_at,
    to_approval,
    to_root_cause,
)
from tests.support.world import SlackWorld, has_button
from tests.wins.test_digest_slack import FRIDAY_4PM, wins_posts


async def test_the_approved_case_keeps_the_rate_of_its_day(db, clock, slack_api) -> None:
    world = SlackWorld.build(make_settings(slack_api), engine=db, clock=clock, stub=slack_api)
    card = await implemented(world)  # approved at $50/h: 2 h/week x 10 people = 1,040 h/year
    await world.close()
    dearer = SlackWorld.build(make_settings(slack_api, IMPROVE_HOURLY_RATE="80"), engine=db, clock=clock,
                              stub=slack_api)  # fmt: skip
    try:
        dearer.bot.refresh_settings()  # the rate went up at the next start
        view = await open_form(dearer, card, "edit_report", ALEX)
        assert view is not None
        assert {b.get("block_id") for b in view["blocks"]} >= {"problem", "area"}
        assert not {"hours_per_week", "people"} & {b.get("block_id") for b in view["blocks"]}  # locked
        await dearer.submit(view, {"problem": "Leads arrive in the CRM twice, every day", "area": "Sales",
                                   "frequency": "daily", "hours_per_week": "40", "people": "500"}, ALEX)  # fmt: skip

        now = dearer.card_now(card).replace("*", "")
        assert "Estimated: ≈ 2 h/week × 10 people ≈ 1,040 h/year ≈ $83,200/year at $80/h" in now
        assert "Approved: ≈ 1,040 h/year ≈ $52,000/year (locked 23 Nov 2026 at $50/h)" in now
        assert "Confirmed" not in now  # not until it held through its check-ins

        await tick_at(dearer, FRIDAY_4PM)
        text = wins_posts(dearer)[-1].text_of_blocks
        assert "Gives back ≈ 1,040 h/year ≈ $52,000/year (approved estimate)." in text
        assert "$83,200" not in text
        with Session(db) as session:
            improvement = session.exec(select(Improvement)).one()
            assert (improvement.hours_per_week, improvement.people) == (2, 10)
            assert (improvement.approved_hours_per_year, improvement.approved_hourly_rate) == (1040, 50)
            assert improvement.first_approved_at is not None
            assert improvement.first_approved_at == improvement.approved_at  # locked when approved (it had its case)
    finally:
        await dearer.close()


async def test_a_fix_short_of_its_target_is_announced_as_not_yet_met(slack: SlackWorld) -> None:
    card, request = await to_approval(slack)
    await slack.click(request, "approve", MAYA)
    await slack.click_and_submit(slack.thread(card)[-1], "mark_implemented", ALEX, {"metric_now": "12"})

    assert "Before → after: 40/week → 12/week, target 5/week: not yet met" in slack.card_now(card).replace("*", "")
    await tick_at(slack, FRIDAY_4PM)
    text = wins_posts(slack)[-1].text_of_blocks
    assert "Before → after: 40/week → 12/week, target 5/week: not yet met." in text
    assert "Stops doing: The Monday dedupe spreadsheet" in text


async def test_the_proposal_takes_numbers_and_refuses_a_target_worse_than_the_baseline(slack: SlackWorld) -> None:
    card, chain = await to_root_cause(slack)
    response = await slack.click_and_submit(chain, "propose", ALEX, {**PROPOSAL, "target": "60"})
    assert response.json()["errors"]["target"].startswith("With lower is better, the target should be below")
    response = await slack.click_and_submit(chain, "propose", ALEX, {**PROPOSAL, "baseline": "about forty"})
    assert response.json()["errors"]["baseline"] == "Enter a number."
    await slack.click_and_submit(chain, "propose", ALEX, {**PROPOSAL, "unit": "%", "direction": "higher",
                                                          "baseline": "10", "target": "60"})  # fmt: skip
    assert "Measured by: Duplicate leads per week, counted every Friday (%, higher is better; baseline 10%, " \
           "target 60%)" in slack.card_now(card).replace("*", "")  # fmt: skip


async def test_a_fix_fixed_again_after_slipping_says_so_and_keeps_its_history(slack: SlackWorld) -> None:
    card = await implemented(slack)  # Monday 23 Nov
    await tick_at(slack, at(30, 15))  # check-in 1
    await slack.click_and_submit(checkin_dms(slack)[-1], "checkin_slipping", ALEX, {"reading": "25"})
    reopened = slack.thread(card)[-1]
    assert "is slipping" in reopened.text_of_blocks

    slack.clock.set(at(9, 10, month=12))  # fixed again the week after
    await slack.click_and_submit(reopened, "mark_implemented", ALEX, {"metric_now": "2"})

    [kept] = slack.updates(reopened.ts)  # the slipping notice stays, its button gone
    assert "slipped" in kept.text_of_blocks and "Fixed again" in kept.text_of_blocks
    await tick_at(slack, at(11, 16, month=12))
    text = wins_posts(slack)[-1].text_of_blocks
    assert "#1 Leads arrive in the CRM twice* fixed again after slipping ✅" in text
    with Session(slack.engine) as session:
        cycles = session.exec(select(FixCycle).order_by(col(FixCycle.cycle))).all()
        assert [(c.cycle, c.implemented_at, c.ended_at, c.ended_because) for c in cycles] == [
            (0, at(23, 9), at(30, 15), "slipped"),
            (1, at(9, 10, month=12), None, None),
        ]
        charts = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == "chart").order_by(col(OutboxMessage.id))
        )
        [chart] = [c for c in charts.all() if c.payload["chart"] == "weekly"]  # (the fix's control chart aside)
    weekly = 1040 / 52  # 20 h/week while live
    # the chart's weeks end on the Fridays at 16:00: live on 27 Nov, slipped on 4 Dec, live again on 11 Dec
    assert [value for _, value in chart.payload["series"]][-3:] == [weekly, 0, weekly]


async def test_a_case_approved_without_an_estimate_can_still_be_estimated_and_locks_when_implemented(
    slack: SlackWorld,
) -> None:
    card = await slack.report(ALEX, hours_per_week="", people="")
    await slack.reply(card.ts, "Two web forms", ALEX)
    await slack.click(slack.thread(card)[-1], "root_cause", ALEX)
    await slack.click_and_submit(slack.thread(card)[-1], "propose", ALEX, PROPOSAL)
    await slack.click(slack.thread(card)[-1], "approve", MAYA)

    assert "Approved:" not in slack.card_now(card)  # nothing to lock: no "≈ 0 h/year" claim
    view = await open_form(slack, card, "edit_report", ALEX)
    assert view is not None and "hours_per_week" in {b.get("block_id") for b in view["blocks"]}
    await slack.submit(view, {"problem": "Leads arrive in the CRM twice", "area": "Sales", "frequency": "weekly",
                              "hours_per_week": "1", "people": "5"}, ALEX)  # fmt: skip
    owner = [m for m in slack.thread(card) if has_button(m, "mark_implemented")][-1]
    await slack.click_and_submit(owner, "mark_implemented", ALEX, {"metric_now": "3"})

    assert "Approved: ≈ 260 h/year ≈ $13,000/year (locked 23 Nov 2026 at $50/h)" in slack.card_now(card).replace(
        "*", ""
    )
