"""Chronic problems (issue 12, #5) on Slack through signed requests: each rule marks an improvement (its fix
reopened twice; three closed or sustained ones of its area about the same problem, at the report or at the root
cause; five voices), the card says so, chronic problems rank first among open ones, and the 5 Whys of one its
area keeps producing start from the earlier chains."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from storage.models import Improvement
from tests.conftest import ALEX, JO, MAYA, WINS
from tests.support.slack_flows import at, checkin_dms, implemented, open_form, tick_at
from tests.support.world import SlackWorld

USERS = [f"U0VOICE{n}" for n in range(5)]


def _chronic(slack: SlackWorld, number: int) -> str | None:
    with Session(slack.engine) as session:
        return session.exec(select(Improvement.chronic).where(Improvement.number == number)).one()


async def _close(slack: SlackWorld, card, user: str = ALEX) -> None:
    view = await open_form(slack, card, "close", user)
    assert view is not None
    await slack.submit(view, {"reason": "withdrawn", "note": "Gone for now"}, user)


async def _closed_with_root_cause(slack: SlackWorld, problem: str, root_cause: str | None, area: str = "Sales") -> None:
    card = await slack.report(ALEX, problem, area=area)
    if root_cause:
        await slack.reply(card.ts, root_cause, ALEX)
        await slack.click(slack.thread(card)[-1], "root_cause", ALEX)
    await _close(slack, card)


async def test_a_fix_reopened_twice_is_chronic_and_the_thread_says_where_its_whys_ended(slack: SlackWorld) -> None:
    card = await implemented(slack)  # root cause "Two web forms"
    await tick_at(slack, at(30, 15))
    await slack.click_and_submit(checkin_dms(slack)[-1], "checkin_slipping", ALEX, {"reading": "25"})
    assert _chronic(slack, 1) is None  # once is a slip
    await slack.click_and_submit(slack.thread(card)[-1], "mark_implemented", ALEX, {"metric_now": "1"})
    await tick_at(slack, at(7, 16, month=12))

    await slack.click_and_submit(checkin_dms(slack)[-1], "checkin_slipping", ALEX, {"reading": "30"})

    assert _chronic(slack, 1) == "reopened"
    said = slack.thread(card)[-1].text_of_blocks
    assert "Marked chronic: the fix of #1 has been reopened twice. The 5 Whys ended at “Two web forms”" in said
    assert "🔁 Chronic: its fix was reopened twice" in slack.card_now(card)


async def test_an_area_that_keeps_producing_a_problem_starts_the_whys_from_the_earlier_chains(
    slack: SlackWorld,
) -> None:
    await _closed_with_root_cause(slack, "Leads arrive in the CRM twice", "Two web forms feed the CRM")
    await _closed_with_root_cause(slack, "Duplicate leads in the CRM again", None)
    await _closed_with_root_cause(slack, "Leads are in the CRM twice", None, area="Marketing")  # another area

    card = await slack.report(JO, "Leads come into the CRM twice")  # two alike in Sales: not yet
    assert _chronic(slack, 4) is None
    await _close(slack, card, JO)

    card = await slack.report(MAYA, "New leads show up in the CRM twice")  # three in Sales now

    assert _chronic(slack, 5) == "pattern"
    assert "🔁 Chronic: Sales keeps producing this problem" in slack.card_now(card)
    comeback, why = (c.text_of_blocks for c in slack.thread(card)[:2])
    assert "This keeps coming back: #4, #2 and #1 in Sales were about the same problem" in comeback
    assert "#1 (closed): root cause “Two web forms feed the CRM”" in comeback
    assert "#2 (closed): no root cause" in comeback
    assert "Last time the root cause was “Two web forms feed the CRM” (#1): why did it come back?" in comeback
    assert "Why #1" in why  # the 5 Whys start right after it


async def test_a_root_cause_the_area_found_before_marks_it_chronic(slack: SlackWorld) -> None:
    for problem in ("Quotes wait days for a signature", "Discounts need three approvals", "Renewals go out late"):
        await _closed_with_root_cause(slack, problem, "Nobody owns the approval rules")
    card = await slack.report(JO, "Campaign briefs bounce between teams")
    assert _chronic(slack, 4) is None

    await slack.reply(card.ts, "Nobody really owns the approval rules", JO)
    await slack.click(slack.thread(card)[-1], "root_cause", JO)

    assert _chronic(slack, 4) == "pattern"
    said = [c.text_of_blocks for c in slack.thread(card) if "Marked chronic" in c.text_of_blocks]
    assert said and "#3, #2 and #1 in Sales ended at a similar root cause" in said[0]


async def test_five_voices_make_it_chronic_and_chronic_problems_rank_first(slack: SlackWorld) -> None:
    await slack.report(ALEX, "Customers get two welcome emails", customers_how="Two emails")  # #1
    loud = await slack.report(ALEX, "Campaign emails go out late")  # #2
    for user in USERS[:4]:
        await slack.click(loud, "me_too", user)
    assert _chronic(slack, 2) is None

    await slack.click(loud, "me_too", USERS[4])

    assert _chronic(slack, 2) == "voices" and "🔁 Chronic: 5+ people said Me too" in slack.card_now(loud)
    slack.clock.advance(seconds=30)
    await slack.click(loud, "me_too", USERS[4])  # a voice taken back: what happened stays
    assert _chronic(slack, 2) == "voices"
    await slack.send_command_text("list", ALEX)
    listed = [c for c in slack.stub.of("chat.postEphemeral") if c["user"] == ALEX][-1].text_of_blocks
    assert listed.index("#2 ") < listed.index("#1 ") and "🔁 chronic" in listed  # before what customers notice
    home = json.dumps((await slack.open_home(ALEX))["blocks"]).split("Your improvements")[1]
    assert home.index("#2 ") < home.index("#1 ")
    await tick_at(slack, at(27, 16))  # the weekly note lists it first, marked
    [note] = [c.text_of_blocks for c in slack.posts() if c["channel"] == WINS]
    assert note.index("🔁 #2") < note.index("#1")
