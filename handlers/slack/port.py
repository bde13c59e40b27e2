"""Slack's side of the platform seam: posting through the Web API, and who may approve."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

import aiohttp
from cachetools import TTLCache
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.messages import Message
from bot.core.ports import ChatError, Posted
from handlers.slack import render

log = logging.getLogger("improvebot.slack")

# errors an admin or time can fix: keep the message and try again later
RETRYABLE = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "team_access_not_granted",
}


# an ephemeral message cannot be shown in that channel: say it in a DM instead
NOT_THERE = ("channel_not_found", "not_in_channel", "user_not_in_channel", "is_archived")


def make_client(token: str, base_url: str) -> AsyncWebClient:
    """The Web API client: retries 429s (honouring Retry-After), 5xx and dropped connections a couple of times."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=10,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


class SlackChat:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    @staticmethod
    async def _guarded(method: str, request: Awaitable[Any]) -> Any:
        """Slack's answer, or a ChatError saying whether a later retry can help."""
        try:
            return await request
        except SlackApiError as exc:
            error = str(exc.response.get("error", "")) or f"HTTP {exc.response.status_code}"
            retryable = error in RETRYABLE or exc.response.status_code >= 500 or exc.response.status_code == 429
            raise ChatError(f"{method}: {error}", retryable=retryable) from exc
        except (TimeoutError, aiohttp.ClientError, OSError, SlackClientError) as exc:
            raise ChatError(f"{method}: {type(exc).__name__}: {exc}") from exc

    async def _call(self, method: str, **kwargs: Any) -> Any:
        return await self._guarded(method, self._client.api_call(method, json=kwargs))

    async def _post(self, **kwargs: Any) -> Posted:
        """chat.postMessage, and where the message landed: an answer without it is an error, not a message."""
        response = await self._call("chat.postMessage", unfurl_links=False, **kwargs)
        channel, ts = response.get("channel"), response.get("ts")
        if not isinstance(channel, str) or not isinstance(ts, str) or not channel or not ts:
            raise ChatError("chat.postMessage: an answer without the message's channel and ts", retryable=False)
        return Posted(channel=channel, ref=ts)

    async def post(self, channel: str, message: Message) -> Posted:
        return await self._post(channel=channel, **render.message(message))

    async def reply(self, channel: str, thread: str, message: Message) -> Posted:
        return await self._post(channel=channel, thread_ts=thread, **render.message(message))

    async def update(self, channel: str, ref: str, message: Message) -> None:
        await self._call("chat.update", channel=channel, ts=ref, **render.message(message))

    async def upload(self, channel: str, filename: str, title: str, content: bytes) -> None:
        upload = self._client.files_upload_v2(
            channel=channel, file=content, filename=filename, title=title, request_file_info=False
        )
        await self._guarded("files_upload_v2", upload)

    async def dm(self, user: str, message: Message) -> Posted:
        return await self._post(channel=user, **render.message(message))

    async def private(self, user: str, message: Message, where: str | None) -> None:
        """Ephemeral where the person acted; a DM when that channel cannot show it (they left it, it is gone)."""
        if where:
            try:
                await self._call("chat.postEphemeral", channel=where, user=user, **render.message(message))
                return
            except ChatError as exc:
                if not any(error in str(exc) for error in NOT_THERE):
                    raise  # an outage or a limit: the whole message is tried again later
        await self._post(channel=user, **render.message(message))


class SlackDirectory:
    """Approvers are user ids and user-group ids; with none configured, workspace admins and owners.
    Answers are cached for a minute; any failure to ask Slack counts as 'no' (fail closed)."""

    TTL = 60.0
    MAX_CACHED = 10_000  # answers kept at most (people, groups): the least recently used go first

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._cache: TTLCache[str, Any] = TTLCache(maxsize=self.MAX_CACHED, ttl=self.TTL)

    async def _cached(self, key: str, method: str, **kwargs: Any) -> Any:
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        response = await self._client.api_call(method, http_verb="GET", params=kwargs)
        self._cache[key] = response.data
        return response.data

    async def timezone(self, user: str) -> str | None:
        try:
            info = await self._cached(f"user:{user}", "users.info", user=user)
        except (SlackApiError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("could not read the time zone of %s: %s", user, exc)
            return None
        tz = info.get("user", {}).get("tz")
        return tz if isinstance(tz, str) else None

    async def is_approver(self, user: str, approvers: list[str]) -> bool:
        try:
            if not approvers:
                info = await self._cached(f"user:{user}", "users.info", user=user)
                profile = info.get("user", {})
                return bool(profile.get("is_admin") or profile.get("is_owner"))
            if user in approvers:
                return True
            for group in (a for a in approvers if a.startswith("S")):
                members = await self._cached(f"group:{group}", "usergroups.users.list", usergroup=group)
                if user in members.get("users", []):
                    return True
            return False
        except (TimeoutError, SlackApiError, aiohttp.ClientError, OSError) as exc:
            log.warning("could not check approver rights of %s: %s", user, exc)
            return False


async def notify_private(
    client: AsyncWebClient, channel: str | None, user: str, said: str | Message, thread: str | None = None
) -> None:
    """A message only `user` sees (plain text, or a Message with its buttons): ephemeral where they acted, else
    (or if that fails) a DM. Best effort."""
    content = render.message(said) if isinstance(said, Message) else {"text": render.escape(said)}
    if channel:
        kwargs: dict[str, Any] = {"channel": channel, "user": user, **content}
        if thread:
            kwargs["thread_ts"] = thread
        try:
            await client.api_call("chat.postEphemeral", json=kwargs)
            return
        except (TimeoutError, SlackApiError, aiohttp.ClientError, OSError) as exc:
            log.info("ephemeral to %s in %s failed (%s); sending a DM instead", user, channel, exc)
    try:
        await client.api_call("chat.postMessage", json={"channel": user, **content})
    except (TimeoutError, SlackApiError, aiohttp.ClientError, OSError) as exc:
        log.warning("could not tell %s privately: %s", user, exc)


async def answer_privately(
    respond: AsyncRespond, client: AsyncWebClient, channel: str | None, user: str, said: str | Message
) -> None:
    """The answer to a slash command: through its response_url when it has one that works, else (a command
    without one, or Slack refusing it) as notify_private does. The person is never left without an answer."""
    if respond.response_url:
        content = render.message(said) if isinstance(said, Message) else {"text": render.escape(said)}
        try:
            answered = await respond(response_type="ephemeral", **content)
            if answered is not None and answered.status_code == 200:
                return
        except (TimeoutError, SlackClientError, aiohttp.ClientError, OSError, ValueError) as exc:
            log.info("the command's response_url failed (%s); answering privately instead", type(exc).__name__)
    await notify_private(client, channel, user, said)
