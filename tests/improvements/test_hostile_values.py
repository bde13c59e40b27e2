"""Hostile values in what people type: control characters never reach the database or the card, and a form
field that names a person takes only what the platform's people picker could have given."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from storage.models import Improvement, Why
from tests.conftest import ALEX
from tests.console.test_console import run
from tests.support.slack_flows import PROPOSAL, to_root_cause
from tests.support.teams_flows import PROPOSAL as TEAMS_PROPOSAL
from tests.support.teams_flows import report
from tests.support.teams_world import ALEX as TEAMS_ALEX
from tests.support.teams_world import INTAKE, TeamsWorld
from tests.support.world import SlackWorld


async def test_control_characters_are_dropped_from_reports_and_answers(slack: SlackWorld) -> None:
    card = await slack.report(ALEX, "Leads\x00 arrive\x1b[31m twice")
    await slack.reply(card.ts, "Two\x00 web forms", ALEX)

    with Session(slack.engine) as session:
        assert session.exec(select(Improvement.problem)).one() == "Leads arrive[31m twice"
        assert session.exec(select(Why.answer).where(Why.position == 1)).one() == "Two web forms"
    assert "\x00" not in card.text_of_blocks and "\x1b" not in card.text_of_blocks


async def test_a_group_named_as_the_owner_is_not_a_person(slack: SlackWorld) -> None:
    card, chain = await to_root_cause(slack)
    response = await slack.click_and_submit(chain, "propose", ALEX, {**PROPOSAL, "owner": "S0LEADS"})

    assert response.json() == {"response_action": "errors", "errors": {"owner": "Pick a person."}}
    assert "<!subteam" not in " ".join(c.text_of_blocks for c in slack.thread(card))


async def test_teams_takes_only_azure_ad_ids_for_a_person(teams: TeamsWorld) -> None:
    root = await report(teams)
    chain = teams.thread(root)
    await teams.say(TEAMS_ALEX, "Two web forms", chain)
    await teams.click(TEAMS_ALEX, teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1], "root_cause", chain)
    await teams.click(TEAMS_ALEX, teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1], "propose", chain)
    form = teams.connector.posts_to(TEAMS_ALEX.personal)[-1]

    response = await teams.submit(TEAMS_ALEX, form, {**TEAMS_PROPOSAL, "owner": "S0LEADS"}, teams.personal(TEAMS_ALEX))

    card = response.json()["value"]
    assert "Pick a person." in json.dumps(card)
    with Session(teams.engine) as session:
        assert session.exec(select(Improvement.status)).one() == "root_cause_found"


async def test_the_console_takes_any_number_without_a_trace(db, clock) -> None:
    terminal = await run(db, clock, [":thread 9" + "9" * 40, ":thread #-1", ":click 99999999999999999999"])
    assert terminal.screen.count("There is no improvement") == 2
    assert "No live button" in terminal.screen
