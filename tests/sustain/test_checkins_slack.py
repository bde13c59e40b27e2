"""Sustain check-ins on Slack, driven by a fake clock: three DMs at 10:00 local, one nudge, answers in place."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import Checkin, Improvement
from tests.conftest import ALEX, JO, MAYA
from tests.support.slack_flows import PROPOSAL, at, checkin_dms, implemented, tick_at, to_root_cause
from tests.support.world import SlackWorld, has_button


async def test_checkins_are_scheduled_at_ten_in_the_owners_zone_on_working_days(slack: SlackWorld) -> None:
    await implemented(slack)
    with Session(slack.engine) as session:
        due = [(c.position, c.after_days, c.due_at) for c in session.exec(select(Checkin).order_by(Checkin.id))]
    assert due == [
        (1, 7, at(30, 15)),  # Mon 30 Nov, 10:00 EST
        (2, 30, at(23, 15, month=12)),  # Wed 23 Dec
        (3, 90, at(22, 15, month=2)),  # 21 Feb 2027 is a Sunday: Mon 22 Feb
    ]


async def test_the_checkin_dm_arrives_when_due_and_not_before(slack: SlackWorld) -> None:
    await implemented(slack)
    await tick_at(slack, at(30, 14, 59))
    assert not checkin_dms(slack)

    await tick_at(slack, at(30, 15, 0))

    [dm] = checkin_dms(slack)
    text = dm.text_of_blocks
    assert "Check-in 1 of 3" in text and "#1 Leads arrive in the CRM twice" in text
    assert "Duplicate leads per week" in text and "40/week" in text and "3/week" in text
    assert all(has_button(dm, a) for a in ("checkin_holding", "checkin_slipping", "checkin_snooze"))
    await tick_at(slack, at(30, 15, 1))
    assert len(checkin_dms(slack)) == 1  # once


async def test_one_polite_nudge_after_two_working_days_then_missed(slack: SlackWorld) -> None:
    await implemented(slack)
    await tick_at(slack, at(30, 15))
    await tick_at(slack, at(2, 14, 59, month=12))  # Wed, just before two working days
    assert len(slack.dms(ALEX)) == 2  # the owner DM at approval, and the check-in

    await tick_at(slack, at(2, 15, month=12))
    nudges = [c for c in slack.dms(ALEX) if "gentle nudge" in c.text_of_blocks]
    assert len(nudges) == 1 and has_button(nudges[0], "checkin_holding")

    for day in (3, 4, 7, 8, 9):
        await tick_at(slack, at(day, 16, month=12))
    assert len([c for c in slack.dms(ALEX) if "gentle nudge" in c.text_of_blocks]) == 1  # then nothing more
    with Session(slack.engine) as session:
        first = session.exec(select(Checkin).where(Checkin.position == 1)).one()
        assert first.status == "missed"


async def test_still_holding_edits_the_dm_in_place_and_tells_the_thread(slack: SlackWorld) -> None:
    card = await implemented(slack)
    await tick_at(slack, at(30, 15))
    [dm] = checkin_dms(slack)

    await slack.click_and_submit(dm, "checkin_holding", ALEX, {"reading": "2", "note": "No dupes since"})

    [edit] = slack.updates(dm.ts)
    assert "Still holding" in edit.text_of_blocks and "2/week" in edit.text_of_blocks
    assert not has_button(edit, "checkin_holding")
    line = slack.thread(card)[-1].text_of_blocks
    assert "Check-in 1 of 3 (7 days)" in line and "still holding" in line and "2/week" in line
    assert "2/week" in slack.card_now(card)  # the last reading is on the card


async def test_holding_at_every_checkin_makes_it_sustained(slack: SlackWorld) -> None:
    card = await implemented(slack)
    for due in (at(30, 15), at(23, 15, month=12), at(22, 15, month=2)):
        await tick_at(slack, due)
        await slack.click_and_submit(checkin_dms(slack)[-1], "checkin_holding", ALEX, {})
    assert "Sustained" in slack.card_now(card)
    assert "is sustained" in slack.thread(card)[-1].text_of_blocks
    with Session(slack.engine) as session:
        assert session.exec(select(Improvement)).one().sustained_at == at(22, 15, month=2)


async def test_slipping_reopens_the_improvement_and_stops_this_cycles_checkins(slack: SlackWorld) -> None:
    card = await implemented(slack)
    await tick_at(slack, at(30, 15))

    await slack.click_and_submit(checkin_dms(slack)[-1], "checkin_slipping", ALEX, {"reading": "25"})

    reopened = slack.thread(card)[-1]
    assert "is slipping" in reopened.text_of_blocks
    assert f"<@{ALEX}>" in reopened.text_of_blocks and f"<@{MAYA}>" in reopened.text_of_blocks
    assert has_button(reopened, "mark_implemented")
    assert "Approved, in progress" in slack.card_now(card)
    await tick_at(slack, at(23, 15, month=12))
    assert len(checkin_dms(slack)) == 1  # the cancelled check-ins never arrive

    await slack.click_and_submit(reopened, "mark_implemented", ALEX, {"metric_now": "1"})
    assert "Implemented" in slack.card_now(card)
    with Session(slack.engine) as session:
        fresh = session.exec(select(Checkin).where(Checkin.status == "scheduled")).all()
    assert [(c.cycle, c.position) for c in fresh] == [(1, 1), (1, 2), (1, 3)]


async def test_snooze_asks_again_a_week_later(slack: SlackWorld) -> None:
    await implemented(slack)
    await tick_at(slack, at(30, 15))
    [dm] = checkin_dms(slack)

    await slack.click(dm, "checkin_snooze", ALEX)

    assert "I'll ask again on Mon 07 Dec" in slack.updates(dm.ts)[-1].text_of_blocks
    await tick_at(slack, at(7, 14, month=12))
    assert len(checkin_dms(slack)) == 1
    await tick_at(slack, at(7, 15, month=12))
    assert len(checkin_dms(slack)) == 2
    await slack.click_and_submit(checkin_dms(slack)[-1], "checkin_holding", ALEX, {})
    assert "Still holding" in slack.updates(checkin_dms(slack)[-1].ts)[-1].text_of_blocks


async def test_only_the_owner_or_an_approver_answers_and_only_once(slack: SlackWorld) -> None:
    await implemented(slack)
    await tick_at(slack, at(30, 15))
    [dm] = checkin_dms(slack)
    await slack.click(dm, "checkin_holding", JO)
    assert "Only the owner of the fix" in slack.ephemerals(JO)[-1]
    await slack.click_and_submit(dm, "checkin_holding", ALEX, {})
    await slack.click(dm, "checkin_slipping", ALEX)
    assert "already answered" in slack.ephemerals(ALEX)[-1]


async def test_improve_checkins_lists_what_is_waiting(slack: SlackWorld) -> None:
    await slack.send_command_text("checkins", ALEX)
    assert "No check-ins are waiting for you" in slack.stub.of("response_url")[-1].text_of_blocks
    await implemented(slack)
    await tick_at(slack, at(30, 15))

    await slack.send_command_text("checkins", ALEX)

    listing = slack.stub.of("response_url")[-1]
    assert listing["response_type"] == "ephemeral"
    assert "1 check-in(s) waiting" in listing.text_of_blocks and has_button(listing, "checkin_holding")


async def test_a_checkin_dm_slack_refused_is_retried_and_nudges_wait_for_it(slack: SlackWorld) -> None:
    await implemented(slack)
    slack.stub.fail("chat.postMessage", status=503)
    await tick_at(slack, at(30, 15))
    assert not checkin_dms(slack)
    await tick_at(slack, at(2, 15, month=12))  # the retry went out now; no nudge about a DM just delivered
    assert len(checkin_dms(slack)) == 1
    assert not [c for c in slack.dms(ALEX) if "gentle nudge" in c.text_of_blocks]


async def test_work_missed_while_the_bot_was_down_is_done_at_the_next_tick(slack: SlackWorld) -> None:
    await implemented(slack)
    await tick_at(slack, at(10, 9, month=12))  # the bot was down from 23 Nov to 10 Dec
    assert len(checkin_dms(slack)) == 1
    await tick_at(slack, at(10, 9, 1, month=12))
    assert len(checkin_dms(slack)) == 1


async def test_a_late_dm_gets_its_two_working_days_before_the_nudge(slack: SlackWorld) -> None:
    await implemented(slack)
    slack.stub.fail("chat.postMessage", status=503)
    await tick_at(slack, at(30, 15))
    await tick_at(slack, at(2, 15, month=12))  # delivered now, two days late
    await tick_at(slack, at(2, 15, 1, month=12))
    assert not [c for c in slack.dms(ALEX) if "gentle nudge" in c.text_of_blocks]
    await tick_at(slack, at(4, 15, 1, month=12))
    assert len([c for c in slack.dms(ALEX) if "gentle nudge" in c.text_of_blocks]) == 1


async def test_an_old_cycles_missed_checkin_cannot_reopen_the_new_cycle(slack: SlackWorld) -> None:
    card = await implemented(slack)
    await tick_at(slack, at(30, 15))
    first = checkin_dms(slack)[-1]
    for day in (2, 4, 7):
        await tick_at(slack, at(day, 16, month=12))  # nudged, then missed
    await tick_at(slack, at(23, 15, month=12))
    await slack.click_and_submit(checkin_dms(slack)[-1], "checkin_slipping", ALEX, {})
    await slack.click_and_submit(slack.thread(card)[-1], "mark_implemented", ALEX, {"metric_now": "1"})

    await slack.click(first, "checkin_slipping", ALEX)

    assert "no longer open" in slack.ephemerals(ALEX)[-1]
    assert "Implemented" in slack.card_now(card)
    await slack.send_command_text("checkins", ALEX)
    assert "No check-ins are waiting" in slack.stub.of("response_url")[-1].text_of_blocks


async def test_checkins_whose_dm_never_arrived_do_not_block_the_nudges_of_others(
    slack: SlackWorld, monkeypatch
) -> None:
    from bot.sustain import checkins

    monkeypatch.setattr(checkins, "BATCH", 1)  # one check-in per query: a blocked one would hide the others
    await implemented(slack)  # #1, owned by Alex
    card, chain = await to_root_cause(slack)  # #2, owned by Jo, implemented at the same moment
    await slack.click_and_submit(chain, "propose", ALEX, {**PROPOSAL, "owner": JO})
    await slack.click(slack.thread(card)[-1], "approve", MAYA)
    await slack.click_and_submit(slack.thread(card)[-1], "mark_implemented", JO, {"metric_now": "1"})
    slack.stub.fail("chat.postMessage", times=3, error="user_not_found", channel=ALEX)  # Alex has left
    await tick_at(slack, at(30, 15))
    assert [c["channel"] for c in slack.posts() if "Check-in 1 of 3" in c.text_of_blocks] == [JO]

    await tick_at(slack, at(2, 15, month=12))
    assert len([c for c in slack.dms(JO) if "gentle nudge" in c.text_of_blocks]) == 1
    await tick_at(slack, at(8, 15, month=12))
    await tick_at(slack, at(8, 15, 1, month=12))  # (one row per query here: the second one next minute)
    with Session(slack.engine) as session:
        firsts = {c.owner_id: c.status for c in session.exec(select(Checkin).where(Checkin.position == 1))}
    assert firsts == {ALEX: "missed", JO: "missed"}
