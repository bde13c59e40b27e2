"""Thread replies: the reporter's answers to the 5 Whys. A retried event, or the same message under another
event id, is taken once: it is known by its event id and by its channel and ts."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.service import ImproveService
from handlers.slack import render
from handlers.slack.payload import dig

# a plain reply, a reply also sent to the channel, a reply with a file attached
ANSWER_SUBTYPES = (None, "thread_broadcast", "file_share")


def register(app: AsyncApp, service: ImproveService) -> None:
    @app.event("message")
    async def message(body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("subtype") not in ANSWER_SUBTYPES or event.get("bot_id") or not event.get("user"):
            return  # edits, joins, bots and the bot itself are not answers
        thread = event.get("thread_ts")
        if not thread or thread == event.get("ts"):
            return  # only replies inside a thread
        await service.thread_reply(
            dig(body, "team_id") or dig(event, "team"),
            channel=dig(event, "channel"),
            thread=str(thread),
            user=dig(event, "user"),
            text=render.unescape(dig(event, "text")),
            ids=(dig(body, "event_id"), f"{dig(event, 'channel')}:{dig(event, 'ts')}"),
        )
