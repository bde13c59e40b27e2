"""Reminders, few and polite, then escalation (issue 10, #3), on Slack with a fake clock: each one sent once,
cancelled when what it chases happens; stalled 5 Whys, overdue fixes, missed check-ins and the weekly note."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.core.clock import FakeClock
from storage.models import Checkin, Reminder
from tests.conftest import ALEX, MAYA, SAM, WINS, make_settings
from tests.support.slack_api import Call, SlackApiStub
from tests.support.slack_flows import at, checkin_dms, implemented, tick_at, to_approval
from tests.support.world import SlackWorld

OWNER = "U0OWNER"


def permalink(card: Call) -> str:
    return f"https://acme.slack.com/archives/{card['channel']}/p{card.ts.replace('.', '')}"


def said(calls: list[Call], words: str) -> list[Call]:
    return [c for c in calls if words in c.text_of_blocks]


def reminders(db: Engine) -> dict[tuple[str, str], str]:
    with Session(db) as session:
        return {(r.kind, r.subject): r.status for r in session.exec(select(Reminder))}


async def test_an_approval_waiting_two_working_days_is_reminded_once_then_escalated(slack: SlackWorld) -> None:
    slack.stub.users[OWNER] = {"is_owner": True}  # the admins: Maya (asked already) and the owner
    card, request = await to_approval(slack)  # Monday 23 Nov, 09:00

    await tick_at(slack, at(25, 9, 59))
    assert not said(slack.thread(card), "has waited")
    await tick_at(slack, at(25, 10))  # Wednesday, 10:00 in the workspace's zone: two working days
    [reminder] = said(slack.thread(card), "has waited 2 working days for a decision")
    assert f"<@{MAYA}> and <!subteam^S0LEADS>, please approve, decline" in reminder.text_of_blocks
    for approver in (MAYA, SAM):
        [dm] = said(slack.dms(approver), "Reminder") or said(slack.dms(approver), "has waited 2 working days")
        assert f"<{permalink(card)}|Open #1's thread>" in dm.text_of_blocks
    await tick_at(slack, at(25, 10, 1))
    await tick_at(slack, at(26, 10))
    assert len(said(slack.thread(card), "has waited 2 working days")) == 1  # once
    assert slack.dms(OWNER) == []  # not yet

    await tick_at(slack, at(27, 10))  # two working days more: escalated
    [escalation] = said(slack.thread(card), "with no decision")
    assert "has waited 4 working days with no decision, so the workspace admins are asked too: " in (
        escalation.text_of_blocks
    )
    assert f"<@{OWNER}>, please decide" in escalation.text_of_blocks
    [dm] = slack.dms(OWNER)
    assert "you are asked too" in dm.text_of_blocks and permalink(card) in dm.text_of_blocks
    await tick_at(slack, at(30, 9))
    assert len(slack.dms(OWNER)) == 1

    await slack.click(request, "approve", OWNER)  # asked by the escalation: may decide
    assert "Approved, in progress" in slack.card_now(card)


async def test_a_decision_cancels_the_reminders(slack: SlackWorld) -> None:
    slack.stub.users[OWNER] = {"is_owner": True}
    card, request = await to_approval(slack)
    await slack.click(request, "approve", MAYA)

    for day in (25, 27, 30):
        await tick_at(slack, at(day, 9))

    assert not said(slack.thread(card), "has waited")
    assert reminders(slack.engine)[("approval_reminder", "round:1")] == "cancelled"
    assert reminders(slack.engine)[("approval_escalation", "round:1")] == "cancelled"


async def test_reminders_count_working_days_in_the_workspace_zone(
    db: Engine, clock: FakeClock, slack_api: SlackApiStub
) -> None:
    clock.set(at(27, 20))  # Friday 27 Nov, 21:00 in Berlin
    slack = SlackWorld.build(make_settings(slack_api, IMPROVE_TIMEZONE="Europe/Berlin"), engine=db, clock=clock,
                             stub=slack_api)  # fmt: skip
    try:
        card, _request = await to_approval(slack)
        await tick_at(slack, at(1, 8, 59, month=12))  # Tuesday 09:59 in Berlin: not yet
        assert not said(slack.thread(card), "has waited")
        await tick_at(slack, at(1, 9, month=12))  # Tuesday 10:00 in Berlin (the weekend does not count)
        assert said(slack.thread(card), "has waited 2 working days")
    finally:
        await slack.close()


async def test_an_unanswered_why_nudges_the_reporter_once_then_stalls_until_answered(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)  # Monday 23 Nov, 09:00

    await tick_at(slack, at(26, 9, 59))
    assert slack.dms(ALEX) == []
    await tick_at(slack, at(26, 10))  # three working days, at 10:00
    [nudge] = slack.dms(ALEX)
    assert "Why #1 of #1 Leads arrive in the CRM twice has waited 3 working days for your answer" in (
        nudge.text_of_blocks
    )
    assert f"<{permalink(card)}|Reply in its thread>" in nudge.text_of_blocks
    await tick_at(slack, at(9, 9, month=12))
    assert len(slack.dms(ALEX)) == 1 and "stalled" not in slack.card_now(card)

    await tick_at(slack, at(10, 10, month=12))  # ten working days after the nudge
    [line] = said(slack.thread(card), "stalled")
    assert "Why #1 has had no answer for 13 working days" in line.text_of_blocks
    assert f"<@{ALEX}>, reply here to pick it up again" in line.text_of_blocks
    assert "Finding the root cause (stalled: the 5 Whys wait for an answer)" in slack.card_now(card)

    await tick_at(slack, at(11, 16, month=12))  # Friday: the weekly note lists it as stalled
    [note] = [c for c in slack.posts() if c["channel"] == WINS]
    assert "5 Whys stalled" in note.text_of_blocks and "#1 Leads arrive in the CRM twice" in note.text_of_blocks

    await slack.reply(card.ts, "Two web forms", ALEX)  # picked up again
    assert "stalled" not in slack.card_now(card)
    assert reminders(slack.engine)[("whys_nudge", "why:2")] == "pending"
    await tick_at(slack, at(16, 16, month=12))  # three working days after the answer
    assert len(said(slack.dms(ALEX), "Why #2 of #1")) == 1


async def test_a_fix_past_its_due_date_tells_its_owner_once_and_shows_overdue(slack: SlackWorld) -> None:
    card, request = await to_approval(slack)  # due 2026-12-15
    await slack.click(request, "approve", MAYA)
    dms_before = len(slack.dms(ALEX))  # the owner's DM at approval

    await tick_at(slack, at(16, 9, 59, month=12))
    assert len(slack.dms(ALEX)) == dms_before
    await tick_at(slack, at(16, 10, month=12))  # the morning after the due date
    [overdue] = slack.dms(ALEX)[dms_before:]
    assert "The fix for #1 Leads arrive in the CRM twice was due on 2026-12-15" in overdue.text_of_blocks
    assert "(overdue: it was due 2026-12-15)" in slack.card_now(card)
    await tick_at(slack, at(17, 10, month=12))
    assert len(slack.dms(ALEX)) == dms_before + 1

    await slack.click_and_submit(slack.thread(card)[-1], "mark_implemented", ALEX, {"metric_now": "3"})
    assert "overdue" not in slack.card_now(card) and "Implemented" in slack.card_now(card)


async def test_implemented_in_time_sends_no_overdue_dm(slack: SlackWorld) -> None:
    await implemented(slack)
    await tick_at(slack, at(16, 10, month=12))
    assert reminders(slack.engine)[("overdue", "due:2026-12-15")] == "cancelled"
    assert not said(slack.dms(ALEX), "was due on")


async def test_a_missed_checkin_is_closed_and_the_fix_unverified_until_the_next_answer(slack: SlackWorld) -> None:
    card = await implemented(slack)  # owner Alex, in New York; check-ins at 10:00 his time
    await tick_at(slack, at(30, 15))
    [first] = checkin_dms(slack)
    await tick_at(slack, at(2, 15, month=12))  # the nudge
    await tick_at(slack, at(4, 16, month=12))  # two working days later: missed (and it is Friday's note)

    [line] = said(slack.thread(card), "went unanswered")
    assert "Check-in 1 of 3 for #1 went unanswered, so it is closed and the fix is unverified" in line.text_of_blocks
    assert f"<@{ALEX}>, <@{MAYA}>, <@{SAM}> for your information" in line.text_of_blocks
    assert "Missed: this check-in is closed" in slack.updates(first.ts)[-1].text_of_blocks
    assert "Implemented (unverified: a check-in was missed)" in slack.card_now(card)
    [note] = [c for c in slack.posts() if c["channel"] == WINS]
    assert "Unverified fixes" in note.text_of_blocks and f"<@{ALEX}>, missed today" in note.text_of_blocks

    await slack.click(first, "checkin_holding", ALEX)  # too late: closed
    assert "was missed and is closed; the next one will ask again" in slack.ephemerals(ALEX)[-1]

    await tick_at(slack, at(23, 15, month=12))  # the next check-in
    second = checkin_dms(slack)[-1]
    await slack.click_and_submit(second, "checkin_holding", ALEX, {"reading": "2"})
    assert "unverified" not in slack.card_now(card) and "Implemented" in slack.card_now(card)


async def test_a_missed_last_checkin_gets_one_more_and_can_still_end_sustained(
    db: Engine, clock: FakeClock, slack_api: SlackApiStub
) -> None:
    slack = SlackWorld.build(make_settings(slack_api, IMPROVE_CHECKIN_DAYS="7"), engine=db, clock=clock,
                             stub=slack_api)  # fmt: skip
    try:
        card = await implemented(slack)
        await tick_at(slack, at(30, 15))
        await tick_at(slack, at(2, 15, month=12))
        await tick_at(slack, at(4, 16, month=12))  # missed: the only check-in
        with Session(db) as session:
            statuses = [c.status for c in session.exec(select(Checkin).order_by(Checkin.id))]
        assert statuses == ["missed", "scheduled"]

        await tick_at(slack, at(14, 15, month=12))  # a week later, on a working day at 10:00 his time
        make_up = checkin_dms(slack)[-1]
        assert make_up.ts != checkin_dms(slack)[0].ts
        await slack.click_and_submit(make_up, "checkin_holding", ALEX, {"reading": "1"})
        assert "Sustained" in slack.card_now(card)
    finally:
        await slack.close()


async def test_a_missed_make_up_checkin_is_not_made_up_again(
    db: Engine, clock: FakeClock, slack_api: SlackApiStub
) -> None:
    slack = SlackWorld.build(make_settings(slack_api, IMPROVE_CHECKIN_DAYS="7"), engine=db, clock=clock,
                             stub=slack_api)  # fmt: skip
    try:
        card = await implemented(slack)
        for day, month in ((30, 11), (2, 12), (4, 12), (14, 12), (16, 12), (18, 12), (28, 12), (30, 12)):
            await tick_at(slack, at(day, 16, month=month))  # check-in, nudge, missed; make-up, nudge, missed; …
        with Session(db) as session:
            statuses = [c.status for c in session.exec(select(Checkin).order_by(Checkin.id))]
        assert statuses == ["missed", "missed"]
        assert len(said(slack.thread(card), "went unanswered")) == 2
    finally:
        await slack.close()


async def test_a_fix_reopened_by_a_slipping_checkin_is_overdue_again_after_its_due_date(slack: SlackWorld) -> None:
    card = await implemented(slack)  # due 2026-12-15
    await tick_at(slack, at(30, 15))
    await slack.click_and_submit(checkin_dms(slack)[-1], "checkin_slipping", ALEX, {})
    assert "Approved, in progress" in slack.card_now(card)

    await tick_at(slack, at(16, 10, month=12))

    assert len(said(slack.dms(ALEX), "was due on 2026-12-15")) == 1
    assert "(overdue: it was due 2026-12-15)" in slack.card_now(card)


async def test_the_escalation_targets_decide_only_once_asked(slack: SlackWorld) -> None:
    slack.stub.users[OWNER] = {"is_owner": True}
    card, request = await to_approval(slack)

    await slack.click(request, "approve", OWNER)  # not asked yet
    assert "Only approvers can approve" in slack.ephemerals(OWNER)[-1]
    await tick_at(slack, at(27, 10))  # reminded, then escalated
    await slack.click(request, "approve", OWNER)
    assert "Approved, in progress" in slack.card_now(card)


async def test_the_admins_are_found_on_any_page_of_the_members(
    db: Engine, clock: FakeClock, slack_api: SlackApiStub
) -> None:
    slack_api.users.update({f"U0REP{n:04d}": {} for n in range(450)})  # three pages of 200
    slack_api.users["U0ZZOWNER"] = {"is_owner": True}  # sorted last: on the third page
    slack = SlackWorld.build(make_settings(slack_api, IMPROVE_APPROVERS=""), engine=db, clock=clock, stub=slack_api)
    try:
        card, _request = await to_approval(slack)
        assert "<@U0ZZOWNER>" in slack.thread(card)[-1].text_of_blocks
        assert len(slack_api.of("users.list")) == 3
    finally:
        await slack.close()


async def test_improvements_waiting_from_before_reminders_get_them_planned(slack: SlackWorld) -> None:
    card, _request = await to_approval(slack)
    with Session(slack.engine) as session:  # as if it had waited since before reminders existed
        for row in session.exec(select(Reminder)):
            session.delete(row)
        session.commit()

    await tick_at(slack, at(24, 9))  # the tick plans what is missing, from when it entered its stage
    assert reminders(slack.engine)[("approval_reminder", "round:1")] == "pending"
    await tick_at(slack, at(25, 10))
    assert said(slack.thread(card), "has waited 2 working days")
