"""Only the people entitled to act can act; everyone else gets a short private explanation."""

from __future__ import annotations

import json
import time

from sqlmodel import Session, select

from storage.models import Improvement, Workspace
from tests.conftest import ALEX, JO, MAYA, SAM, make_settings
from tests.support import slack_requests as rq
from tests.support.slack_flows import PROPOSAL, to_approval
from tests.support.world import SlackWorld, find_button


async def test_a_rep_who_is_not_an_approver_cannot_approve(slack: SlackWorld) -> None:
    card, request = await to_approval(slack)

    response = await slack.click(request, "approve", JO)

    assert response.status_code == 200
    assert slack.ephemerals(JO) == ["Only approvers can approve a fix. It has been sent to them."]
    assert not slack.updates(request.ts)
    assert "Awaiting approval" in slack.card_now(card)


async def test_a_member_of_an_approver_group_can_approve(slack: SlackWorld) -> None:
    _card, request = await to_approval(slack)
    await slack.click(request, "approve", SAM)
    assert f"Approved by <@{SAM}>" in slack.updates(request.ts)[-1].text_of_blocks


async def test_nobody_approves_their_own_report(slack: SlackWorld) -> None:
    card = await slack.report(MAYA)  # Maya is an approver, but this is her report
    await slack.reply(card.ts, "Two web forms", MAYA)
    await slack.click(slack.thread(card)[-1], "root_cause", MAYA)
    await slack.click_and_submit(slack.thread(card)[-1], "propose", MAYA, {**PROPOSAL, "owner": MAYA})
    request = slack.thread(card)[-1]

    await slack.click(request, "approve", MAYA)
    assert slack.ephemerals(MAYA)[-1] == "You reported #1, so someone else has to approve it."
    assert not slack.updates(request.ts)
    await slack.click(request, "decline", MAYA)
    assert "someone else has to decline it" in slack.ephemerals(MAYA)[-1]

    await slack.click(request, "approve", SAM)
    assert "Approved by" in slack.updates(request.ts)[-1].text_of_blocks


async def test_with_no_approvers_configured_workspace_admins_approve(db, clock, slack_api) -> None:
    world = SlackWorld.build(make_settings(slack_api, IMPROVE_APPROVERS=""), engine=db, clock=clock, stub=slack_api)
    try:
        _card, request = await to_approval(world)
        assert f"<@{MAYA}>, please review." in request.text_of_blocks  # the admins, resolved to people
        assert "No approvers are set, so the workspace admins are asked." in request.text_of_blocks
        await world.click(request, "approve", JO)  # not an admin
        assert "Only approvers" in world.ephemerals(JO)[-1]
        await world.click(request, "approve", MAYA)  # users.info says is_admin
        assert "Approved by" in world.updates(request.ts)[-1].text_of_blocks
    finally:
        await world.close()


async def test_a_second_click_on_approve_does_nothing_more(slack: SlackWorld) -> None:
    _card, request = await to_approval(slack)
    await slack.click(request, "approve", MAYA)
    await slack.click(request, "approve", SAM)
    assert len(slack.updates(request.ts)) == 1
    assert "already been answered" in slack.ephemerals(SAM)[-1]


async def test_only_the_reporter_or_an_approver_can_close_the_whys_or_propose(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    await slack.reply(card.ts, "Two web forms", ALEX)
    await slack.click(slack.thread(card)[-1], "root_cause", JO)
    assert "Only the reporter" in slack.ephemerals(JO)[-1]
    await slack.click(slack.thread(card)[-1], "root_cause", ALEX)

    opened = len(slack.stub.of("views.open"))
    await slack.click(slack.thread(card)[-1], "propose", JO)
    assert len(slack.stub.of("views.open")) == opened
    assert "Only the reporter, the owner or an approver" in slack.ephemerals(JO)[-1]


async def test_only_the_owner_or_an_approver_marks_it_implemented(slack: SlackWorld) -> None:
    card, request = await to_approval(slack)
    await slack.click(request, "approve", MAYA)
    assignment = slack.thread(card)[-1]
    await slack.click(assignment, "mark_implemented", JO)
    assert "Only the owner or an approver" in slack.ephemerals(JO)[-1]


async def test_another_workspace_cannot_reach_an_improvement(slack: SlackWorld) -> None:
    _card, request = await to_approval(slack)
    button = find_button(request, "approve")
    other_team = rq.block_action("approve", button["value"], MAYA, channel="C0INTAKE", message_ts=request.ts,
                                 team="T0OTHER")  # fmt: skip

    response = await slack.send(other_team)

    assert response.status_code == 200  # acknowledged, refused at the door: one token serves one workspace
    assert not slack.ephemerals(MAYA) and not slack.updates(request.ts)
    with Session(slack.engine) as session:
        assert session.exec(select(Improvement)).one().status == "awaiting_approval"
        assert [w.external_id for w in session.exec(select(Workspace))] == ["T0001"]
    opened = len(slack.stub.of("views.open"))
    command = await slack.send(rq.slash_command("Leads twice", ALEX, team="T0OTHER"))
    assert command.json()["text"] == "Sorry, this Improve bot is set up for another Slack workspace."
    assert len(slack.stub.of("views.open")) == opened


async def test_a_forged_or_malformed_button_value_gets_a_clear_message(slack: SlackWorld, caplog) -> None:
    _card, request = await to_approval(slack)
    huge = "9" * 40  # beyond the database's integer
    for value in ("", "abc", "-1:1", huge, f"1:{huge}", "1 ", "٥:1", "99999:1"):
        await slack.send(rq.block_action("approve", value, MAYA, channel="C0INTAKE", message_ts=request.ts))
    messages = slack.ephemerals(MAYA)
    assert len(messages) == 8
    assert messages[:7] == ["That button or form is out of date. Scroll to the latest message in the thread."] * 7
    assert "can't find that improvement" in messages[7]
    assert not [r for r in caplog.records if r.levelname == "ERROR" or r.exc_info]


async def test_a_form_with_tampered_metadata_is_refused_without_a_trace(slack: SlackWorld) -> None:
    _card, chain = await to_approval(slack)
    opened = len(slack.stub.of("views.open"))
    await slack.click(chain, "question", MAYA)
    view = dict(slack.stub.of("views.open")[opened]["view"])
    view["private_metadata"] = "{not json"

    response = await slack.submit(view, {"text": "Why?"}, MAYA)

    assert response.status_code == 200
    assert "out of date" in " ".join(c["text"] for c in slack.stub.of("chat.postMessage") if c["channel"] == MAYA)
    view["private_metadata"] = json.dumps({"improvement": "9" * 40, "round": "1"})
    await slack.submit(view, {"text": "Why?"}, MAYA)
    assert "out of date" in slack.posts()[-1]["text"]
    view["private_metadata"] = json.dumps({"improvement": "1", "round": "7"})
    await slack.submit(view, {"text": "Why?"}, MAYA)
    assert "already been answered" in slack.posts()[-1]["text"]


async def test_an_approver_cannot_approve_a_fix_they_proposed_themselves(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    await slack.reply(card.ts, "Two web forms", ALEX)
    await slack.click(slack.thread(card)[-1], "root_cause", ALEX)
    await slack.click_and_submit(slack.thread(card)[-1], "propose", MAYA, {**PROPOSAL, "owner": MAYA})
    request = slack.thread(card)[-1]

    await slack.click(request, "approve", MAYA)

    assert slack.ephemerals(MAYA)[-1] == "You proposed this fix for #1, so someone else has to approve it."
    assert not slack.updates(request.ts)


async def test_only_the_reporter_closes_the_whys(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    await slack.reply(card.ts, "Two web forms", ALEX)
    await slack.click(slack.thread(card)[-1], "root_cause", MAYA)
    assert "Only the reporter can close the 5 Whys" in slack.ephemerals(MAYA)[-1]


async def test_a_button_or_form_no_capability_registered_gets_the_out_of_date_notice(slack: SlackWorld) -> None:
    card, request = await to_approval(slack)
    before = len(slack.posts())

    click = await slack.send(rq.block_action("frobnicate", "1:1", MAYA, channel="C0INTAKE", message_ts=request.ts))
    submit = await slack.send(rq.view_submission({"callback_id": "frobnicate"}, {}, MAYA))

    assert click.status_code == 200 and submit.status_code == 200
    assert slack.ephemerals(MAYA) == ["That button or form is out of date. Scroll to the latest message in the thread."]
    assert "out of date" in slack.posts()[-1]["text"] and slack.posts()[-1]["channel"] == MAYA  # no channel: a DM
    assert len(slack.posts()) == before + 1 and "Awaiting approval" in slack.card_now(card)


async def test_while_slack_cannot_say_which_workspace_the_token_serves_requests_wait(
    slack: SlackWorld,
) -> None:
    slack.stub.fail("auth.test", times=3, status=503)  # one call and its two retries
    command = rq.slash_command("help", ALEX, response_url=slack.stub.response_url)

    first = await slack.send(command)
    at_once = await slack.send(command)  # Slack is not asked again for 10 s: no request waits on it
    slack.bot._ask_after = time.monotonic()  # as if the 10 s had passed
    afterwards = await slack.send(command)

    assert (first.status_code, at_once.status_code, afterwards.status_code) == (503, 503, 200)
    assert len(slack.stub.of("response_url")) == 1  # (asked again at once, Slack would have answered: 200)
