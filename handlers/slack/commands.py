"""`/improve [text]`: ack at once, then open the report form (trigger ids expire in about 3 s)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.forms import MAX_PROBLEM
from bot.service import ImproveService
from handlers.slack import render

HELP = (
    "*/improve* opens the form to report a broken process. "
    "*/improve <what's broken>* opens it with your text filled in.\n"
    "The bot posts a card in the intake channel and coaches a 5 Whys search in its thread; "
    "approvers approve right there."
)


def register(app: AsyncApp, service: ImproveService) -> None:
    @app.command("/improve")
    async def improve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        text = str(body.get("text") or "").strip()
        if text.lower() in ("help", "?"):
            await respond(text=HELP, response_type="ephemeral")
            return
        context = {"channel": str(body.get("channel_id", ""))}
        form = await service.report_form(str(body["team_id"]), text, context)
        await client.views_open(trigger_id=body["trigger_id"], view=render.modal(form))
        if len(text) > MAX_PROBLEM:
            await respond(
                response_type="ephemeral",
                text=(
                    f"Your text is {len(text):,} characters; the form takes {MAX_PROBLEM:,}, so it opened with the "
                    "first part. Here is the rest, so nothing is lost:\n>>> " + render.escape(text[MAX_PROBLEM:])
                ),
            )
