"""Teams: only signed requests get in, only approvers approve, and a tenant sees only its own improvements."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import Improvement, TeamsReference, Workspace
from tests.support.teams_world import ALEX, INTAKE, MAYA, OTHER_TENANT, TEAM, TENANT, TeamsWorld
from tests.test_teams_lifecycle import report


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
    huge = await teams.http.post("/api/messages", content=b"x" * 300_000)
    assert huge.status_code == 413


async def test_another_tenant_cannot_reach_an_improvement(teams: TeamsWorld) -> None:
    root = await report(teams)
    chain = teams.thread(root)
    await teams.say(ALEX, "Two web forms", chain)
    why2 = teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1]

    stranger = await teams.click(MAYA, why2, "root_cause", chain, tenant=OTHER_TENANT)

    assert "can't find that improvement" in stranger.json()["value"]
    with Session(teams.engine) as session:
        tenants = {w.external_id for w in session.exec(select(Workspace).where(Workspace.platform == "teams"))}
        assert session.exec(select(Improvement)).one().status == "investigating"
    assert tenants == {TENANT, OTHER_TENANT}


async def test_a_reply_in_another_tenants_thread_is_not_an_answer(teams: TeamsWorld) -> None:
    root = await report(teams)
    await teams.say(ALEX, "Two web forms", teams.thread(root), tenant=OTHER_TENANT)
    assert len(teams.connector.posts_to(f"{INTAKE};messageid={root}")) == 1


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
    from tests.test_teams_lifecycle import REPORT

    await teams.submit(ALEX, form, {**REPORT, "problem": "<at>Maya</at> and <at>General</at> look"},
                       teams.personal(ALEX))  # fmt: skip
    [card] = teams.connector.posts_to(INTAKE)
    assert "<at>Maya</at>" not in card.text
    assert "msteams" not in card.cards[0] or all(
        e["mentioned"]["id"] != MAYA.aad for e in card.cards[0]["msteams"]["entities"]
    )
