"""The door in front of Bolt: unsigned requests get 401 and one escaped log line, signed but malformed payloads
400, well-formed kinds this app does not handle 200, and none of them a 500 or a traceback."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qsl, urlencode

import pytest
from sqlmodel import Session, select

from storage.models import Workspace
from tests.conftest import ALEX
from tests.support import slack_requests as rq
from tests.support.world import SlackWorld

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def no_trace(caplog) -> None:
    assert not [r for r in caplog.records if r.exc_info or r.levelname in ("ERROR", "CRITICAL")]


def interaction(payload: object) -> bytes:
    return urlencode({"payload": payload if isinstance(payload, str) else json.dumps(payload)}).encode()


def click(**changes: object) -> dict:
    body, _ = rq.block_action("approve", "1:1", ALEX, channel="C0INTAKE", message_ts="1.0")
    payload = json.loads(dict(parse_qsl(body.decode()))["payload"])
    payload.update(changes)
    return payload


def message_event(**event: object) -> bytes:
    base = {"type": "message", "channel": "C0INTAKE", "user": ALEX, "text": "hi", "ts": "1.2", "thread_ts": "1.1"}
    return json.dumps(
        {"type": "event_callback", "team_id": "T0001", "event_id": "Ev1", "event": {**base, **event}}
    ).encode()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": "9" * 5000, "X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": b"v0=\xff\xff"},
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "0" * 64},
    ],
    ids=["no headers", "non-numeric timestamp", "huge timestamp", "non-ascii signature", "wrong signature"],
)
async def test_an_unsigned_request_gets_401_and_one_escaped_line(slack: SlackWorld, caplog, headers) -> None:
    body = b"token=xoxb-1234-5678-SECRET&text=hi\n2026-11-21 INFO improvebot: approved by admin"

    response = await slack.send((body, FORM), headers=headers, signed=False)

    assert response.status_code == 401
    lines = [r for r in caplog.records if r.name.startswith(("improvebot", "slack_bolt"))]
    assert len(lines) == 1 and "\n" not in lines[0].getMessage()
    assert "xoxb" not in caplog.text and "approved by admin" not in caplog.text
    assert slack.stub.calls == []
    no_trace(caplog)


async def test_stale_and_non_utf8_bodies_are_unsigned_too(slack: SlackWorld, caplog) -> None:
    body = rq.slash_command("help", ALEX)[0]
    stale = await slack.send((body, FORM), headers=rq.sign(body, timestamp=int(time.time()) - 600), signed=False)
    latin = b"text=caf\xe9"
    not_utf8 = await slack.send((latin, FORM), headers=rq.sign(latin), signed=False)
    assert (stale.status_code, not_utf8.status_code) == (401, 401)
    no_trace(caplog)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", JSON),
        (b"[1, 2]", JSON),
        (b"[" * 50_000, JSON),
        (b'{"type": 5}', JSON),
        (b'{"type": "url_verification"}', JSON),
        (interaction("notjson"), FORM),
        (interaction([1]), FORM),
        (interaction(click(team=5)), FORM),
        (interaction(click(actions=[])), FORM),
        (interaction(click(actions=[{"action_id": 5}])), FORM),
        (interaction(click(actions="approve")), FORM),
        (interaction(click(user={"id": "U" + "9" * 200})), FORM),
        (interaction(click(enterprise=5)), FORM),
        (interaction({"type": "view_submission", "user": {"id": ALEX}, "view": {"callback_id": 5}}), FORM),
        (interaction({"type": "view_submission", "user": {"id": ALEX}, "view": 5}), FORM),
        (
            interaction(
                {
                    "type": "view_submission",
                    "user": {"id": ALEX},
                    "response_urls": None,
                    "view": {"type": "modal", "callback_id": "report"},
                }
            ),
            FORM,
        ),
        (message_event(text=float("nan")), JSON),
        (message_event(user=["U1"]), JSON),
        (message_event(channel="C" * 500), JSON),
        (b"nothing=here", FORM),
    ],
)
async def test_a_signed_but_malformed_payload_gets_400(slack: SlackWorld, caplog, body: bytes, content_type) -> None:
    response = await slack.send((body, content_type))

    assert response.status_code == 400
    assert slack.stub.calls == []
    no_trace(caplog)


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"type": "event_callback", "team_id": "T0001", "event": {"type": "reaction_added"}}).encode(),
        json.dumps({"type": "app_rate_limited", "team_id": "T0001"}).encode(),
        interaction({"type": "shortcut", "callback_id": "x", "user": 5}),
        interaction({"type": "view_closed", "view": "odd"}),
    ],
)
async def test_well_formed_kinds_this_app_does_not_handle_are_acknowledged(slack: SlackWorld, caplog, body) -> None:
    content_type = FORM if body.startswith(b"payload=") else JSON

    response = await slack.send((body, content_type))

    assert response.status_code == 200 and response.content == b""
    assert slack.stub.calls == []
    no_trace(caplog)


async def test_the_url_verification_challenge_is_answered(slack: SlackWorld) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    response = await slack.send((body.encode(), JSON))
    assert response.status_code == 200
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in response.text


async def test_bolt_sees_the_body_as_the_door_read_it(slack: SlackWorld, caplog) -> None:
    view = await slack.command("the payload is wrong", ALEX)  # Bolt's own reading lost any text with 'payload'
    problem = next(b for b in view["blocks"] if b.get("block_id") == "problem")
    assert problem["element"]["initial_value"] == "the payload is wrong"

    event = {"type": "event_callback", "team_id": "T0OTHER", "event": {"type": "message", "channel": "C0INTAKE",
             "user": ALEX, "text": "&command=/improve&team_id=T0001&user_id=U0ALEX&text=x", "ts": "1.2",
             "thread_ts": "1.1", "authorizations": 5}}  # fmt: skip
    response = await slack.send((json.dumps(event).encode(), FORM))  # JSON, labelled as a form

    assert response.status_code in (200, 400)
    with Session(slack.engine) as session:
        assert [w.external_id for w in session.exec(select(Workspace))] == ["T0001"]
    no_trace(caplog)
