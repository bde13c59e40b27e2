"""Teams: sustain check-ins arrive as proactive 1:1 messages; the weekly wins go to the wins channel."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support.teams_flows import PROPOSAL, report, to_approval
from tests.support.teams_world import ALEX, INTAKE, MAYA, WINS, TeamsWorld


async def implemented(teams: TeamsWorld) -> str:
    root = await to_approval(teams, timezone="America/New_York")
    chain = teams.thread(root)
    await teams.click(MAYA, teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1], "approve", chain)
    await teams.click(ALEX, teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1], "mark_implemented", chain)
    await teams.submit(ALEX, teams.connector.posts_to(ALEX.personal)[-1], {"metric_now": "3", "note": ""},
                       teams.personal(ALEX))  # fmt: skip
    return root


async def test_a_checkin_arrives_as_a_proactive_message_and_is_answered_in_place(teams: TeamsWorld) -> None:
    root = await implemented(teams)  # Monday 23 Nov; Alex's Teams client says New York
    teams.clock.set(datetime(2026, 11, 30, 15, 0, tzinfo=UTC))  # 10:00 in New York
    await teams.bot.ticker.tick()

    checkin = teams.connector.posts_to(ALEX.personal)[-1]
    assert "Check-in 1 of 3" in checkin.text
    response = await teams.click(ALEX, checkin, "checkin_holding", teams.personal(ALEX))
    form = response.json()["value"]  # in the 1:1 chat the form takes the check-in card's place
    await teams.submit(ALEX, form, {"reading": "2", "note": ""}, teams.personal(ALEX))

    assert "Still holding" in teams.connector.updates_of(checkin.response["id"])[-1].text
    line, chart = teams.connector.posts_to(f"{INTAKE};messageid={root}")[-2:]
    assert "still holding" in line.text and "Reading: 2/week (target met)" in line.text
    assert "readings and natural process limits" in chart.text  # baseline and two readings: the control chart


async def test_the_weekly_wins_are_posted_to_the_wins_channel_with_the_chart(teams: TeamsWorld) -> None:
    await implemented(teams)
    teams.clock.set(datetime(2026, 11, 27, 16, 0, tzinfo=UTC))
    await teams.bot.ticker.tick()

    announcement, chart = teams.connector.posts_to(WINS)
    assert "This week's wins" in announcement.text and "Idea by <at>Alex</at>" in announcement.text
    [image] = chart.body["attachments"]
    assert image["contentType"] == "image/png" and image["contentUrl"].startswith("data:image/png;base64,iVBOR")


async def test_an_approval_reminder_and_a_whys_nudge_reach_people_in_their_1_1_chats(teams: TeamsWorld) -> None:
    from tests.support.teams_world import TENANT

    root = await report(teams)  # Monday 23 Nov, 09:00 UTC
    link = f"https://teams.microsoft.com/l/message/19%3Aintake0000%40thread.tacv2/{root}?tenantId={TENANT}"
    teams.clock.set(datetime(2026, 11, 26, 10, 0, tzinfo=UTC))  # three working days: the reporter is nudged
    await teams.bot.ticker.tick()
    nudge = teams.connector.posts_to(ALEX.personal)[-1]
    assert "Why #1 of #1" in nudge.text and f"[Reply in its thread]({link}&parentMessageId={root})" in nudge.text

    chain = teams.thread(root)
    await teams.say(ALEX, "Two web forms", chain)
    await teams.click(ALEX, teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1], "root_cause", chain)
    await teams.click(ALEX, teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1], "propose", chain)
    await teams.submit(ALEX, teams.connector.posts_to(ALEX.personal)[-1], PROPOSAL, teams.personal(ALEX))
    assert "waits for your review" in teams.connector.posts_to(MAYA.personal)[-1].text

    teams.clock.set(datetime(2026, 11, 30, 10, 0, tzinfo=UTC))  # Thursday -> Monday: two working days
    await teams.bot.ticker.tick()
    assert "has waited 2 working days for a decision" in teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1].text
    reminder = teams.connector.posts_to(MAYA.personal)[-1]
    assert "has waited 2 working days for your review" in reminder.text and link in reminder.text


async def test_a_checkin_reading_posts_the_control_chart_in_the_thread(teams: TeamsWorld) -> None:
    root = await implemented(teams)  # baseline 40/week, implemented at 3
    teams.clock.set(datetime(2026, 11, 30, 15, 0, tzinfo=UTC))
    await teams.bot.ticker.tick()
    checkin = teams.connector.posts_to(ALEX.personal)[-1]
    form = (await teams.click(ALEX, checkin, "checkin_holding", teams.personal(ALEX))).json()["value"]

    await teams.submit(ALEX, form, {"reading": "45", "note": ""}, teams.personal(ALEX))

    thread = teams.connector.posts_to(f"{INTAKE};messageid={root}")
    line, chart = thread[-2:]
    assert "45/week is worse than the baseline (40/week)" in line.text
    [image] = chart.body["attachments"]
    assert image["contentType"] == "image/png" and image["name"] == "control-chart-1.png"
    asked = teams.connector.posts_to(ALEX.personal)[-1]
    assert "Is it slipping?" in asked.text
    await teams.click(ALEX, asked, "signal_slipping", teams.personal(ALEX))
    assert "is slipping after all" in teams.connector.posts_to(f"{INTAKE};messageid={root}")[-2].text
