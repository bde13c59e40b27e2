"""Nobody decides their own, and somebody always can (issue 10, #1 and #2): who an approval request asks, on
Slack (signed requests, a Web API stand-in with users.list and chat.getPermalink) and Teams (signed activities)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.core.clock import FakeClock
from bot.improvements.interactions import CANNOT_ASK, NOBODY_TO_ASK
from storage.models import Decision, Improvement
from tests.conftest import ALEX, MAYA, SAM, make_settings
from tests.support.slack_api import Call, SlackApiStub
from tests.support.slack_flows import PROPOSAL
from tests.support.world import SlackWorld, has_button

OWNER = "U0OWNER"  # the workspace's owner


def permalink(card: Call) -> str:
    return f"https://acme.slack.com/archives/{card['channel']}/p{card.ts.replace('.', '')}"


async def root_cause_by(slack: SlackWorld, user: str) -> tuple[Call, Call]:
    card = await slack.report(user, hours_per_week=2, people=10)
    await slack.reply(card.ts, "Two web forms", user)
    await slack.click(slack.thread(card)[-1], "root_cause", user)
    return card, slack.thread(card)[-1]


async def propose(slack: SlackWorld, chain: Call, user: str) -> Any:
    before = len(slack.stub.of("views.open"))
    await slack.click(chain, "propose", user)
    view = slack.stub.of("views.open")[before]["view"]
    return view, await slack.submit(view, PROPOSAL, user)


def proposals(db: Engine) -> list[Decision]:
    with Session(db) as session:
        return list(session.exec(select(Decision).where(Decision.kind == "proposed")).all())


async def world(db: Engine, clock: FakeClock, stub: SlackApiStub, **settings: str) -> SlackWorld:
    return SlackWorld.build(make_settings(stub, **settings), engine=db, clock=clock, stub=stub)


async def test_each_approver_asked_gets_one_dm_linking_to_the_thread(slack: SlackWorld) -> None:
    card, chain = await root_cause_by(slack, ALEX)

    await propose(slack, chain, ALEX)

    request = slack.thread(card)[-1]
    assert f"<@{MAYA}> and <!subteam^S0LEADS>, please review." in request.text_of_blocks
    for approver in (MAYA, SAM):  # Sam is asked through the user group, and told in person
        [dm] = slack.dms(approver)
        assert "#1 waits for your review" in dm.text_of_blocks
        assert f"<{permalink(card)}|Open #1's thread>" in dm.text_of_blocks
        assert "One form, one webhook" in dm.text_of_blocks
    assert slack.dms(ALEX) == []  # the proposer is not asked


async def test_a_sole_approver_who_proposed_is_replaced_by_the_admins(
    db: Engine, clock: FakeClock, slack_api: SlackApiStub
) -> None:
    slack_api.users.update({
        OWNER: {"is_owner": True},
        "U0GONE": {"is_admin": True, "deleted": True},  # a deactivated admin is not asked
        "U0BOTADMIN": {"is_admin": True, "is_bot": True},
        ALEX: {},
    })  # fmt: skip
    slack = await world(db, clock, slack_api, IMPROVE_APPROVERS=MAYA)
    try:
        card, chain = await root_cause_by(slack, MAYA)  # Maya reports; she is the only approver (and an admin)
        _view, response = await propose(slack, chain, MAYA)
        assert response.status_code == 200 and not response.content

        request = slack.thread(card)[-1]
        assert f"<@{OWNER}>, please review." in request.text_of_blocks
        assert f"<@{MAYA}>, please" not in request.text_of_blocks
        assert "Nobody approves their own report or proposal, so the workspace admins are asked." in (
            request.text_of_blocks
        )
        assert len(slack.dms(OWNER)) == 1 and slack.dms("U0GONE") == [] and slack.dms("U0BOTADMIN") == []

        await slack.click(request, "approve", MAYA)  # she reported it
        assert slack.ephemerals(MAYA)[-1] == "You reported #1, so someone else has to approve it."
        await slack.click(request, "approve", ALEX)  # not asked, not an approver
        assert "Only approvers can approve" in slack.ephemerals(ALEX)[-1]

        await slack.click(request, "approve", OWNER)  # asked as the fallback: may decide
        assert f"✅ Approved by <@{OWNER}>" in slack.updates(request.ts)[-1].text_of_blocks
        assert "Approved, in progress" in slack.card_now(card)
    finally:
        await slack.close()


async def test_nobody_left_to_ask_keeps_the_form_open_and_posts_nothing(
    db: Engine, clock: FakeClock, slack_api: SlackApiStub
) -> None:
    slack = await world(db, clock, slack_api, IMPROVE_APPROVERS=MAYA)  # Maya is also the only admin
    try:
        card, chain = await root_cause_by(slack, MAYA)
        posted = len(slack.thread(card))

        _view, response = await propose(slack, chain, MAYA)

        assert response.json() == {"response_action": "errors", "errors": {"countermeasure": NOBODY_TO_ASK}}
        assert len(slack.thread(card)) == posted and proposals(db) == []
        with Session(db) as session:
            assert session.exec(select(Improvement)).one().status == "root_cause_found"
    finally:
        await slack.close()


async def test_with_no_approvers_set_the_admins_are_named_ten_at_most(
    db: Engine, clock: FakeClock, slack_api: SlackApiStub
) -> None:
    admins = [f"U0ADM{n:02d}" for n in range(13)]
    slack_api.users.update({admin: {"is_admin": True} for admin in admins})
    slack = await world(db, clock, slack_api, IMPROVE_APPROVERS="")
    try:
        card, chain = await root_cause_by(slack, ALEX)
        await propose(slack, chain, ALEX)

        request = slack.thread(card)[-1].text_of_blocks
        named = [admin for admin in [*admins, MAYA] if f"<@{admin}>" in request]
        assert len(named) == 10 and "and 4 more, please review." in request  # 14 admins (Maya is one)
        assert "No approvers are set, so the workspace admins are asked." in request
        assert sum(1 for admin in [*admins, MAYA] if slack.dms(admin)) == 14

        unnamed = next(admin for admin in admins if admin not in named)
        await slack.click(slack.thread(card)[-1], "approve", unnamed)
        assert "Approved, in progress" in slack.card_now(card)
    finally:
        await slack.close()


async def test_when_slack_cannot_say_who_approves_the_form_asks_to_submit_again(
    db: Engine, clock: FakeClock, slack_api: SlackApiStub
) -> None:
    slack = await world(db, clock, slack_api, IMPROVE_APPROVERS=MAYA)
    try:
        card, chain = await root_cause_by(slack, MAYA)
        slack_api.users[OWNER] = {"is_owner": True}
        slack_api.fail("users.list", times=3, status=500)  # the client's own retries (2) cannot get past it

        view, response = await propose(slack, chain, MAYA)
        assert response.json()["errors"] == {"countermeasure": CANNOT_ASK}
        assert proposals(db) == []

        response = await slack.submit(view, PROPOSAL, MAYA)  # a minute later, the same form
        assert response.status_code == 200 and not response.content
        assert f"<@{OWNER}>, please review." in slack.thread(card)[-1].text_of_blocks
        [proposal] = proposals(db)
        assert proposal.asked is not None and proposal.asked["people"] == [OWNER]
    finally:
        await slack.close()


async def test_the_dm_goes_without_a_link_when_slack_has_none(slack: SlackWorld) -> None:
    card, chain = await root_cause_by(slack, ALEX)
    slack.stub.fail("chat.getPermalink", times=10, error="message_not_found")

    await propose(slack, chain, ALEX)

    [dm] = slack.dms(MAYA)
    assert "Open #1's thread to approve" in dm.text_of_blocks and "https://" not in dm.text_of_blocks
    assert has_button(slack.thread(card)[-1], "approve")


# -- Teams ----------------------------------------------------------------------------------------------


async def teams_root_cause_by(teams: Any, person: Any) -> tuple[str, Any]:
    from tests.support.teams_flows import REPORT
    from tests.support.teams_world import INTAKE

    await teams.say(person, "improve Leads arrive in the CRM twice", teams.personal(person))
    await teams.submit(person, teams.connector.posts_to(person.personal)[-1], REPORT, teams.personal(person))
    root = teams.connector.posts_to(INTAKE)[-1].response["id"]
    chain = teams.thread(root)
    await teams.say(person, "Two web forms", chain)
    await teams.click(person, teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1], "root_cause", chain)
    return root, chain


async def teams_world(db: Engine, clock: FakeClock, connector: Any, keys: Any, **settings: str) -> Any:
    from tests.support.teams_world import ALEX, JO, MAYA, TeamsWorld, teams_settings

    connector.roster = {p.aad: {"id": p.id, "name": p.name} for p in (ALEX, MAYA, JO)}
    return TeamsWorld(teams_settings(keys, **settings), engine=db, clock=clock, connector=connector, keys=keys)


async def test_teams_a_sole_approver_who_proposed_is_replaced_by_the_fallback_approvers(
    db: Engine, clock: FakeClock, connector: Any, teams_keys: Any
) -> None:
    from tests.support.teams_flows import PROPOSAL as TEAMS_PROPOSAL
    from tests.support.teams_world import INTAKE, JO, MAYA, TENANT

    teams = await teams_world(db, clock, connector, teams_keys, TEAMS_FALLBACK_APPROVERS=JO.aad)
    try:
        root, chain = await teams_root_cause_by(teams, MAYA)
        await teams.click(MAYA, teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1], "propose", chain)
        form = teams.connector.posts_to(MAYA.personal)[-1]
        await teams.submit(MAYA, form, TEAMS_PROPOSAL, teams.personal(MAYA))

        request = teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1]
        assert "<at>Jo</at>, please review." in request.text and "<at>Maya</at>, please" not in request.text
        assert "so the fallback approvers are asked" in request.text
        [dm] = teams.connector.posts_to(JO.personal)
        link = f"https://teams.microsoft.com/l/message/19%3Aintake0000%40thread.tacv2/{root}?tenantId={TENANT}"
        assert f"[Open #1's thread]({link}&parentMessageId={root})" in dm.text, dm.text

        refused = await teams.click(MAYA, request, "approve", chain)
        assert refused.json()["value"] == "You reported #1, so someone else has to approve it."
        await teams.click(JO, request, "approve", chain)
        assert "Approved by <at>Jo</at>" in teams.connector.updates_of(request.response["id"])[-1].text
    finally:
        await teams.close()


async def test_teams_without_fallback_approvers_the_proposer_is_told_in_the_form(
    db: Engine, clock: FakeClock, connector: Any, teams_keys: Any
) -> None:
    from tests.support.teams_flows import PROPOSAL as TEAMS_PROPOSAL
    from tests.support.teams_world import INTAKE, MAYA

    teams = await teams_world(db, clock, connector, teams_keys)
    try:
        root, chain = await teams_root_cause_by(teams, MAYA)
        await teams.click(MAYA, teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1], "propose", chain)
        replies = len(teams.connector.posts_to(f"{INTAKE};messageid={root}"))
        form = teams.connector.posts_to(MAYA.personal)[-1]

        response = await teams.submit(MAYA, form, TEAMS_PROPOSAL, teams.personal(MAYA))

        assert NOBODY_TO_ASK in str(response.json())  # the form comes back with the reason on it
        assert len(teams.connector.posts_to(f"{INTAKE};messageid={root}")) == replies and proposals(db) == []
    finally:
        await teams.close()
