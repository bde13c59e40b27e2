"""Button clicks in the thread: route to the use case, then open its form or explain privately."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import views
from bot.service import ImproveService, Notice, OpenForm
from handlers.slack import render
from handlers.slack.port import notify_private

ACTIONS = re.compile(
    "^("
    + "|".join(
        [
            views.ROOT_CAUSE,
            views.PROPOSE,
            views.APPROVE,
            views.DECLINE,
            views.QUESTION,
            views.RESUBMIT,
            views.MARK_IMPLEMENTED,
        ]
    )
    + ")$"
)


def team_of(body: dict[str, Any]) -> str:
    team = body.get("team") or {}
    return str(team.get("id") or (body.get("user") or {}).get("team_id") or "")


def register(app: AsyncApp, service: ImproveService) -> None:
    @app.action(ACTIONS)
    async def click(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        action = body["actions"][0]
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id")
        thread = (body.get("message") or {}).get("thread_ts")
        outcome = await service.click(team_of(body), user, action["action_id"], str(action.get("value", "")))
        if isinstance(outcome, OpenForm):
            form = outcome.form.model_copy(update={"context": {**outcome.form.context, "channel": channel or ""}})
            await client.views_open(trigger_id=body["trigger_id"], view=render.modal(form))
        elif isinstance(outcome, Notice):
            await notify_private(client, channel, user, outcome.text, thread)
