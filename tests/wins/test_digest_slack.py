"""The weekly win announcement: content, credit, chart, exactly once, nothing skipped, nothing late."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlmodel import Session, select

from bot.wins.views import MAX_LISTED
from handlers.cli import main
from storage.models import Digest, Improvement
from tests.conftest import ALEX, INTAKE, JO, MAYA, SAM, WINS, make_settings
from tests.support import slack_requests as rq
from tests.support.slack_api import BOT_TOKEN
from tests.support.slack_flows import PROPOSAL, at, implemented, tick_at, to_approval, to_root_cause
from tests.support.world import SlackWorld

FRIDAY_4PM = at(27, 16)  # the default slot: Friday 16:00 UTC


def wins_posts(slack: SlackWorld):
    return [c for c in slack.posts() if c["channel"] == WINS]


async def test_the_digest_credits_the_idea_and_the_owner_with_what_it_gives_back(slack: SlackWorld) -> None:
    await implemented(slack)  # Monday; 2 h/week x 10 people; Alex reported and owns it
    await tick_at(slack, at(27, 15, 59))
    assert not wins_posts(slack)

    await tick_at(slack, FRIDAY_4PM)

    [post] = wins_posts(slack)
    text = post.text_of_blocks
    assert "This week's wins (2026-W48)" in text
    assert "#1 Leads arrive in the CRM twice" in text and "implemented" in text
    assert f"Idea by <@{ALEX}>, carried out by <@{ALEX}>" in text
    assert "Before → after: 40/week → 3/week, target 5/week: target met." in text
    assert "Stops doing: The Monday dedupe spreadsheet" in text
    assert "Gives back ≈ 1,040 h/year ≈ $52,000/year (approved estimate)." in text
    assert (
        "This week:* 1 fix implemented, ≈ 1,040 h/year ≈ $52,000/year (approved estimates); 0 fixes confirmed" in text
    )
    assert "Year to date:* 1 fix implemented" in text
    [chart] = slack.stub.of("files.completeUploadExternal")
    assert chart["channel_id"] == WINS
    assert chart["files"][0]["title"] == "Hours given back per week (run rate of live fixes, approved estimates)"
    [upload] = slack.stub.of("upload")
    assert upload["body"].startswith(b"\x89PNG") or b"\x89PNG" in upload["body"]


async def test_the_digest_goes_out_once_per_week(slack: SlackWorld) -> None:
    await implemented(slack)
    await tick_at(slack, FRIDAY_4PM)
    await tick_at(slack, at(27, 16, 1))
    await tick_at(slack, at(28, 9))
    assert len(wins_posts(slack)) == 1
    assert len(slack.stub.of("files.completeUploadExternal")) == 1


async def test_a_fix_finished_after_the_cut_off_is_in_next_weeks_digest(slack: SlackWorld) -> None:
    slack.clock.set(at(24, 9))
    await slack.command("", ALEX)  # the bot is in use before the first slot (a form opened, nothing reported)
    await tick_at(slack, FRIDAY_4PM)  # a quiet week
    slack.clock.set(at(28, 10))  # Saturday
    card = await implemented_now(slack)
    assert card
    await tick_at(slack, at(4, 16, month=12))
    digests = wins_posts(slack)
    assert "No fixes landed this week (2026-W48)" in digests[0].text_of_blocks
    assert "This week's wins (2026-W49)" in digests[1].text_of_blocks and "#1" in digests[1].text_of_blocks


async def implemented_now(slack: SlackWorld):
    slack.stub.users[ALEX] = {"tz": "UTC"}
    card, chain = await to_root_cause(slack)
    await slack.click_and_submit(chain, "propose", ALEX, PROPOSAL)
    await slack.click(slack.thread(card)[-1], "approve", MAYA)
    await slack.click_and_submit(slack.thread(card)[-1], "mark_implemented", ALEX, {"metric_now": "3"})
    return card


async def test_a_quiet_week_names_what_is_in_progress(slack: SlackWorld) -> None:
    card, chain = await to_root_cause(slack)
    await slack.click_and_submit(chain, "propose", ALEX, {**PROPOSAL, "owner": JO})
    await slack.click(slack.thread(card)[-1], "approve", SAM)

    await tick_at(slack, FRIDAY_4PM)

    [post] = wins_posts(slack)
    assert "No fixes landed this week" in post.text_of_blocks
    assert "Fixes in progress" in post.text_of_blocks
    assert f"#1 Leads arrive in the CRM twice · <@{JO}>, due 15 Dec 2026" in post.text_of_blocks
    assert "overdue" not in post.text_of_blocks
    assert not slack.stub.of("files.completeUploadExternal")  # no chart for a quiet week


async def test_the_weekly_note_names_what_waits_by_stage_oldest_first(slack: SlackWorld) -> None:
    """Not only approved fixes: a manager sees what waits for approval, which 5 Whys are open, what is overdue."""
    slack.clock.set(at(23, 9))
    await slack.report(ALEX, "Old: proposal templates are always out of date")  # #1, 5 Whys open since Monday
    await to_approval(slack)  # #2, waiting for approval since Monday
    slack.clock.set(at(24, 9))
    for n in range(6):  # #3-#8: 5 Whys open since Tuesday
        await slack.report(ALEX, f"Newer problem number {n} keeps biting us")
    improvement_late = await slack.report(JO, "An overdue fix for the quarterly forecast")  # #9
    await slack.reply(improvement_late.ts, "The forecast sheet is rebuilt by hand", JO)
    await slack.click(slack.thread(improvement_late)[-1], "root_cause", JO)
    await slack.click_and_submit(
        slack.thread(improvement_late)[-1], "propose", JO, {**PROPOSAL, "owner": JO, "due_date": "2026-11-25"}
    )
    await slack.click(slack.thread(improvement_late)[-1], "approve", MAYA)

    await tick_at(slack, FRIDAY_4PM)

    [post] = wins_posts(slack)
    text = post.text_of_blocks
    assert text.index("Waiting for approval") < text.index("Fixes in progress") < text.index("5 Whys open")
    assert f"Waiting for approval* (asked: <@{MAYA}>, <!subteam^S0LEADS>)" in text  # named once, not on every line
    assert "#2 Leads arrive in the CRM twice · waiting for 4 days" in text
    assert f"#9 An overdue fix for the quarterly forecast · <@{JO}>, due 25 Nov 2026 (overdue)" in text
    whys = text[text.index("5 Whys open") :]
    assert whys.index("#1 Old") < whys.index("#3 Newer")  # the longest waiting first
    assert f"#1 Old: proposal templates are always out of date · open for 4 days, <@{ALEX}>" in whys
    assert "…and 2 more" in whys  # seven open: five named
    assert "Nothing is waiting" not in text


async def test_a_quiet_week_can_stay_quiet(db, clock, slack_api) -> None:
    world = SlackWorld.build(make_settings(slack_api, IMPROVE_DIGEST_WHEN_EMPTY="skip"), engine=db, clock=clock,
                             stub=slack_api)  # fmt: skip
    try:
        await world.report(ALEX)
        await tick_at(world, FRIDAY_4PM)
        assert not wins_posts(world)
    finally:
        await world.close()


async def test_a_digest_missed_by_more_than_a_day_is_skipped_and_its_wins_roll_over(slack: SlackWorld, caplog) -> None:
    await implemented(slack)
    with caplog.at_level(logging.WARNING):
        await tick_at(slack, at(29, 9))  # down from Friday to Sunday morning: more than a day late
    assert not wins_posts(slack)
    assert "skipped the 2026-W48 digest" in caplog.text

    await tick_at(slack, at(4, 16, month=12))
    [post] = wins_posts(slack)
    assert "(2026-W49)" in post.text_of_blocks and "#1 Leads arrive" in post.text_of_blocks


async def test_a_digest_a_few_hours_late_still_goes_out_for_its_week(slack: SlackWorld) -> None:
    await implemented(slack)
    await tick_at(slack, at(27, 22))
    [post] = wins_posts(slack)
    assert "(2026-W48)" in post.text_of_blocks


async def test_an_anonymous_idea_is_credited_to_a_teammate(slack: SlackWorld) -> None:
    await implemented(slack)
    with Session(slack.engine) as session:
        improvement = session.exec(select(Improvement)).one()
        improvement.anonymous = True
        session.add(improvement)
        session.commit()
    await tick_at(slack, FRIDAY_4PM)
    text = wins_posts(slack)[0].text_of_blocks
    assert "Idea by a teammate, carried out by" in text


async def test_the_digest_follows_the_workspace_zone_and_day(db, clock, slack_api) -> None:
    settings = make_settings(slack_api, IMPROVE_DIGEST_AT="thu 09:30", IMPROVE_TIMEZONE="Europe/Berlin")
    world = SlackWorld.build(settings, engine=db, clock=clock, stub=slack_api)
    try:
        await implemented(world)
        await tick_at(world, datetime(2026, 11, 26, 8, 29, tzinfo=UTC))
        assert not wins_posts(world)
        await tick_at(world, datetime(2026, 11, 26, 8, 30, tzinfo=UTC))  # 09:30 in Berlin
        assert len(wins_posts(world)) == 1
    finally:
        await world.close()


async def test_a_failed_digest_post_is_retried_not_lost(slack: SlackWorld) -> None:
    await implemented(slack)
    slack.stub.fail("chat.postMessage", times=1, error="channel_not_found")  # the bot was not invited yet
    await tick_at(slack, FRIDAY_4PM)
    assert not wins_posts(slack)
    assert not slack.stub.of("files.completeUploadExternal")  # the chart waits for its announcement
    await tick_at(slack, at(27, 16, 5))
    assert len(wins_posts(slack)) == 1
    assert len(slack.stub.of("files.completeUploadExternal")) == 1
    with Session(slack.engine) as session:
        assert [d.week for d in session.exec(select(Digest)).all()] == ["2026-W48"]


async def test_digest_preview_prints_the_next_announcement(slack: SlackWorld, monkeypatch, tmp_path, capsys) -> None:
    await implemented(slack)
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": rq.SIGNING_SECRET, "SLACK_API_URL": slack.stub.url,
        "DATABASE_URL": slack.engine.url.render_as_string(hide_password=False), "IMPROVE_INTAKE_CHANNEL": INTAKE,
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    assert await asyncio.to_thread(main, ["digest", "--preview", "--now", "2026-11-25T12:00:00Z"]) == 0
    out = capsys.readouterr().out
    assert "--- slack T0001: 2026-W48, to C0WINS ---" in out
    assert "*#1 Leads arrive in the CRM twice* implemented ✅. Idea by @U0ALEX" in out
    assert not wins_posts(slack)  # a preview posts nothing


async def test_an_announcement_slack_never_took_does_not_lose_its_wins(slack: SlackWorld) -> None:
    await implemented(slack)
    slack.stub.fail("chat.postMessage", times=3, error="invalid_blocks")  # refused for good
    for minute in (0, 1, 5, 10):
        await tick_at(slack, at(27, 16, minute))
    assert not wins_posts(slack)
    assert not slack.stub.of("files.completeUploadExternal")  # its chart is not posted alone

    await tick_at(slack, at(4, 16, month=12))

    [post] = wins_posts(slack)
    assert "(2026-W49)" in post.text_of_blocks and "#1 Leads arrive" in post.text_of_blocks


async def test_a_sustained_fix_is_celebrated_without_counting_its_hours_twice(slack: SlackWorld) -> None:
    await implemented(slack)
    await tick_at(slack, FRIDAY_4PM)  # W48: implemented, 1,040 h/year
    with Session(slack.engine) as session:
        improvement = session.exec(select(Improvement)).one()
        improvement.status, improvement.sustained_at = "sustained", at(2, 10, month=12)
        session.add(improvement)
        session.commit()

    await tick_at(slack, at(4, 16, month=12))

    text = wins_posts(slack)[-1].text_of_blocks
    assert "*Held through every check-in 🏁*\n*#1 Leads arrive in the CRM twice* held through every check-in" in text
    assert "Gives back ≈ 1,040 h/year ≈ $52,000/year (confirmed)." in text
    assert "Implemented this week" not in text  # it was announced the week it was implemented
    assert "This week:* 0 fixes implemented; 1 fix confirmed, ≈ 1,040 h/year ≈ $52,000/year (confirmed)" in text
    assert ("Year to date:* 1 fix implemented, ≈ 1,040 h/year ≈ $52,000/year (approved estimates); 1 fix confirmed, "
            "≈ 1,040 h/year ≈ $52,000/year (confirmed)") in text  # fmt: skip


async def test_a_huge_week_stays_within_slacks_block_limit(slack: SlackWorld) -> None:
    await implemented(slack)
    with Session(slack.engine) as session:
        first = session.exec(select(Improvement)).one()
        for n in range(2, 62):
            session.add(Improvement(**{**first.model_dump(exclude={"id"}), "number": n, "problem": f"fix {n}"}))
        session.commit()

    await tick_at(slack, FRIDAY_4PM)

    [post] = wins_posts(slack)
    assert len(post["blocks"]) <= 50
    assert f"…and {61 - MAX_LISTED} more." in post.text_of_blocks
    assert "This week:* 61 fixes implemented" in post.text_of_blocks


async def test_a_changed_wins_channel_applies_at_the_next_start(db, clock, slack_api) -> None:
    world = SlackWorld.build(make_settings(slack_api), engine=db, clock=clock, stub=slack_api)
    await implemented(world)
    await world.close()
    moved = SlackWorld.build(make_settings(slack_api, IMPROVE_WINS_CHANNEL="C0NEWWINS"), engine=db, clock=clock,
                             stub=slack_api)  # fmt: skip
    try:
        moved.bot.refresh_settings()  # what serve and tick do at start-up
        await tick_at(moved, FRIDAY_4PM)
        assert [c["channel"] for c in moved.posts() if "wins" in c.text_of_blocks] == ["C0NEWWINS"]
    finally:
        await moved.close()
