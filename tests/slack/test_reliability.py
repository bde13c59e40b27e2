"""Signatures, replays, injected mentions, Slack outages: bad input loses nothing and does no harm."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse

from sqlalchemy import text
from sqlmodel import Session, func, select

from bot.core.outcomes import NOT_SAVED, SORRY, UNAVAILABLE
from handlers.cli import main
from storage.models import Improvement, OutboxMessage, ProcessedEvent, Why
from tests.conftest import ALEX, INTAKE, MAYA
from tests.support import slack_requests as rq
from tests.support.slack_api import BOT_TOKEN
from tests.support.slack_flows import PROPOSAL
from tests.support.world import REPORT_DEFAULTS, SlackWorld, settle


def mrkdwn_texts(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["text"]] if node.get("type") == "mrkdwn" else []
        return found + [t for value in node.values() for t in mrkdwn_texts(value)]
    if isinstance(node, list):
        return [t for item in node for t in mrkdwn_texts(item)]
    return []


def count(world: SlackWorld, model) -> int:
    with Session(world.engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


async def test_requests_with_a_bad_missing_or_stale_signature_get_401(slack: SlackWorld) -> None:
    body, content_type = rq.slash_command("x", ALEX)
    stale = rq.sign(body, timestamp=int(time.time()) - 10 * 60)
    wrong = rq.sign(body, secret="not-the-secret")
    for headers, signed in ((stale, False), (wrong, False), ({}, False)):
        response = await slack.send((body, content_type), headers=headers, signed=signed)
        assert response.status_code == 401
    assert not slack.stub.of("views.open")


async def test_a_replayed_event_is_processed_once(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    first = await slack.reply(card.ts, "Two web forms", ALEX, event_id="Ev0REPLAY")
    retry = await slack.reply(card.ts, "Two web forms", ALEX, event_id="Ev0REPLAY",
                              headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})  # fmt: skip
    assert first.status_code == retry.status_code == 200
    assert len(slack.thread(card)) == 2  # why 1, why 2: not a why 3
    with Session(slack.engine) as session:
        assert [w.answer for w in session.exec(select(Why).order_by(Why.position)).all()] == [
            "Two web forms",
            None,
        ]


async def test_edits_bot_messages_and_top_level_messages_are_not_answers(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    await slack.reply(card.ts, "edited", ALEX, subtype="message_changed")
    await slack.reply(card.ts, "from a bot", ALEX, bot_id="B0OTHER")
    await slack.reply(card.ts, "", ALEX)  # a file with no text
    await slack.send(rq.message_event("top level", ALEX, channel=INTAKE, thread_ts=None, event_id="Ev0TOP"))
    assert len(slack.thread(card)) == 1


async def test_user_text_cannot_ping_anyone(slack: SlackWorld) -> None:
    card = await slack.report(ALEX, "<!channel> <!here> <@U0BOSS> & <https://evil|click>",
                              idea="<!everyone> fix it")  # fmt: skip
    posted = "\n".join(mrkdwn_texts(card["blocks"]))  # where Slack would parse mentions
    header = card["blocks"][0]["text"]
    assert header["type"] == "plain_text" and "<!channel>" in header["text"]  # plain text: shown, never parsed
    assert "<!channel>" not in posted and "<!here>" not in posted and "<@U0BOSS>" not in posted
    assert "&lt;!channel&gt; &lt;!here&gt; &lt;@U0BOSS&gt; &amp; &lt;https://evil|click&gt;" in posted
    assert "&lt;!everyone&gt;" in posted
    assert "<!channel>" not in card["text"]
    # Slack escapes message text it sends us; what we quote back stays escaped, never unescaped into a ping
    await slack.reply(card.ts, "because &lt;!channel&gt; said so", ALEX)
    why2 = slack.thread(card)[-1]
    assert (
        "<!channel>" not in "".join(mrkdwn_texts(why2["blocks"])) and "&lt;!channel&gt; said so" in why2.text_of_blocks
    )
    with Session(slack.engine) as session:
        assert session.exec(select(Why).where(Why.position == 1)).one().answer == "because <!channel> said so"


async def test_invalid_report_values_are_shown_on_the_fields_and_nothing_is_saved(slack: SlackWorld) -> None:
    view = await slack.command("", ALEX)
    cases = [
        ({"problem": ""}, {"problem": "This is required."}),
        ({"problem": "   "}, {"problem": "This is required."}),
        (
            {"problem": " x "},
            {"problem": "Say a little more, so others can tell what it is: at least 10 characters (this is 1)."},
        ),
        ({"hours_per_week": -2}, {"hours_per_week": "Enter 0 or more."}),
        ({"hours_per_week": "lots"}, {"hours_per_week": "Enter a number."}),
        ({"hours_per_week": "nan"}, {"hours_per_week": "Enter a number."}),
        ({"people": 10000}, {"people": "Enter 1,000 or less."}),
        ({"people": 2.5}, {"people": "Enter a whole number."}),
        ({"people": "3,5"}, {"people": "Enter a whole number."}),
        (
            {"hours_per_week": "1,500"},
            {
                "hours_per_week": "Is that 1.500 or 1500? Use a dot for decimals (3.5) and "
                "no separator for thousands (1000)."
            },
        ),
        ({"area": "Legal"}, {"area": "Pick one of the options."}),
        ({"frequency": None}, {"frequency": "This is required."}),
        ({"problem": "x" * 3001}, {"problem": "Keep it under 3,000 characters (this is 3,001)."}),
    ]
    for override, errors in cases:
        answers = {**REPORT_DEFAULTS, "problem": "Leads twice", **override}
        response = await slack.submit(view, answers, ALEX)
        assert response.json() == {"response_action": "errors", "errors": errors}, override
    assert count(slack, Improvement) == 0
    assert not slack.posts()


async def test_a_decimal_comma_is_a_decimal_point(slack: SlackWorld) -> None:
    view = await slack.command("", ALEX)
    answers = {**REPORT_DEFAULTS, "problem": "Leads twice", "hours_per_week": "3,5", "people": "1,000"}
    response = await slack.submit(view, answers, ALEX)
    assert response.status_code == 200 and not response.content  # accepted
    [card] = slack.cards()
    assert "≈ 3.5 h/week × 1,000 people" in card.text_of_blocks  # not 35 h/week, not 1 person


async def test_a_long_prefill_opens_the_form_and_hands_back_the_rest(slack: SlackWorld) -> None:
    text = "a" * 3000 + "THE-REST"
    view = await slack.command(text, ALEX)
    problem = next(b for b in view["blocks"] if b.get("block_id") == "problem")
    assert problem["element"]["initial_value"] == "a" * 3000
    [hook] = slack.stub.of("response_url")
    assert hook["response_type"] == "ephemeral" and "THE-REST" in hook["text"]


async def test_the_command_is_acked_before_the_form_is_opened(slack: SlackWorld) -> None:
    slack.stub.latency = 0.3  # Slack's API is slow today
    body, content_type = rq.slash_command("", ALEX)
    response = await slack.http.post("/slack/events", content=body, headers={"Content-Type": content_type,
                                                                            **rq.sign(body)})  # fmt: skip
    assert response.status_code == 200
    assert not slack.stub.of("views.open")  # the ack did not wait for Slack
    await settle()
    assert len(slack.stub.of("views.open")) == 1


async def test_a_card_slack_refused_is_kept_and_posted_later_exactly_once(slack: SlackWorld) -> None:
    slack.stub.fail("chat.postMessage", status=503)  # delivery does not retry at once: the outbox does, later

    view = await slack.command("", ALEX)
    await slack.submit(view, {**REPORT_DEFAULTS, "problem": "Leads arrive twice"}, ALEX)

    assert count(slack, Improvement) == 1  # saved first
    assert not slack.cards()
    with Session(slack.engine) as session:
        pending = session.exec(
            select(OutboxMessage).where(OutboxMessage.status == "pending").order_by(OutboxMessage.id)
        ).all()
        assert [(m.kind, m.attempts) for m in pending] == [("card", 1), ("thread", 0), ("private", 0)]
    assert not slack.ephemerals(ALEX)  # the confirmation waits with the card: it says the card is there

    report = await slack.bot.service.deliver()  # too early: the backoff has not passed
    assert report.sent == 0 and not slack.cards()

    slack.clock.advance(minutes=1)
    await slack.bot.service.deliver()
    await slack.bot.service.deliver()
    [card] = slack.cards()
    [why] = slack.thread(card)  # the why follows its card, once
    assert "Why #1" in why.text_of_blocks
    confirmations = [c for c in slack.stub.of("chat.postEphemeral") if "Saved as #1" in c.text_of_blocks]
    assert len(confirmations) == 1  # and the confirmation, once, after its card


async def test_a_rate_limited_post_is_retried_after_retry_after(slack: SlackWorld) -> None:
    slack.stub.fail("chat.postMessage", times=1, status=429, retry_after=0)
    card = await slack.report(ALEX)
    assert "#1" in card.text_of_blocks
    assert len(slack.cards()) == 1


async def test_a_channel_the_bot_is_not_in_is_retried_not_lost(slack: SlackWorld) -> None:
    slack.stub.fail("chat.postMessage", times=1, error="not_in_channel")
    view = await slack.command("", ALEX)
    await slack.submit(view, {**REPORT_DEFAULTS, "problem": "Leads arrive twice"}, ALEX)
    assert not slack.cards()
    slack.clock.advance(seconds=31)
    await slack.bot.service.deliver()
    assert len(slack.cards()) == 1


async def test_the_tick_command_delivers_what_is_pending(slack: SlackWorld, monkeypatch, tmp_path) -> None:
    slack.stub.fail("chat.postMessage", status=500)
    view = await slack.command("", ALEX)
    await slack.submit(view, {**REPORT_DEFAULTS, "problem": "Leads arrive twice"}, ALEX)
    assert not slack.cards()

    monkeypatch.chdir(tmp_path)  # no .env here
    for name, value in {
        "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": rq.SIGNING_SECRET, "SLACK_API_URL": slack.stub.url,
        "DATABASE_URL": str(slack.engine.url.render_as_string(hide_password=False)),
        "IMPROVE_INTAKE_CHANNEL": INTAKE, "IMPROVE_APPROVERS": MAYA, "IMPROVE_SECRET_KEY": "tick-command-secret-key",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    later = slack.clock.advance(minutes=5).isoformat()
    assert await asyncio.to_thread(main, ["tick", "--now", later]) == 0
    assert len(slack.cards()) == 1
    assert len(slack.thread(slack.cards()[0])) == 1
    assert await asyncio.to_thread(main, ["tick", "--now", later]) == 0
    assert len(slack.cards()) == 1  # nothing twice
    slack.stub.fail("chat.postMessage", times=50, status=503)
    view = await slack.command("", ALEX)
    await slack.submit(view, {**REPORT_DEFAULTS, "problem": "Proposals are late"}, ALEX)
    later = slack.clock.advance(minutes=5).isoformat()
    assert await asyncio.to_thread(main, ["tick", "--now", later]) == 0  # it ran: Slack's outage is retried later


async def test_payloads_missing_their_user_or_team_change_nothing_and_leave_no_trace(slack: SlackWorld, caplog) -> None:
    body, _ = rq.block_action("approve", "1:1", MAYA, channel=INTAKE, message_ts="1.0")
    payload = json.loads(urllib.parse.parse_qs(body.decode())["payload"][0])
    del payload["user"]
    response = await slack.send(rq.form({"payload": json.dumps(payload)}))
    assert response.status_code == 400  # malformed: Slack never sends a click without its user
    command = dict(urllib.parse.parse_qsl(rq.slash_command("x", ALEX)[0].decode()))
    command["team_id"] = ""
    assert (await slack.send(rq.form(command))).status_code == 400  # and a command from no workspace
    assert not slack.stub.of("views.open") and not slack.stub.of("chat.postEphemeral")
    assert not [r for r in caplog.records if r.exc_info or r.levelname == "ERROR"]


async def test_a_reply_also_sent_to_the_channel_is_still_an_answer(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    await slack.reply(card.ts, "Two web forms", ALEX, subtype="thread_broadcast")
    assert "Why #2" in slack.thread(card)[-1].text_of_blocks


async def test_replies_in_threads_that_are_not_improvements_store_nothing(slack: SlackWorld) -> None:
    await slack.reply("1699999999.000001", "chatting elsewhere", ALEX)
    assert count(slack, ProcessedEvent) == 0


async def test_when_the_database_fails_the_modal_stays_open_with_what_was_typed(slack: SlackWorld) -> None:
    view = await slack.command("", ALEX)
    with slack.engine.begin() as connection:
        connection.execute(text("ALTER TABLE improvement RENAME TO improvement_away"))
    try:
        response = await slack.submit(view, {**REPORT_DEFAULTS, "problem": "Leads twice"}, ALEX)
    finally:
        with slack.engine.begin() as connection:
            connection.execute(text("ALTER TABLE improvement_away RENAME TO improvement"))
    # SQLite reports the missing table as an OperationalError (unavailable), PostgreSQL as a ProgrammingError
    assert response.json() in [{"response_action": "errors", "errors": {"problem": said}}
                               for said in (NOT_SAVED, UNAVAILABLE)]  # fmt: skip
    assert not slack.posts()
    response = await slack.submit(view, {**REPORT_DEFAULTS, "problem": "Leads twice"}, ALEX)  # tried again
    assert response.status_code == 200 and not response.content
    assert len(slack.cards()) == 1


async def test_no_user_text_anywhere_can_ping(slack: SlackWorld) -> None:
    hostile = "@here <!channel> <@U0BOSS>"
    card = await slack.report(ALEX, f"{hostile} problem", idea=hostile)
    await slack.reply(card.ts, hostile, ALEX)
    await slack.click(slack.thread(card)[-1], "root_cause", ALEX)
    proposal = {**PROPOSAL, "countermeasure": hostile, "measure": hostile, "unit": "<!here>", "not_to_do": hostile}
    await slack.click_and_submit(slack.thread(card)[-1], "propose", ALEX, proposal)
    await slack.click_and_submit(slack.thread(card)[-1], "question", MAYA, {"text": hostile})
    await slack.click_and_submit(slack.thread(card)[-1], "resubmit", ALEX, proposal)
    await slack.click(slack.thread(card)[-1], "approve", MAYA)
    await slack.click_and_submit(slack.thread(card)[-1], "mark_implemented", ALEX,
                                 {"metric_now": "3", "note": hostile})  # fmt: skip

    sent = slack.stub.of("chat.postMessage") + slack.stub.of("chat.update")
    assert len(sent) > 10
    for call in sent:
        for text_object in mrkdwn_objects(call["blocks"]):
            assert text_object.get("verbatim") is True  # Slack won't auto-link a typed @here
            assert "<!channel>" not in text_object["text"] and "<@U0BOSS>" not in text_object["text"]
        assert "<!channel>" not in call["text"] and "<@U0BOSS>" not in call["text"]


def mrkdwn_objects(node) -> list[dict]:
    if isinstance(node, dict):
        found = [node] if node.get("type") == "mrkdwn" else []
        return found + [o for value in node.values() for o in mrkdwn_objects(value)]
    if isinstance(node, list):
        return [o for item in node for o in mrkdwn_objects(item)]
    return []


async def test_a_failure_after_the_ack_is_still_answered(slack: SlackWorld, monkeypatch, caplog) -> None:
    card = await slack.report(ALEX)
    await slack.reply(card.ts, "Two web forms", ALEX)

    async def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(slack.bot.service, "click", broken)
    monkeypatch.setattr(slack.bot.service, "command", broken)
    clicked = await slack.click(slack.thread(card)[-1], "root_cause", ALEX)
    commanded = await slack.send(rq.slash_command("checkins", ALEX, response_url=slack.stub.response_url))

    assert (clicked.status_code, commanded.status_code) == (200, 200)
    assert slack.ephemerals(ALEX)[-1] == SORRY
    assert slack.stub.of("response_url")[-1]["text"] == SORRY
    assert len([r for r in caplog.records if r.exc_info]) == 2  # each logged once, with its traceback
