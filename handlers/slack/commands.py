"""`/improve [text]`: ack at once, then open the report form (trigger ids expire in about 3 s)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.forms import MAX_PROBLEM
from bot.service import ImproveService
from handlers.slack import render
from handlers.slack.actions import open_form
from handlers.slack.payload import dig

HELP = (
    "*/improve* opens the form to report a broken process. "
    "*/improve <what's broken>* opens it with your text filled in. "
    "*/improve checkins* lists your check-ins waiting for an answer.\n"
    "The bot posts a card in the intake channel and coaches a 5 Whys search in its thread; "
    "approvers approve right there."
)


def register(app: AsyncApp, service: ImproveService) -> None:
    @app.command("/improve")
    async def improve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        text = dig(body, "text").strip()
        if text.lower() in ("help", "?"):
            await respond(text=HELP, response_type="ephemeral")
            return
        team, user, channel = dig(body, "team_id"), dig(body, "user_id"), dig(body, "channel_id")
        if not team or not user:
            return
        if text.lower() in ("checkins", "check-ins", "checkin"):
            pending = await service.pending_checkins(team, user)
            await respond(response_type="ephemeral", **render.message(pending))
            return
        form = await service.report_form(team, text, {"channel": channel})
        await open_form(client, dig(body, "trigger_id"), form, channel or None, user)
        if len(text) > MAX_PROBLEM:
            await respond(
                response_type="ephemeral",
                text=(
                    f"Your text is {len(text):,} characters; the form takes {MAX_PROBLEM:,}, so it opened with the "
                    "first part. Here is the rest, so nothing is lost:\n>>> " + render.escape(text[MAX_PROBLEM:])
                ),
            )
