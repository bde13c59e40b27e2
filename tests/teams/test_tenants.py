"""Teams, many organisations (issue 13, #3): each tenant the app is installed in is its own workspace with its own
numbering and settings; TEAMS_TENANT_ID is an allow-list; a new organisation's installer becomes its admin, who
picks its channels in `improve settings` (until then a report is refused, its text handed back); removing the
app from the organisation's last team forgets its teams and channels and starts the retention clock, after which
its data is erased and the other organisation's is untouched; anyone still using the app there stops the clock."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.improvements.report import NO_INTAKE
from storage.models import Improvement, TeamsReference, Workspace
from tests.support.teams_flows import REPORT, report
from tests.support.teams_world import (
    ALEX,
    INTAKE,
    MAYA,
    OTHER_TENANT,
    TENANT,
    Person,
    TeamsWorld,
    card_inputs,
    teams_settings,
)

OLGA = Person("Olga", "bbbbbbbb-0000-0000-0000-000000000001")  # works in the other organisation
THIRD = "0e0e0e0e-5555-6666-7777-888888888888"
OTHER_INTAKE = "19:otherintake@thread.tacv2"
OTHER_TEAM = "19:otherteam@thread.tacv2"


@pytest.fixture
async def two(db, clock, connector, teams_keys):
    connector.roster = {p.aad: {"id": p.id, "name": p.name} for p in (ALEX, MAYA, OLGA)}
    settings = teams_settings(teams_keys, TEAMS_TENANT_ID=f"{TENANT},{OTHER_TENANT}")
    world = TeamsWorld(settings, engine=db, clock=clock, connector=connector, keys=teams_keys)
    yield world
    await world.close()


def _team_activity(world: TeamsWorld, person: Person, kind: str, **fields) -> dict:
    conversation = {"id": OTHER_TEAM, "conversationType": "channel", "isGroup": True}
    team = {"team": {"id": OTHER_TEAM, "name": "Marketing"}, "channel": {"id": OTHER_INTAKE}}
    return world.activity(person, conversation, tenant=OTHER_TENANT, type=kind, channel_data=team, **fields)


async def _olga_sets_up_her_organisation(world: TeamsWorld) -> None:
    installed = await world.send(_team_activity(world, OLGA, "installationUpdate", action="add"))
    assert installed.status_code == 200
    await world.say(OLGA, "improve settings", world.personal(OLGA), tenant=OTHER_TENANT)
    form = world.connector.posts_to(OLGA.personal)[-1]
    answers = {**card_inputs(form.cards[-1]), "intake_channel": OTHER_INTAKE, "approvers": OLGA.aad}
    saved = await world.submit(OLGA, form, answers, world.personal(OLGA), tenant=OTHER_TENANT)
    assert saved.status_code == 200, saved.text


def _workspaces(world: TeamsWorld) -> dict[str, Workspace]:
    with Session(world.engine) as session:
        return {w.external_id: w for w in session.exec(select(Workspace)).all()}


def _numbers(world: TeamsWorld) -> dict[str, list[int]]:
    with Session(world.engine) as session:
        rows = session.exec(select(Improvement, Workspace).join(Workspace)).all()
        return {w.external_id: sorted(i.number for i, ws in rows if ws.id == w.id) for _, w in rows}


async def test_two_organisations_side_by_side_each_with_its_settings_and_numbering(two: TeamsWorld) -> None:
    await report(two)  # Alex, in the organisation the configuration is for
    installed = await two.send(_team_activity(two, OLGA, "installationUpdate", action="add"))
    assert installed.status_code == 200
    greeting = two.connector.posts_to(OTHER_TEAM)[-1].text
    assert "you are this organization's Improve admin" in greeting

    await two.say(OLGA, "improve Briefs wait for legal", two.personal(OLGA), tenant=OTHER_TENANT)
    form = two.connector.posts_to(OLGA.personal)[-1]
    refused = await two.submit(
        OLGA, form, {**REPORT, "problem": "Briefs wait a week for legal"}, two.personal(OLGA), tenant=OTHER_TENANT
    )
    assert NO_INTAKE in refused.text and "Briefs wait a week for legal" in refused.text
    assert _numbers(two) == {TENANT: [1]}

    await _olga_sets_up_her_organisation(two)
    await two.say(OLGA, "improve Briefs wait for legal", two.personal(OLGA), tenant=OTHER_TENANT)
    form = two.connector.posts_to(OLGA.personal)[-1]
    sent = await two.submit(
        OLGA, form, {**REPORT, "problem": "Briefs wait a week for legal"}, two.personal(OLGA), tenant=OTHER_TENANT
    )
    assert sent.status_code == 200

    assert _numbers(two) == {TENANT: [1], OTHER_TENANT: [1]}
    [card] = [call for call in two.connector.posts_to(OTHER_INTAKE) if call.text.strip().startswith("#1")]
    assert "Briefs wait a week for legal" in card.text
    assert not any("Briefs" in call.text for call in two.connector.posts_to(INTAKE))
    spaces = _workspaces(two)
    assert spaces[TENANT].settings["intake_channel"] == INTAKE
    assert spaces[OTHER_TENANT].settings["approvers"] == [OLGA.aad]
    assert spaces[OTHER_TENANT].settings["fallback_approvers"] == [OLGA.aad]

    two.bot.refresh_settings()  # a restart: the configuration is the first organisation's, never the other's
    assert _workspaces(two)[OTHER_TENANT].settings["intake_channel"] == OTHER_INTAKE


async def test_an_organisation_not_on_the_allow_list_is_refused_and_creates_nothing(two: TeamsWorld) -> None:
    stranger = Person("Sam", "cccccccc-0000-0000-0000-000000000001")
    await two.say(stranger, "improve", two.personal(stranger), tenant=THIRD)
    clicked = await two.execute(stranger, "root_cause", {"value": "1"}, two.personal(stranger), tenant=THIRD)
    assert clicked.json()["value"] == "Sorry, this Improve bot is set up for another organization."
    assert two.connector.calls == [] and _workspaces(two) == {}


async def test_removing_the_app_from_the_last_team_starts_the_retention_clock(two: TeamsWorld) -> None:
    await report(two)
    await _olga_sets_up_her_organisation(two)
    await two.say(OLGA, "improve Briefs wait for legal", two.personal(OLGA), tenant=OTHER_TENANT)
    form = two.connector.posts_to(OLGA.personal)[-1]
    await two.submit(
        OLGA, form, {**REPORT, "problem": "Briefs wait a week for legal"}, two.personal(OLGA), tenant=OTHER_TENANT
    )

    removed = await two.send(_team_activity(two, OLGA, "installationUpdate", action="remove"))
    assert removed.status_code == 200
    other = _workspaces(two)[OTHER_TENANT]
    assert other.uninstalled_at is not None
    with Session(two.engine) as session:
        left = session.exec(select(TeamsReference).where(TeamsReference.workspace_id == other.id)).all()
    assert {ref.kind for ref in left} == {"user"}  # its teams and channels are forgotten; people keep their chat

    two.clock.advance(days=31)
    await two.bot.ticker.tick()
    assert _numbers(two) == {TENANT: [1]} and set(_workspaces(two)) == {TENANT}


async def test_a_person_still_using_the_app_stops_the_clock_and_a_group_chat_removal_starts_none(two) -> None:
    await _olga_sets_up_her_organisation(two)
    group = {"id": "19:groupchat@unq.gbl.spaces", "conversationType": "groupChat", "isGroup": True}
    left_group = two.activity(OLGA, group, tenant=OTHER_TENANT, type="installationUpdate", action="remove")
    assert (await two.send(left_group)).status_code == 200
    assert _workspaces(two)[OTHER_TENANT].uninstalled_at is None

    await two.send(_team_activity(two, OLGA, "installationUpdate", action="remove"))
    assert _workspaces(two)[OTHER_TENANT].uninstalled_at is not None
    await two.say(OLGA, "improve help", two.personal(OLGA), tenant=OTHER_TENANT)  # her 1:1 chat still has it
    assert _workspaces(two)[OTHER_TENANT].uninstalled_at is None
    two.clock.advance(days=40)
    await two.bot.ticker.tick()
    assert OTHER_TENANT in _workspaces(two)


async def test_without_an_allow_list_any_organisation_is_served_from_blank_settings(db, clock, connector, teams_keys):
    settings = teams_settings(teams_keys, TEAMS_TENANT_ID="")
    world = TeamsWorld(settings, engine=db, clock=clock, connector=connector, keys=teams_keys)
    try:
        installed = await world.send(_team_activity(world, OLGA, "installationUpdate", action="add"))
        assert installed.status_code == 200
        assert _workspaces(world)[OTHER_TENANT].settings["fallback_approvers"] == [OLGA.aad]
    finally:
        await world.close()
