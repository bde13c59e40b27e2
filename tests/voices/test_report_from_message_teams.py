"""Report from any message on Teams: the message extension's action command ("Report a broken process" in a
message's … menu) opens the report form in a dialog, prefilled with the message's text; submitting it saves the
report crediting the message's author with a link to it; field errors and the similar-report offer stay in the
dialog."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, select

from storage.models import Improvement
from tests.support.teams_flows import REPORT, report
from tests.support.teams_world import ALEX, INTAKE, JO, Person, TeamsWorld

LINK = "https://teams.microsoft.com/l/message/19:general@thread.tacv2/1800000000001?groupId=g&tenantId=t"
CHANNEL = {"id": "19:general@thread.tacv2;messageid=1800000000001", "conversationType": "channel", "isGroup": True}


def _payload(html: str, author: str = JO.aad) -> dict[str, Any]:
    return {"id": "1800000000001", "messageType": "message", "createdDateTime": "2026-11-23T08:59:00.000Z",
            "importance": "normal", "locale": "en-us", "linkToMessage": LINK,
            "from": {"user": {"id": author, "displayName": "Jo", "userIdentityType": "aadUser"}},
            "body": {"contentType": "html", "content": html}, "attachments": [], "mentions": [],
            "reactions": []}  # fmt: skip


async def _invoke(teams: TeamsWorld, name: str, value: dict[str, Any], person: Person = ALEX) -> dict[str, Any]:
    activity = teams.activity(person, CHANNEL, type="invoke", name=name, value=value)
    response = await teams.send(activity)
    assert response.status_code == 200, response.text
    return response.json()


async def _open(teams: TeamsWorld, html: str, person: Person = ALEX, command: str = "reportMessage") -> dict[str, Any]:
    value = {"commandId": command, "commandContext": "message", "context": {"theme": "default"},
             "messagePayload": _payload(html)}  # fmt: skip
    return await _invoke(teams, "composeExtension/fetchTask", value, person)


async def _submit(
    teams: TeamsWorld, dialog: dict[str, Any], answers: dict[str, Any], person: Person = ALEX
) -> dict[str, Any]:
    card = dialog["task"]["value"]["card"]["content"]
    [submit] = card["actions"]
    assert submit["type"] == "Action.Submit"  # a dialog's card submits with Action.Submit
    value = {"commandId": "reportMessage", "commandContext": "message", "data": {**submit["data"], **answers},
             "messagePayload": _payload("")}  # fmt: skip
    return await _invoke(teams, "composeExtension/submitAction", value, person)


def _improvements(teams: TeamsWorld) -> list[Improvement]:
    with Session(teams.engine) as session:
        return list(session.exec(select(Improvement).order_by(Improvement.number)))


async def test_the_message_action_opens_the_form_prefilled_and_saves_with_the_author(teams: TeamsWorld) -> None:
    dialog = await _open(teams, "<p>Ugh, webinar signups reach the CRM <b>twice</b> &amp; nobody knows why</p>")

    assert dialog["task"]["type"] == "continue"
    card = dialog["task"]["value"]["card"]["content"]
    problem = next(b for b in card["body"] if b.get("id") == "problem")
    assert problem["value"] == "Ugh, webinar signups reach the CRM twice & nobody knows why"

    answered = await _submit(teams, dialog, {**REPORT, "problem": problem["value"]})

    assert answered["task"]["type"] == "message" and "Sent" in answered["task"]["value"]
    [improvement] = _improvements(teams)
    assert (improvement.reporter_id, improvement.raised_by, improvement.source_link) == (ALEX.aad, JO.aad, LINK)
    await teams.bot.service.deliver()
    posted = teams.connector.posts_to(INTAKE)[-1]
    assert "Raised by" in posted.text and "Jo" in posted.text and LINK in str(posted.cards)


async def test_errors_and_the_offer_stay_in_the_dialog(teams: TeamsWorld) -> None:
    await report(teams)  # Alex's #1 "Leads arrive in the CRM twice"
    dialog = await _open(teams, "Leads come into the CRM twice", JO)

    short = await _submit(teams, dialog, {**REPORT, "problem": "x"}, JO)
    assert short["task"]["type"] == "continue" and "Say a little more" in str(short["task"]["value"]["card"])

    offer = await _submit(teams, dialog, {**REPORT, "problem": "Leads come into the CRM twice"}, JO)
    card = offer["task"]["value"]["card"]["content"]
    assert any(b.get("id") == "similar" for b in card["body"]) and len(_improvements(teams)) == 1
    inputs = {b["id"]: b["value"] for b in card["body"] if b.get("type", "").startswith("Input.") and "value" in b}
    joined = await _submit(teams, offer, {**inputs, "similar": str(_improvements(teams)[0].id)}, JO)
    assert "Counted: 1 person says this bites them too" in joined["task"]["value"]
    assert len(_improvements(teams)) == 1 and _improvements(teams)[0].me_too == 1


async def test_an_unknown_command_or_an_empty_message_gets_a_clear_answer(teams: TeamsWorld) -> None:
    other = await _open(teams, "x", command="somethingElse")
    assert other["task"] == {"type": "message", "value": "That action is out of date."}
    empty = await _open(teams, "")
    problem = next(b for b in empty["task"]["value"]["card"]["content"]["body"] if b.get("id") == "problem")
    assert "value" not in problem


async def test_a_forged_link_in_a_form_card_is_not_kept_and_a_chat_credits_nobody(teams: TeamsWorld) -> None:
    chat = {"id": "19:chat@unq.gbl.spaces", "conversationType": "groupChat"}
    value = {"commandId": "reportMessage", "commandContext": "message", "messagePayload": _payload("CRM twice")}
    dialog = (await teams.send(teams.activity(ALEX, chat, type="invoke", name="composeExtension/fetchTask",
                                              value=value))).json()  # fmt: skip
    card = dialog["task"]["value"]["card"]["content"]
    data = card["actions"][0]["data"]
    assert "raised_by" not in data["context"]  # a group chat's author is not named on a public card
    forged = {**data, "context": json.dumps({**json.loads(data["context"]), "raised_by": JO.aad,
                                             "source_link": "https://evil.example/login"})}  # fmt: skip
    value = {"commandId": "reportMessage", "commandContext": "message", "messagePayload": _payload(""),
             "data": {**forged, **REPORT, "problem": "Webinar signups reach the CRM twice"}}  # fmt: skip
    await teams.send(teams.activity(ALEX, chat, type="invoke", name="composeExtension/submitAction", value=value))

    [improvement] = _improvements(teams)
    assert improvement.source_link is None  # only a link to a Teams or Slack message is kept
