"""Settings in chat on Teams (issue 13, #2): the tenant's configured admins (TEAMS_FALLBACK_APPROVERS) open them
in their 1:1 chat; the approvers are the people picker, several at once; a channel id that cannot be one is said
on the field; others are refused."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from storage.models import Workspace
from tests.support.teams_world import JO, MAYA, TeamsWorld, card_inputs, teams_settings


@pytest.fixture
async def tenant(db, clock, connector, teams_keys):
    connector.roster = {p.aad: {"id": p.id, "name": p.name} for p in (MAYA, JO)}
    world = TeamsWorld(teams_settings(teams_keys, TEAMS_FALLBACK_APPROVERS=MAYA.aad), engine=db, clock=clock,
                       connector=connector, keys=teams_keys)  # fmt: skip
    yield world
    await world.close()


async def test_the_tenants_admin_changes_the_settings_in_the_1_1_chat(tenant: TeamsWorld) -> None:
    await tenant.say(JO, "improve settings", tenant.personal(JO))
    assert "Only the workspace's admins" in tenant.connector.posts_to(JO.personal)[-1].text

    await tenant.say(MAYA, "improve settings", tenant.personal(MAYA))
    form = tenant.connector.posts_to(MAYA.personal)[-1]
    inputs = {b["id"]: b for b in form.cards[-1]["body"] if b.get("type", "").startswith("Input.")}
    assert inputs["approvers"]["isMultiSelect"] and inputs["approvers"]["value"] == MAYA.aad

    bad = await tenant.submit(MAYA, form, {**card_inputs(form.cards[-1]), "intake_channel": "general"},
                              tenant.personal(MAYA))  # fmt: skip
    assert "A Teams channel id looks like" in json.dumps(bad.json(), ensure_ascii=False)
    mine = await tenant.submit(MAYA, form, {**card_inputs(form.cards[-1]), "fallback_approvers": JO.aad},
                               tenant.personal(MAYA))  # fmt: skip
    assert "Keep yourself among the fallback approvers" in json.dumps(mine.json(), ensure_ascii=False)
    answers = {
        **card_inputs(form.cards[-1]),
        "approvers": f"{MAYA.aad},{JO.aad.upper()}",
        "digest_at": "Thursday 15:30",
    }
    response = await tenant.submit(MAYA, form, answers, tenant.personal(MAYA))
    assert response.status_code == 200
    with Session(tenant.engine) as session:
        saved = session.exec(select(Workspace)).one()
    assert saved.settings["approvers"] == [MAYA.aad, JO.aad] and saved.settings["digest_at"] == "thu 15:30"
    assert saved.settings_saved_at is not None
