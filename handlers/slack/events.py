"""Thread replies: the reporter's answers to the 5 Whys. Retries of an event are deduplicated by event_id."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.service import ImproveService
from handlers.slack import render


def register(app: AsyncApp, service: ImproveService) -> None:
    @app.event("message")
    async def message(body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("subtype") or event.get("bot_id") or not event.get("user"):
            return  # edits, joins, bots and the bot itself are not answers
        thread = event.get("thread_ts")
        if not thread or thread == event.get("ts"):
            return  # only replies inside a thread
        await service.thread_reply(
            str(body.get("team_id") or event.get("team") or ""),
            channel=str(event.get("channel", "")),
            thread=str(thread),
            user=str(event["user"]),
            text=render.unescape(str(event.get("text") or "")),
            event_id=str(body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}"),
        )
