"""Teams: only signed requests get in, only approvers approve, and a tenant sees only its own improvements."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from storage.models import Improvement, TeamsReference, Workspace
from tests.support.teams_flows import report
from tests.support.teams_world import ALEX, INTAKE, MAYA, OTHER_TENANT, TEAM, TENANT, TeamsWorld


async def test_requests_without_a_valid_bot_framework_token_are_refused(teams: TeamsWorld) -> None:
    activity = teams.activity(ALEX, teams.personal(ALEX), type="message", text="improve")
    expired = teams.keys.sign(activity["serviceUrl"], exp=1_000_000_000)
    wrong_audience = teams.keys.sign(activity["serviceUrl"], aud="someone-else")
    other_service = teams.keys.sign("https://evil.example/")
    for token in (None, "Basic abc", "Bearer not-a-jwt", f"Bearer {expired}", f"Bearer {wrong_audience}",
                  f"Bearer {other_service}"):  # fmt: skip
        response = await teams.send(activity, token=token)
        assert response.status_code == 401, token
    assert not teams.connector.calls


async def test_malformed_bodies_get_a_clear_answer(teams: TeamsWorld) -> None:
    bad_json = await teams.http.post("/api/messages", content=b"{nope", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and bad_json.json() == {"error": "the body must be a JSON activity"}
    huge = await teams.http.post("/api/messages", content=b"x" * 600_000)  # over the 512 KB body limit
    assert huge.status_code == 413


async def test_another_tenant_is_turned_away_and_nothing_of_it_is_stored(teams: TeamsWorld) -> None:
    root = await report(teams)
    chain = teams.thread(root)
    await teams.say(ALEX, "Two web forms", chain)
    why2 = teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1]
    calls_before = len(teams.connector.calls)

    stranger = await teams.click(MAYA, why2, "root_cause", chain, tenant=OTHER_TENANT)
    await teams.say(ALEX, "improve", teams.personal(ALEX), tenant=OTHER_TENANT)
    await teams.say(ALEX, "a reply from elsewhere", chain, tenant=OTHER_TENANT)

    assert stranger.json()["value"] == "Sorry, this Improve bot is set up for another organization."
    assert len(teams.connector.calls) == calls_before  # nothing was sent anywhere
    with Session(teams.engine) as session:
        tenants = {w.external_id for w in session.exec(select(Workspace).where(Workspace.platform == "teams"))}
        assert session.exec(select(Improvement)).one().status == "investigating"
        stored = {r.key for r in session.exec(select(TeamsReference).where(TeamsReference.kind == "tenant"))}
    assert tenants == {TENANT} and stored == {TENANT}


async def test_in_a_channel_only_an_at_mention_is_a_command(teams: TeamsWorld) -> None:
    channel = {"id": "19:general@thread.tacv2", "conversationType": "channel", "isGroup": True}
    await teams.say(ALEX, "Improve the onboarding docs, anyone?", channel)
    assert not teams.connector.calls
    root = await report(teams)
    await teams.say(ALEX, "improve tooling never got a budget, <at>Jo</at> knows", teams.thread(root))
    why2 = teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1]
    assert "Why #2" in why2.text and "improve tooling never got a budget" in why2.text


async def test_a_connector_failure_while_opening_a_form_is_a_message_not_a_500(teams: TeamsWorld) -> None:
    root = await report(teams)
    chain = teams.thread(root)
    await teams.say(ALEX, "Two web forms", chain)
    await teams.click(ALEX, teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1], "root_cause", chain)
    chain_post = teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1]
    teams.connector.failures = [502]

    response = await teams.click(ALEX, chain_post, "propose", chain)

    assert response.status_code == 200
    assert response.json()["value"] == "Sorry, Teams did not take that just now. Please try again in a moment."


async def test_installing_the_bot_remembers_the_team_for_proactive_messages(teams: TeamsWorld) -> None:
    response = await teams.install(ALEX)
    assert response.status_code == 200
    with Session(teams.engine) as session:
        refs = {(r.kind, r.key): r for r in session.exec(select(TeamsReference))}
    tenant = refs[("tenant", TENANT)]
    assert tenant.service_url == teams.connector.url and tenant.team_id == TEAM and tenant.bot_id.startswith("28:")
    assert refs[("user", ALEX.aad)].user_id == ALEX.id


async def test_user_text_never_becomes_a_mention(teams: TeamsWorld) -> None:
    await teams.say(ALEX, "improve", teams.personal(ALEX))
    form = teams.connector.posts_to(ALEX.personal)[-1]
    from tests.support.teams_flows import REPORT

    await teams.submit(ALEX, form, {**REPORT, "problem": "<at>Maya</at> and <at>General</at> look"},
                       teams.personal(ALEX))  # fmt: skip
    [card] = teams.connector.posts_to(INTAKE)
    assert "<at>Maya</at>" not in card.text
    assert "msteams" not in card.cards[0] or all(
        e["mentioned"]["id"] != MAYA.aad for e in card.cards[0]["msteams"]["entities"]
    )


async def test_an_id_too_large_for_the_database_is_out_of_date_not_a_500(teams: TeamsWorld) -> None:
    root = await report(teams)
    huge = "9" * 40

    click = await teams.execute(MAYA, "root_cause", {"value": huge}, teams.thread(root))
    form = {"form": "decline", "context": json.dumps({"improvement": huge, "round": "1"}), "text": "No"}
    submit = await teams.execute(MAYA, "form.submit", form, teams.personal(MAYA))

    assert click.status_code == 200 and "out of date" in click.json()["value"]
    assert submit.status_code == 200 and "out of date" in json.dumps(submit.json())


async def test_installing_greets_with_the_help_and_another_tenant_is_told_plainly(teams: TeamsWorld) -> None:
    for person, tenant in ((ALEX, TENANT), (MAYA, OTHER_TENANT)):
        installed = teams.activity(person, teams.personal(person), tenant=tenant, type="installationUpdate",
                                   action="add")  # fmt: skip
        assert (await teams.send(installed)).status_code == 200

    [greeting] = teams.connector.posts_to(ALEX.personal)
    assert "Hi! I'm Improve." in greeting.text and "**improve checkins**" in greeting.text
    [refusal] = teams.connector.posts_to(MAYA.personal)
    assert refusal.text.strip() == "Sorry, this Improve bot is set up for another organization."
    with Session(teams.engine) as session:
        assert {w.external_id for w in session.exec(select(Workspace))} == {TENANT}


async def test_a_failure_in_a_card_action_is_still_answered(teams: TeamsWorld, monkeypatch) -> None:
    async def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(teams.bot.service, "click", broken)
    response = await teams.execute(ALEX, "root_cause", {"value": "1"}, teams.personal(ALEX))

    assert response.status_code == 200
    assert response.json()["value"] == "Sorry, something went wrong on my side. Please try again in a moment."
