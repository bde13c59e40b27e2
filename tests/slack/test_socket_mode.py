"""Socket Mode: the same listeners, reached over Slack's WebSocket protocol instead of HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.parse

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from sqlmodel import Session, select

from handlers.slack.app import build_slack
from storage.models import Workspace
from tests.conftest import ALEX, make_settings
from tests.support import slack_requests as rq
from tests.support.slack_api import APP_TOKEN
from tests.support.socket_mode import SocketModeServer


async def wait_for(condition, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_the_command_arrives_over_socket_mode_is_acked_and_opens_the_form(db, clock, slack_api) -> None:
    server = SocketModeServer()
    slack_api.socket_url = await server.start()
    bot = build_slack(make_settings(slack_api, SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET=""),
                      engine=db, clock=clock, socket_mode=True)  # fmt: skip
    handler = AsyncSocketModeHandler(bot.app, APP_TOKEN)
    try:
        await handler.connect_async()
        body, _ = rq.slash_command("Leads arrive twice", ALEX, response_url=slack_api.response_url)
        command = dict(urllib.parse.parse_qsl(body.decode()))
        envelope_id = await server.push("slash_commands", command)

        ack = await asyncio.wait_for(server.acks.get(), 10)
        assert ack["envelope_id"] == envelope_id
        await wait_for(lambda: slack_api.of("views.open"))
        view = slack_api.of("views.open")[0]["view"]
        assert view["callback_id"] == "report"
        metadata = json.loads(view["private_metadata"])
        assert metadata["channel"] == "C0GENERAL" and re.fullmatch(r"[0-9a-f]{32}", metadata["instance"])
        assert slack_api.of("apps.connections.open")
    finally:
        await handler.close_async()
        await server.stop()


async def test_over_socket_mode_another_workspace_creates_nothing(db, clock, slack_api) -> None:
    server = SocketModeServer()
    slack_api.socket_url = await server.start()
    bot = build_slack(make_settings(slack_api, SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET=""),
                      engine=db, clock=clock, socket_mode=True)  # fmt: skip
    handler = AsyncSocketModeHandler(bot.app, APP_TOKEN)
    try:
        await handler.connect_async()
        body, _ = rq.slash_command("Leads arrive twice", ALEX, team="T0OTHER", response_url=slack_api.response_url)
        envelope_id = await server.push("slash_commands", dict(urllib.parse.parse_qsl(body.decode())))

        ack = await asyncio.wait_for(server.acks.get(), 10)
        assert ack["envelope_id"] == envelope_id
        assert ack["payload"]["text"] == "Sorry, this Improve bot is set up for another Slack workspace."
        assert not slack_api.of("views.open")
        with Session(db) as session:
            assert session.exec(select(Workspace)).all() == []
    finally:
        await handler.close_async()
        await server.stop()
