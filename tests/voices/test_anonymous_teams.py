"""Anonymous reports on Teams (issue 12, #1): the card and the thread name nobody (every call to the connector
outside the reporter's own 1:1 chat is scanned for their ids and name); the 5 Whys run in that 1:1 chat and are
passed on to the reply chain as "the reporter"; a question from an approver reaches them there; revealing is a
click and a confirmation."""

from __future__ import annotations

import json
import logging

import pytest
from sqlmodel import Session, select

from storage.models import Improvement
from tests.support.scan import columns_holding
from tests.support.teams_flows import REPORT
from tests.support.teams_world import ALEX, INTAKE, JO, TeamsWorld, find_action


def _leaks(teams: TeamsWorld) -> list[str]:
    """Connector calls outside Alex's 1:1 chat that carry Alex's ids or name."""
    return [
        call.conversation
        for call in teams.connector.calls
        if call.conversation != ALEX.personal
        and any(mark in json.dumps(call.body) for mark in (ALEX.aad, ALEX.id, ALEX.name))
    ]


def _improvement(teams: TeamsWorld) -> Improvement:
    with Session(teams.engine) as session:
        return session.exec(select(Improvement)).one()


async def _report(teams: TeamsWorld) -> str:
    await teams.say(ALEX, "improve", teams.personal(ALEX))
    form = teams.connector.posts_to(ALEX.personal)[-1]
    response = await teams.submit(ALEX, form, {**REPORT, "anonymous": "true"}, teams.personal(ALEX))
    assert response.status_code == 200, response.text
    [card] = teams.connector.posts_to(INTAKE)
    return card.response["id"]


async def test_an_anonymous_report_on_teams_names_nobody_and_its_whys_run_in_the_1_1_chat(
    teams: TeamsWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    root = await _report(teams)
    card = teams.connector.posts_to(INTAKE)[0]
    assert "a teammate" in card.text
    chain = f"{INTAKE};messageid={root}"
    assert "The reporter answers in private" in teams.connector.posts_to(chain)[-1].text
    private = [c.text for c in teams.connector.posts_to(ALEX.personal)]
    assert any("You reported #1 anonymously" in t for t in private) and any("#1 · Why #1" in t for t in private)

    await teams.say(ALEX, "Because the web form and the import both create leads", teams.personal(ALEX))
    passed, question = teams.connector.posts_to(chain)[-2:]
    assert "The reporter answered Why #1" in passed.text and "both create leads" in passed.text
    assert "Why #2" in question.text
    why_2 = next(c for c in reversed(teams.connector.posts_to(ALEX.personal)) if "#1 · Why #2" in c.text)
    await teams.click(ALEX, why_2, "root_cause", teams.personal(ALEX))
    assert _improvement(teams).status == "root_cause_found"

    # after the 5 Whys, what the reporter writes in private is passed on to the chain
    await teams.say(ALEX, "It started when the webinar tool was added", teams.personal(ALEX))
    assert "The reporter says" in teams.connector.posts_to(chain)[-1].text
    assert "Passed on to #1" in teams.connector.posts_to(ALEX.personal)[-1].text

    assert _leaks(teams) == []
    # teams_reference is left out: it knows Alex uses the bot (to reach them in their 1:1 chat), not what they reported
    assert columns_holding(teams.engine, ALEX.aad, ALEX.id, leave_out=frozenset({"teams_reference"})) == []
    marks = (ALEX.aad, ALEX.id, ALEX.personal)
    assert [r.getMessage() for r in caplog.records if any(m in r.getMessage() for m in marks)] == []


async def test_revealing_on_teams_takes_a_confirmation(teams: TeamsWorld) -> None:
    root = await _report(teams)
    welcome = next(c for c in teams.connector.posts_to(ALEX.personal) if "You reported #1 anonymously" in c.text)

    refused = await teams.click(JO, welcome, "reveal", teams.personal(JO))
    assert "Only its reporter can reveal" in json.dumps(refused.json())
    asked = await teams.click(ALEX, welcome, "reveal", teams.personal(ALEX))
    confirm = asked.json()["value"]
    assert "Show your name on #1" in json.dumps(confirm) and _improvement(teams).anonymous
    data = find_action(confirm, "reveal_confirmed")["data"]
    done = await teams.execute(ALEX, "reveal_confirmed", data, teams.personal(ALEX))
    assert "names you as its reporter now" in json.dumps(done.json())

    improvement = _improvement(teams)
    assert (improvement.anonymous, improvement.reporter_id, improvement.owner_id) == (False, ALEX.aad, ALEX.aad)
    await teams.bot.service.deliver()
    assert (
        "reported #1 and now puts their name to it" in teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1].text
    )


async def test_a_report_form_in_a_channel_cannot_be_anonymous(teams: TeamsWorld) -> None:
    channel = {"id": INTAKE, "conversationType": "channel", "isGroup": True}
    await teams.say(ALEX, "improve Leads arrive twice", channel, mention=True)
    form = teams.connector.posts_to(INTAKE)[-1].cards[-1]
    assert "anonymous" not in [b.get("id") for b in form["body"]]
    assert "To report anonymously" in json.dumps(form)
