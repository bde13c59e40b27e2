"""`/improve [text]`: ack at once, then let the service parse it (the one command grammar) and answer: open its
form (trigger ids expire in about 3 s), or reply privately."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.commands import Misspelled, misspelled_text
from bot.core.messages import Message
from bot.core.outcomes import SORRY, Notice, OpenForm, Show
from bot.service import ImproveService
from handlers.slack.actions import open_form
from handlers.slack.payload import dig
from handlers.slack.port import answer_privately

log = logging.getLogger("improvebot.slack")
COMMAND = "/improve"
OTHER_COMMANDS = re.compile(r"^/(?!improve$)")  # another command pointed at this app, e.g. /improvements


def register(app: AsyncApp, service: ImproveService) -> None:
    @app.command(COMMAND)
    async def improve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        team, user, channel = dig(body, "team_id"), dig(body, "user_id"), dig(body, "channel_id") or None
        if not team or not user:
            return

        async def say(said: str | Message) -> None:
            await answer_privately(respond, client, channel, user, said)

        try:
            outcome = await service.command(team, user, dig(body, "text"), {"channel": channel or ""})
            if isinstance(outcome, OpenForm):
                await open_form(client, dig(body, "trigger_id"), outcome.form, channel, user)
                if outcome.leftover:
                    await say(f"{outcome.LEFTOVER}\n{outcome.leftover}")
            elif isinstance(outcome, Show):
                await say(outcome.message)
            elif isinstance(outcome, Notice):
                await say(outcome.text)
        except Exception:  # acknowledged already: the person must still hear something
            log.exception("/improve failed for %s", user)
            await say(SORRY)

    @app.command(OTHER_COMMANDS)
    async def other(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        hint = misspelled_text(Misspelled(dig(body, "command")), COMMAND)
        await answer_privately(respond, client, dig(body, "channel_id") or None, dig(body, "user_id"), hint)
