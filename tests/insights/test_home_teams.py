"""`improve home` on Teams: the home view as an Adaptive Card whose refresh (Universal Actions) shows each person
their own; its buttons work from the card and answer with the view as it is now; the team chart is served by the
bot's own server."""

from __future__ import annotations

import json

from tests.support.teams_flows import to_approval
from tests.support.teams_world import ALEX, MAYA, TeamsWorld


def _card_text(card: dict) -> str:
    return json.dumps(card, ensure_ascii=False)


async def test_improve_home_is_a_card_that_refreshes_for_its_viewer(teams: TeamsWorld) -> None:
    await to_approval(teams)

    await teams.say(MAYA, "improve home", teams.personal(MAYA))

    card = teams.connector.posts_to(MAYA.personal)[-1].cards[0]
    assert card["refresh"]["action"]["verb"] == "home" and card["refresh"]["userIds"] == [MAYA.id]
    text = _card_text(card)
    assert "Waiting on you" in text and "Decide the fix of" in text and "Leads arrive in the CRM twice" in text
    approve = next(a for b in card["body"] if b["type"] == "ActionSet" for a in b["actions"] if a["verb"] == "approve")
    assert approve["data"]["view"] == "home"

    # Teams asks for the card again (automatic refresh) as each person sees it: each gets their own
    response = await teams.execute(ALEX, "home", {}, teams.personal(ALEX))
    alex_card = response.json()["value"]
    assert "Nothing waits on you right now" in _card_text(alex_card)
    assert alex_card["refresh"]["userIds"] == [ALEX.id]


async def test_approving_from_the_home_card_answers_with_the_view_as_it_is_now(teams: TeamsWorld) -> None:
    root = await to_approval(teams)
    await teams.say(MAYA, "improve home", teams.personal(MAYA))
    home = teams.connector.posts_to(MAYA.personal)[-1]

    response = await teams.click(MAYA, home, "approve", teams.personal(MAYA))

    after = response.json()["value"]
    assert "Nothing waits on you right now" in _card_text(after)
    assert "1 fix approved" in _card_text(after)
    card_updates = teams.connector.updates_of(root)
    assert card_updates and "Approved" in card_updates[-1].text  # the thread's card followed


async def test_the_team_chart_is_served_by_the_bots_own_server(teams: TeamsWorld) -> None:
    await to_approval(teams)

    await teams.say(ALEX, "improve home", teams.personal(ALEX))

    card = teams.connector.posts_to(ALEX.personal)[-1].cards[0]
    [image] = [b for b in card["body"] if b["type"] == "Image"]
    assert image["url"].startswith("https://bot.example.com/charts/") and image["altText"]
    served = await teams.http.get(image["url"].removeprefix("https://bot.example.com"))
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert served.content.startswith(b"\x89PNG")
    assert (await teams.http.get("/charts/not-a-token")).status_code == 404
    assert (await teams.http.get("/charts/" + "A" * 43)).status_code == 404


async def test_improve_home_in_a_channel_goes_to_the_persons_own_chat(teams: TeamsWorld) -> None:
    await to_approval(teams)
    channel = {"id": "19:general@thread.tacv2", "conversationType": "channel", "isGroup": True}

    await teams.say(MAYA, "improve home", channel, mention=True)

    [said] = teams.connector.posts_to(channel["id"])
    assert "sent it to our 1:1 chat" in said.text and not said.cards  # nothing of Maya's home in the channel
    assert "Decide the fix of" in _card_text(teams.connector.posts_to(MAYA.personal)[-1].cards[0])


async def test_declining_from_the_home_card_keeps_the_home_and_sends_the_form_below(teams: TeamsWorld) -> None:
    root = await to_approval(teams)
    await teams.say(MAYA, "improve home", teams.personal(MAYA))
    home = teams.connector.posts_to(MAYA.personal)[-1]

    response = await teams.click(MAYA, home, "decline", teams.personal(MAYA))

    answered = response.json()["value"]
    assert answered["refresh"]["action"]["verb"] == "home"  # the card stays the home, not the form
    assert "The form is below" in _card_text(answered) and "Decide the fix of" in _card_text(answered)
    form = teams.connector.posts_to(MAYA.personal)[-1]
    assert form is not home and form.cards[0]["actions"][0]["data"]["form"] == "decline"
    field = next(b["id"] for b in form.cards[0]["body"] if b["type"] == "Input.Text")

    await teams.submit(MAYA, form, {field: "Not this quarter"}, teams.personal(MAYA))

    assert "Declined" in teams.connector.updates_of(root)[-1].text
    refreshed = await teams.execute(MAYA, "home", {}, teams.personal(MAYA))
    assert "Nothing waits on you right now" in _card_text(refreshed.json()["value"])
