"""Me too on Teams: the card's button (Action.Execute) counts each person once, answers them privately, and the
card in the channel follows."""

from __future__ import annotations

from tests.support.teams_flows import report
from tests.support.teams_world import ALEX, INTAKE, JO, MAYA, TeamsWorld


async def test_me_too_from_the_card_in_the_channel(teams: TeamsWorld) -> None:
    root = await report(teams)  # 3 h/week × 4 people
    card = teams.connector.posts_to(INTAKE)[0]

    jo = await teams.click(JO, card, "me_too", teams.thread(root))
    maya = await teams.click(MAYA, card, "me_too", teams.thread(root))

    assert "Counted: 1 person says this bites them too" in jo.json()["value"]
    assert "Counted: 2 people say this bites them too" in maya.json()["value"]
    await teams.bot.service.deliver()
    now = teams.connector.updates_of(root)[-1].text
    assert "2 people say this bites them too" in now and "3 h/week × 6 people" in now
    mine = await teams.click(ALEX, card, "me_too", teams.thread(root))
    assert "you count already" in mine.json()["value"]
