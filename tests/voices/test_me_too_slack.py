"""Me too (issue 12, #3) on Slack through signed requests: each person counts once, a second click takes it back
(a double click does not), the card says how many it bites, the people affected grow until the case is approved,
a duplicate's reporter counts the same way, and the open problems rank by it (customers first)."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from storage.models import Improvement, MeToo
from tests.conftest import ALEX, JO, MAYA, SAM, WINS
from tests.support.slack_flows import at, open_form, tick_at, to_approval
from tests.support.world import SlackWorld, find_button


def _improvement(slack: SlackWorld, number: int = 1) -> Improvement:
    with Session(slack.engine) as session:
        return session.exec(select(Improvement).where(Improvement.number == number)).one()


async def test_each_person_counts_once_and_a_second_click_takes_it_back(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)  # 3 h/week × 4 people
    assert find_button(card, "me_too")["text"]["text"] == "Me too"

    await slack.click(card, "me_too", JO)
    await slack.click(card, "me_too", MAYA)
    assert "Counted: 2 people say this bites them too" in slack.ephemerals(MAYA)[-1]
    now = slack.card_now(card)
    assert "🙋 2 people say this bites them too" in now and "3 h/week × 6 people" in now  # the case grows
    await slack.click(card, "me_too", JO)  # a double click: the same click twice
    assert "You're counted already" in slack.ephemerals(JO)[-1] and _improvement(slack).me_too == 2

    slack.clock.advance(seconds=30)
    await slack.click(card, "me_too", JO)  # a change of mind
    assert "Taken back" in slack.ephemerals(JO)[-1]
    assert "🙋 1 person says this bites them too" in slack.card_now(card)
    assert (_improvement(slack).me_too, _improvement(slack).people) == (1, 5)

    await slack.click(card, "me_too", ALEX)
    assert "You reported #1: you count already." in slack.ephemerals(ALEX)[-1]
    with Session(slack.engine) as session:
        assert [v.user_id for v in session.exec(select(MeToo))] == [MAYA]


async def test_after_approval_voices_still_count_but_the_approved_case_stays(slack: SlackWorld) -> None:
    card, request = await to_approval(slack)  # 2 h/week × 10 people
    await slack.click(request, "approve", MAYA)

    await slack.click(card, "me_too", JO)

    improvement = _improvement(slack)
    assert (improvement.me_too, improvement.people, improvement.approved_hours_per_year) == (1, 10, 1040)
    assert "1 person says this bites them too" in slack.card_now(card)


async def test_a_duplicates_reporter_counts_as_a_voice_and_leaves_with_a_reopen(slack: SlackWorld) -> None:
    original = await slack.report(ALEX)
    duplicate = await slack.report(JO, "Leads are in the CRM twice")
    view = await open_form(slack, duplicate, "close", JO)
    assert view is not None
    await slack.submit(view, {"reason": "duplicate", "duplicate_of": "1"}, JO)

    assert (_improvement(slack).me_too, _improvement(slack).people) == (1, 5)
    assert "people affected: 4 → 5; 1 person says this bites them too" in slack.thread(original)[-1].text_of_blocks
    await slack.click(original, "me_too", JO)  # counted already, as the duplicate's reporter
    assert _improvement(slack).me_too == 1


async def test_a_closed_or_fixed_problem_takes_no_voice(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    view = await open_form(slack, card, "close", ALEX)
    assert view is not None
    await slack.submit(view, {"reason": "withdrawn", "note": "Sorted"}, ALEX)

    await slack.click(card, "me_too", JO)  # the button of a card shown before it was closed

    assert "is closed" in slack.ephemerals(JO)[-1] and _improvement(slack).me_too == 0


async def test_open_problems_rank_customers_first_then_by_voices(slack: SlackWorld) -> None:
    await slack.report(ALEX, "Quotes need three signatures")  # #1
    loud = await slack.report(ALEX, "Campaign emails go out late")  # #2: three voices
    await slack.report(ALEX, "Customers get two welcome emails", customers_how="They get two welcome emails")  # #3
    await slack.report(ALEX, "The dashboard is slow")  # #4: the newest
    for person in (JO, MAYA, SAM):
        await slack.click(loud, "me_too", person)

    await slack.send_command_text("list", ALEX)

    listed = [c for c in slack.stub.of("chat.postEphemeral") if c["user"] == ALEX][-1].text_of_blocks
    assert "what customers notice and what bites most people first, then newest" in listed
    assert "customers notice" in listed and "🙋 +3" in listed
    order = [listed.index(f"#{n} ") for n in (3, 2, 4, 1)]
    assert order == sorted(order)  # customers notice, most voices, then newest first
    assert "Yes: They get two welcome emails" in slack.card_now(slack.cards()[2])
    home = json.dumps((await slack.open_home(ALEX))["blocks"]).split("Your improvements")[1]  # ranked the same way
    assert home.index("#3 ") < home.index("#2 ") < home.index("#4 ") < home.index("#1 ")
    await tick_at(slack, at(27, 16))  # the weekly note lists what waits, ranked the same way
    [note] = [c.text_of_blocks for c in slack.posts() if c["channel"] == WINS]
    assert note.index("#3") < note.index("#2") < note.index("#1")


async def test_a_report_edited_after_voices_keeps_its_number_and_a_take_back_respects_it(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)  # 4 people
    await slack.click(card, "me_too", JO)
    await slack.click(card, "me_too", MAYA)  # 6 people
    view = await open_form(slack, card, "edit_report", ALEX)
    assert view is not None
    people = next(b for b in view["blocks"] if b.get("block_id") == "people")
    assert people["element"]["initial_value"] == "6" and "Includes the 2 who said Me too" in json.dumps(people)

    answers = {"problem": "Leads arrive in the CRM twice", "area": "Sales", "frequency": "weekly",
               "hours_per_week": "3", "people": "8", "customers_notice": False}  # fmt: skip
    await slack.submit(view, answers, ALEX)
    slack.clock.advance(seconds=30)
    await slack.click(card, "me_too", JO)  # taken back: the 8 the reporter gave stands

    assert (_improvement(slack).me_too, _improvement(slack).people) == (1, 8)
    slack.clock.advance(seconds=1)
    await slack.click(card, "me_too", JO)  # a double click on the way out does not count them again
    assert "Taken back already" in slack.ephemerals(JO)[-1] and _improvement(slack).me_too == 1


async def test_saying_how_customers_notice_needs_the_box_ticked_when_editing(slack: SlackWorld) -> None:
    card = await slack.report(ALEX, customers_how="They get two welcome emails")
    assert "Yes: They get two welcome emails" in slack.card_now(card)
    view = await open_form(slack, card, "edit_report", ALEX)
    assert view is not None

    answers = {"problem": "Leads arrive in the CRM twice", "area": "Sales", "frequency": "weekly",
               "hours_per_week": "3", "people": "4", "customers_notice": False,
               "customers_how": "They get two welcome emails"}  # fmt: skip
    response = await slack.submit(view, answers, ALEX)

    assert "tick the box, or clear this" in response.json()["errors"]["customers_how"]
    await slack.submit(view, {**answers, "customers_how": ""}, ALEX)
    assert "Customers notice\nNo" in slack.card_now(card).replace("*", "")


async def test_reopening_a_duplicate_leaves_a_voice_given_with_the_button(slack: SlackWorld) -> None:
    original = await slack.report(ALEX)
    await slack.click(original, "me_too", JO)  # Jo's voice, given with the button
    duplicate = await slack.report(JO, "Leads are in the CRM twice")
    view = await open_form(slack, duplicate, "close", JO)
    assert view is not None
    await slack.submit(view, {"reason": "duplicate", "duplicate_of": "1"}, JO)
    await slack.click(slack.updates(duplicate.ts)[-1], "reopen", MAYA)  # the closed card's Reopen

    assert (_improvement(slack).me_too, _improvement(slack).people) == (1, 5)
