"""Anonymous reports on Slack (issue 12, #1): the reporter's id appears in no message the bot sends to anyone else
(every Web API call is scanned), in no table (every column is scanned), in no log line at DEBUG; their 5 Whys
run in the bot's DM and are passed on to the thread as "the reporter"; an approver's question reaches them there
and their answer comes back; they may reveal themselves (confirmed) and own the fix."""

from __future__ import annotations

import json
import logging

import pytest
from sqlmodel import Session, select

from bot.core.config import ConfigError
from handlers.slack.app import build_slack
from storage.models import AuditEntry, Improvement, Why
from tests.conftest import ALEX, JO, MAYA, SAM, make_settings
from tests.support import slack_requests as rq
from tests.support.scan import columns_holding
from tests.support.slack_api import Call
from tests.support.slack_flows import PROPOSAL
from tests.support.world import SlackWorld, find_button

DM = "D0ALEXBOT"  # Alex's direct chat with the bot


async def _dm(slack: SlackWorld, text: str, user: str = ALEX, *, channel: str = DM, event_id: str | None = None):
    """`user` writes `text` to the bot in private (Slack's message.im event)."""
    return await slack.reply("", text, user, channel=channel, event_id=event_id, channel_type="im")


def _to(call: Call, user: str) -> bool:
    """Addressed to `user` alone: their DM, a message only they see, a form opened for their click (the test's
    trigger ids carry the clicker's id; Slack's are opaque)."""
    return (
        (call.method == "chat.postMessage" and call.get("channel") == user)
        or (call.method == "chat.postEphemeral" and call.get("user") == user)
        or (call.method == "views.open" and f".{user}." in str(call.get("trigger_id")))
    )


def _leaks(slack: SlackWorld, user: str) -> list[str]:
    """Every Web API call that names `user` without being addressed to them."""
    return [call.method for call in slack.stub.calls if not _to(call, user) and user in json.dumps(call.params)]


def _improvement(slack: SlackWorld, number: int = 1) -> Improvement:
    with Session(slack.engine) as session:
        return session.exec(select(Improvement).where(Improvement.number == number)).one()


async def _confirm(slack: SlackWorld, confirm: Call) -> None:
    """Alex clicks "Yes, show my name" on the confirmation only they see (an ephemeral: Slack gives its ts)."""
    value = find_button(confirm, "reveal_confirmed")["value"]
    await slack.send(rq.block_action("reveal_confirmed", value, ALEX, channel=confirm["channel"],
                                     message_ts=confirm.response["message_ts"]))  # fmt: skip


async def _anonymous(slack: SlackWorld, problem: str = "Leads arrive in the CRM twice") -> Call:
    return await slack.report(ALEX, problem, anonymous=True)


async def test_an_anonymous_report_names_nobody_and_its_whys_run_in_private(
    slack: SlackWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    card = await _anonymous(slack)

    assert "a teammate" in slack.card_now(card) and ALEX not in slack.card_now(card)
    why_1 = slack.thread(card)[-1]
    assert "The reporter answers in private" in why_1.text_of_blocks
    assert any("the card says a teammate reported it" in c.text_of_blocks for c in slack.dms(ALEX))
    said = [c.text_of_blocks for c in slack.dms(ALEX)]
    assert any("You reported #1 anonymously" in t for t in said) and any("#1 · Why #1" in t for t in said)

    # a reply in the thread is conversation, even Alex's: only the private chat answers
    await slack.reply(card.ts, "Is this about the webinar form?", ALEX)
    assert _improvement(slack).status == "investigating"

    response = await _dm(slack, "Because the web form and the CSV import both create leads")
    assert response.status_code == 200
    passed = slack.thread(card)[-2:]
    assert "The reporter answered Why #1" in passed[0].text_of_blocks
    assert "both create leads" in passed[0].text_of_blocks and "Why #2" in passed[1].text_of_blocks
    why_2 = slack.dms(ALEX)[-1]
    assert "#1 · Why #2" in why_2.text_of_blocks

    await slack.click(why_2, "root_cause", ALEX)  # from the DM
    assert _improvement(slack).status == "root_cause_found"
    chain = slack.thread(card)[-1]
    assert "Root cause of #1" in chain.text_of_blocks

    # Maya proposes a fix owned by Jo; Sam asks a question; it reaches Alex in private, and Alex's answer comes back
    await slack.click_and_submit(chain, "propose", MAYA, {**PROPOSAL, "owner": JO})
    request = slack.thread(card)[-1]
    await slack.click_and_submit(request, "question", SAM, {"text": "Does the import still run every night?"})
    relayed = slack.dms(ALEX)[-1]
    assert "asks about #1" in relayed.text_of_blocks and "every night" in relayed.text_of_blocks
    await _dm(slack, "Yes, at 2am, from the old marketing server")
    assert "The reporter says" in slack.thread(card)[-1].text_of_blocks
    assert "Passed on to #1" in slack.dms(ALEX)[-1].text_of_blocks

    assert _leaks(slack, ALEX) == []
    assert columns_holding(slack.engine, ALEX) == []
    logged = [r.getMessage() for r in caplog.records if ALEX in r.getMessage()]
    assert logged == []
    with Session(slack.engine) as session:
        stored = _improvement(slack)
        assert stored.reporter_id.startswith("anon:") and stored.reporter_sealed and stored.owner_id == JO
        answers = session.exec(select(Why.answered_by).where(Why.answer.is_not(None))).all()  # type: ignore[union-attr]
        assert answers == [stored.reporter_id]
        assert {a.actor_id for a in session.exec(select(AuditEntry)).all()} == {stored.reporter_id, MAYA, SAM}


async def test_revealing_puts_the_reporters_name_on_it_after_a_confirmation(slack: SlackWorld) -> None:
    card = await _anonymous(slack)
    welcome = next(c for c in slack.dms(ALEX) if "You reported #1 anonymously" in c.text_of_blocks)
    await _dm(slack, "The web form posts twice")

    await slack.click(welcome, "reveal", JO)  # a forged click by someone else
    assert "Only its reporter can reveal" in slack.ephemerals(JO)[-1]
    assert _improvement(slack).anonymous

    await slack.click(welcome, "reveal", ALEX)
    confirm = slack.stub.of("chat.postEphemeral")[-1]
    assert "Show your name on #1" in confirm.text_of_blocks
    assert _improvement(slack).anonymous  # nothing happens before the confirmation
    await _confirm(slack, confirm)
    assert "names you as its reporter now" in slack.ephemerals(ALEX)[-1]

    improvement = _improvement(slack)
    assert (improvement.anonymous, improvement.reporter_id, improvement.reporter_sealed) == (False, ALEX, None)
    assert improvement.owner_id == ALEX  # they own the fix now
    assert f"<@{ALEX}>" in slack.card_now(card)
    assert f"<@{ALEX}> reported #1 and now puts their name to it" in slack.thread(card)[-1].text_of_blocks
    with Session(slack.engine) as session:
        assert not [w for w in session.exec(select(Why)).all() if (w.answered_by or "").startswith("anon:")]
        assert {a.actor_id for a in session.exec(select(AuditEntry)).all()} == {ALEX}
    # from now on the 5 Whys are answered in the thread, like any other report
    await slack.reply(card.ts, "Nobody owns the webhook", ALEX)
    assert "Why #3" in slack.thread(card)[-1].text_of_blocks


async def test_with_two_anonymous_reports_a_message_names_which_one(slack: SlackWorld) -> None:
    await _anonymous(slack)
    second = await _anonymous(slack, "The pricing page shows last year's prices")
    await _dm(slack, "Because nobody owns it")
    assert "start your message with the number" in slack.dms(ALEX)[-1].text_of_blocks
    assert "The reporter answered" not in json.dumps([c.params for c in slack.thread(second)])

    await _dm(slack, "#2 because nobody owns the pricing page")
    assert "The reporter answered Why #1" in slack.thread(second)[-2].text_of_blocks
    assert "nobody owns the pricing page" in slack.thread(second)[-2].text_of_blocks
    assert _improvement(slack, 1).status == "investigating"

    # the same message again (Slack retried it) is passed on once
    await _dm(slack, "#2 the owner left", event_id="EvRETRY1")
    await _dm(slack, "#2 the owner left", event_id="EvRETRY1")
    assert sum("The reporter answered Why #2" in c.text_of_blocks for c in slack.thread(second)) == 1


async def test_a_stranger_writing_to_the_bot_hears_what_it_does_there(slack: SlackWorld) -> None:
    await _anonymous(slack)
    await _dm(slack, "hello?", JO, channel="D0JOBOT")
    said = [c for c in slack.posts() if c["channel"] == "D0JOBOT"]
    assert said and "To report a broken process, type /improve" in said[-1]["text"]


async def test_the_anonymous_reporter_cannot_own_the_fix_without_revealing(slack: SlackWorld) -> None:
    card = await _anonymous(slack)
    await _dm(slack, "The web form posts twice")
    await slack.click(slack.dms(ALEX)[-1], "root_cause", ALEX)
    chain = slack.thread(card)[-1]

    response = await slack.click_and_submit(chain, "propose", ALEX, {**PROPOSAL, "owner": ALEX})
    assert "reveal yourself first" in response.json()["errors"]["owner"]
    await slack.click_and_submit(chain, "propose", ALEX, {**PROPOSAL, "owner": JO})
    request = slack.thread(card)[-1]
    assert "a teammate" in request.text_of_blocks and ALEX not in json.dumps(request.params)
    await slack.click(request, "approve", ALEX)  # their own fix: refused, without saying so to anyone else
    assert _improvement(slack).status == "awaiting_approval"
    assert _leaks(slack, ALEX) == []


async def test_the_setting_turns_the_choice_off(db, clock, slack_api) -> None:
    world = SlackWorld.build(make_settings(slack_api, IMPROVE_ANONYMOUS_REPORTS="false"), engine=db, clock=clock,
                             stub=slack_api)  # fmt: skip
    try:
        view = await world.command("", ALEX)
        assert "anonymous" not in [b.get("block_id") for b in view["blocks"]]
        answers = {"problem": "Leads arrive in the CRM twice", "area": "Sales", "frequency": "weekly"}
        ticked = {"anonymous": {"type": "checkboxes", "selected_options": [{"value": "yes"}]}}
        forged = {**rq.state_for(view, answers), "anonymous": ticked}
        await world.send(rq.view_submission(view, forged, ALEX))
        assert not _improvement(world).anonymous and f"<@{ALEX}>" in world.cards()[-1].text_of_blocks
    finally:
        await world.close()


def test_start_up_refuses_anonymity_without_a_key(db, clock, slack_api) -> None:
    with pytest.raises(ConfigError, match="IMPROVE_SECRET_KEY is not set"):
        build_slack(make_settings(slack_api, IMPROVE_SECRET_KEY=""), engine=db, clock=clock)
    with pytest.raises(ConfigError, match="at least 16 characters"):
        build_slack(make_settings(slack_api, IMPROVE_SECRET_KEY="short"), engine=db, clock=clock)
    build_slack(make_settings(slack_api, IMPROVE_SECRET_KEY="", IMPROVE_ANONYMOUS_REPORTS="false"), engine=db,
                clock=clock)  # fmt: skip


async def test_an_approver_who_reported_anonymously_is_asked_like_the_others(slack: SlackWorld) -> None:
    card = await slack.report(MAYA, anonymous=True)  # Maya approves; Sam too, through the group
    await _dm(slack, "The web form posts twice", MAYA, channel="D0MAYABOT")
    await slack.click(slack.dms(MAYA)[-1], "root_cause", MAYA)
    await slack.click_and_submit(slack.thread(card)[-1], "propose", SAM, {**PROPOSAL, "owner": JO})

    request = slack.thread(card)[-1]
    assert f"<@{MAYA}>" in request.text_of_blocks  # leaving her out would point at her
    await slack.click(request, "approve", MAYA)
    assert "someone else has to approve it" in slack.ephemerals(MAYA)[-1]
    assert _improvement(slack).status == "awaiting_approval"


async def test_revealing_counts_a_person_once_where_they_said_me_too_as_well(slack: SlackWorld) -> None:
    first = await slack.report(JO)
    await slack.report(ALEX, "Leads reach the CRM twice since the webinar", anonymous=True)
    await slack.click_and_submit(slack.cards()[-1], "close", MAYA, {"reason": "duplicate", "duplicate_of": 1})
    await slack.click(first, "me_too", ALEX)  # Alex again, by name this time
    assert _improvement(slack, 1).me_too == 2

    welcome = next(c for c in slack.dms(ALEX) if "You reported #2 anonymously" in c.text_of_blocks)
    await slack.click(welcome, "reveal", ALEX)
    await _confirm(slack, slack.stub.of("chat.postEphemeral")[-1])
    assert "names you as its reporter now" in slack.ephemerals(ALEX)[-1]
    assert _improvement(slack, 1).me_too == 1 and _improvement(slack, 2).reporter_id == ALEX
