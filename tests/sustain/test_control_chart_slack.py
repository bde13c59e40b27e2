"""Every fix's control chart on Slack: once it has its baseline and two readings, each check-in answer posts the
chart in its thread; a reading that signals is called out, and the owner is asked "is it slipping?"."""

from __future__ import annotations

from sqlmodel import Session, col, select

from storage.models import Improvement, Reading
from tests.conftest import ALEX, INTAKE, JO, WINS
from tests.support.slack_flows import at, checkin_dms, implemented, tick_at
from tests.support.world import SlackWorld, has_button


def thread_charts(slack: SlackWorld) -> list[dict]:
    return [c.params for c in slack.stub.of("files.completeUploadExternal") if c.params.get("channel_id") != WINS]


async def answer_first_checkin(slack: SlackWorld, reading: str, verdict: str = "checkin_holding") -> None:
    await tick_at(slack, at(30, 15))
    await slack.click_and_submit(checkin_dms(slack)[-1], verdict, ALEX, {"reading": reading, "note": ""})


async def test_the_second_reading_posts_the_control_chart_in_the_thread(slack: SlackWorld) -> None:
    card = await implemented(slack)  # baseline 40/week, implemented at 3/week: one reading, no chart yet
    assert thread_charts(slack) == []

    await answer_first_checkin(slack, "2")

    [chart] = thread_charts(slack)
    assert chart["channel_id"] == INTAKE and chart["thread_ts"] == card.ts
    assert chart["files"][0]["title"].startswith("#1 Duplicate leads per week, counted every Friday: readings")
    [upload] = slack.stub.of("upload")
    assert b"\x89PNG" in upload["body"]
    line = slack.thread(card)[-1].text_of_blocks
    assert "Reading: 2/week (target met)." in line and "Worth a look" not in line
    assert not [dm for dm in slack.dms(ALEX) if "Is it slipping?" in dm.text_of_blocks]
    with Session(slack.engine) as session:
        readings = session.exec(select(Reading).order_by(col(Reading.at))).all()
        assert [(r.source, r.value, r.cycle) for r in readings] == [("implemented", 3, 0), ("checkin", 2, 0)]


async def test_a_reading_worse_than_the_baseline_is_called_out_and_the_owner_asked(slack: SlackWorld) -> None:
    card = await implemented(slack)

    await answer_first_checkin(slack, "45")  # "still holding", yet worse than the 40/week it started from

    line = slack.thread(card)[-1].text_of_blocks
    assert "Worth a look:* 45/week is worse than the baseline (40/week)." in line
    [asked] = [dm for dm in slack.dms(ALEX) if "Is it slipping?" in dm.text_of_blocks]
    assert has_button(asked, "signal_slipping") and has_button(asked, "signal_holds")
    assert "Implemented" in slack.card_now(card)

    await slack.click(asked, "signal_slipping", JO)  # not the owner nor an approver
    assert "Only the owner of the fix (or an approver) can answer this." in slack.ephemerals(JO)[-1]

    await slack.click(asked, "signal_slipping", ALEX)

    assert "Slipping: reopened" in slack.updates(asked.ts)[-1].text_of_blocks
    assert "Approved, in progress" in slack.card_now(card)
    texts = [m.text_of_blocks for m in slack.thread(card)]
    assert any("says #1 is slipping after all" in t for t in texts)
    assert has_button(slack.thread(card)[-1], "mark_implemented")
    await slack.click(asked, "signal_slipping", ALEX)  # a second click changes nothing
    assert "has moved on since this reading" in slack.ephemerals(ALEX)[-1]
    with Session(slack.engine) as session:
        assert session.exec(select(Improvement)).one().cycle == 1


async def test_no_it_holds_is_noted_and_the_fix_stays_live(slack: SlackWorld) -> None:
    card = await implemented(slack)
    await answer_first_checkin(slack, "45")
    [asked] = [dm for dm in slack.dms(ALEX) if "Is it slipping?" in dm.text_of_blocks]

    await slack.click(asked, "signal_holds", ALEX)

    assert "Noted: it holds" in slack.updates(asked.ts)[-1].text_of_blocks
    assert "Implemented" in slack.card_now(card)


async def test_a_checkin_without_a_reading_posts_no_chart(slack: SlackWorld) -> None:
    await implemented(slack)
    await tick_at(slack, at(30, 15))
    await slack.click_and_submit(checkin_dms(slack)[-1], "checkin_holding", ALEX, {"note": "fine"})
    assert thread_charts(slack) == []


async def test_a_last_checkin_that_signals_is_confirmed_only_once_the_owner_says_it_holds(slack: SlackWorld) -> None:
    card = await implemented(slack)
    for due, reading in ((at(30, 15), "2"), (at(23, 15, month=12), "3"), (at(22, 15, month=2), "45")):
        await tick_at(slack, due)
        await slack.click_and_submit(checkin_dms(slack)[-1], "checkin_holding", ALEX, {"reading": reading})

    assert "Implemented" in slack.card_now(card)  # not sustained while "is it slipping?" is open
    [asked] = [dm for dm in slack.dms(ALEX) if "Is it slipping?" in dm.text_of_blocks]
    await slack.click(asked, "signal_holds", ALEX)

    assert "Sustained" in slack.card_now(card)
    await slack.click(asked, "signal_holds", ALEX)  # answered once only
    assert "has moved on since this reading" in slack.ephemerals(ALEX)[-1]
    with Session(slack.engine) as session:
        assert session.exec(select(Improvement)).one().sustained_at is not None
