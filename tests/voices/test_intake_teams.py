"""Similar reports at intake on Teams: the submitted form card becomes the offer (the invoke's answer), and both
choices work from it."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, func, select

from storage.models import Improvement
from tests.support.teams_flows import REPORT, report
from tests.support.teams_world import INTAKE, JO, TeamsWorld, card_inputs

LIKE_IT = {**REPORT, "problem": "Leads come into the CRM twice", "idea": "One web form"}


def _improvements(teams: TeamsWorld) -> list[Improvement]:
    with Session(teams.engine) as session:
        return list(session.exec(select(Improvement).order_by(Improvement.number)))


async def _offer(teams: TeamsWorld) -> dict[str, Any]:
    await teams.say(JO, "improve", teams.personal(JO))
    form = teams.connector.posts_to(JO.personal)[-1]
    response = await teams.submit(JO, form, LIKE_IT, teams.personal(JO))
    answer = response.json()
    assert answer["type"] == "application/vnd.microsoft.card.adaptive", answer
    return answer["value"]


async def test_the_offer_and_adding_a_voice(teams: TeamsWorld) -> None:
    root = await report(teams)  # Alex's #1
    offer = await _offer(teams)

    choice = next(b for b in offer["body"] if b.get("id") == "similar")
    assert [c["title"] for c in choice["choices"]] == ["Add my voice to #1 “Leads arrive in the CRM twice”",
                                                       "No, report it as new"]  # fmt: skip
    assert card_inputs(offer)["problem"] == "Leads come into the CRM twice" and len(_improvements(teams)) == 1
    first = _improvements(teams)[0]

    response = await teams.submit(JO, offer, {**card_inputs(offer), "similar": str(first.id)}, teams.personal(JO))

    assert "Counted: 1 person says this bites them too" in str(response.json()["value"])
    await teams.bot.service.deliver()
    assert len(_improvements(teams)) == 1 and _improvements(teams)[0].me_too == 1
    said = teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1].text
    assert "Jo" in said and "says this bites them too" in said and "Their idea: One web form" in said
    assert "1 person says this bites them too" in teams.connector.updates_of(root)[-1].text


async def test_report_it_as_new(teams: TeamsWorld) -> None:
    await report(teams)
    offer = await _offer(teams)

    response = await teams.submit(JO, offer, {**card_inputs(offer), "similar": "new"}, teams.personal(JO))

    assert "Sent" in str(response.json()["value"])
    with Session(teams.engine) as session:
        assert session.exec(select(func.count()).select_from(Improvement)).one() == 2
    await teams.bot.service.deliver()
    assert "Leads come into the CRM twice" in teams.connector.posts_to(INTAKE)[-1].text


async def test_an_offer_answered_without_a_choice_asks_for_one(teams: TeamsWorld) -> None:
    await report(teams)
    offer = await _offer(teams)

    response = await teams.submit(JO, offer, card_inputs(offer), teams.personal(JO))  # no choice made

    assert "This is required." in str(response.json()["value"]) and len(_improvements(teams)) == 1
