"""`/improve [text]`: ack at once, then let the service parse it (the one command grammar) and answer: open its
form (trigger ids expire in about 3 s), or reply privately."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.commands import Misspelled, misspelled_text
from bot.core.outcomes import Notice, OpenForm, Show
from bot.service import ImproveService
from handlers.slack import render
from handlers.slack.actions import open_form
from handlers.slack.payload import dig

COMMAND = "/improve"
OTHER_COMMANDS = re.compile(r"^/(?!improve$)")  # another command pointed at this app, e.g. /improvements


def register(app: AsyncApp, service: ImproveService) -> None:
    @app.command(COMMAND)
    async def improve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        team, user, channel = dig(body, "team_id"), dig(body, "user_id"), dig(body, "channel_id")
        if not team or not user:
            return
        text = dig(body, "text")
        outcome = await service.command(team, user, text, {"channel": channel})
        if isinstance(outcome, OpenForm):
            await open_form(client, dig(body, "trigger_id"), outcome.form, channel or None, user)
            if outcome.leftover:
                await respond(
                    response_type="ephemeral", text=f"{outcome.LEFTOVER}\n>>> {render.escape(outcome.leftover)}"
                )
        elif isinstance(outcome, Show):
            await respond(response_type="ephemeral", **render.message(outcome.message))
        elif isinstance(outcome, Notice):
            await respond(response_type="ephemeral", text=render.escape(outcome.text))

    @app.command(OTHER_COMMANDS)
    async def other(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        hint = misspelled_text(Misspelled(dig(body, "command")), COMMAND)
        await respond(response_type="ephemeral", text=render.escape(hint))
