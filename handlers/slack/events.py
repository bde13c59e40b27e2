"""Thread replies: the reporter's answers to the 5 Whys. A retried event, or the same message under another
event id, is taken once: it is known by its event id and by its channel and ts.

Over HTTP the route calls `take` before answering Slack, so a message that could not be looked at (the database
unavailable) is answered 503 and Slack sends it again; in Socket Mode the Bolt listener calls it after the ack."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.outcomes import NOT_RECORDED
from bot.service import ImproveService
from handlers.slack import render
from handlers.slack.payload import dig
from handlers.slack.port import notify_private
from storage.db import Unavailable

log = logging.getLogger("improvebot.slack")

# a plain reply, a reply also sent to the channel, a reply with a file attached
ANSWER_SUBTYPES = (None, "thread_broadcast", "file_share")


async def take(service: ImproveService, body: dict[str, Any], *, deliver: bool = True) -> bool:
    """True when the message was taken as an answer. Raises Unavailable when it could not be looked at."""
    event = body.get("event")
    if not isinstance(event, dict):
        return False
    if event.get("subtype") in CHANGES:
        return await _changed(service, body, event, deliver=deliver)
    if event.get("subtype") not in ANSWER_SUBTYPES or event.get("bot_id") or not event.get("user"):
        return False  # edits, joins, bots and the bot itself are not answers
    if private(body):  # a direct message to the bot: an anonymous reporter's words to pass on
        return await service.private_message(
            dig(body, "team_id") or dig(event, "team"),
            channel=dig(event, "channel"),
            user=dig(event, "user"),
            text=render.unescape(dig(event, "text")),
            ids=(dig(body, "event_id"), f"{dig(event, 'channel')}:{dig(event, 'ts')}"),
            deliver=deliver,
        )
    thread = event.get("thread_ts")
    if not thread or thread == event.get("ts"):
        return False  # only replies inside a thread
    return await service.thread_reply(
        dig(body, "team_id") or dig(event, "team"),
        channel=dig(event, "channel"),
        thread=str(thread),
        user=dig(event, "user"),
        text=render.unescape(dig(event, "text")),
        ids=(dig(body, "event_id"), f"{dig(event, 'channel')}:{dig(event, 'ts')}"),
        ref=f"{dig(event, 'channel')}:{dig(event, 'ts')}",
        deliver=deliver,
    )


CHANGES = ("message_changed", "message_deleted")
IN_PRIVATE = (
    "I pass on what people who reported anonymously write to me here. To report a broken process, type "
    "/improve; /improve help lists everything else."
)


def private(body: dict[str, Any]) -> bool:
    """A person's new message in their direct chat with the bot."""
    event = body.get("event")
    return (
        isinstance(event, dict)
        and event.get("channel_type") == "im"
        and event.get("subtype") is None
        and not event.get("bot_id")
        and bool(event.get("user"))
    )


async def answer_in_private(client: AsyncWebClient, body: dict[str, Any]) -> None:
    """A direct message nobody took: what the bot does here, so nobody writes into silence."""
    try:
        await client.chat_postMessage(channel=dig(body["event"], "channel"), text=IN_PRIVATE)
    except SlackApiError as exc:
        log.warning("could not answer a direct message: %s", exc.response.get("error"))


async def _changed(service: ImproveService, body: dict[str, Any], event: dict[str, Any], *, deliver: bool) -> bool:
    """An edited or deleted thread message: when it was an answer to a why, the answer follows it."""
    deleted = event.get("subtype") == "message_deleted"
    message = event.get("previous_message" if deleted else "message")
    if not isinstance(message, dict) or message.get("bot_id") or not message.get("user"):
        return False
    ts = event.get("deleted_ts") if deleted else message.get("ts")
    thread = message.get("thread_ts")
    if not ts or not thread or thread == ts:
        return False  # only replies inside a thread were ever answers
    channel = dig(event, "channel")
    return await service.thread_reply(
        dig(body, "team_id") or dig(event, "team"),
        channel=channel,
        thread=str(thread),
        user=dig(message, "user"),
        text="" if deleted else render.unescape(dig(message, "text")),
        ids=(),
        ref=f"{channel}:{ts}",
        kind="deleted" if deleted else "edited",
        deliver=deliver,
    )


async def not_recorded(client: AsyncWebClient, body: dict[str, Any], intake_channel: str) -> None:
    """A message that could not be looked at and will not come again: when it was written in an improvement's
    thread (they live in the intake channel), its author is told, privately and in the thread, to send it again."""
    event = body.get("event")
    event = event if isinstance(event, dict) else {}
    channel, user, thread = dig(event, "channel"), dig(event, "user"), dig(event, "thread_ts")
    log.warning("a thread message could not be looked at: the database is unavailable")
    if channel == intake_channel and user and thread and not event.get("bot_id"):
        await notify_private(client, channel, user, NOT_RECORDED, thread)
    elif private(body):  # a direct message: said in the same chat
        await client.chat_postMessage(channel=channel, text=NOT_RECORDED)


def register(app: AsyncApp, service: ImproveService, intake_channel: str) -> None:
    @app.event("message")
    async def message(body: dict[str, Any], client: AsyncWebClient) -> None:  # Socket Mode: acked already
        try:
            if not await take(service, body) and private(body):
                await answer_in_private(client, body)
        except Unavailable:  # Socket Mode sends nothing again
            await not_recorded(client, body, intake_channel)
