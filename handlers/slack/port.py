"""Slack's side of the platform seam: posting through the Web API, and who may approve."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

import aiohttp
from cachetools import LRUCache, TTLCache
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.messages import Message
from bot.core.ports import WORKSPACE, ChatError, Destination, Posted
from handlers.pacing import Pacer, Rate
from handlers.slack import render
from handlers.slack.tokens import NotInstalled, TeamClient, Tokens

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


# Slack's Web API tiers (calls per minute per workspace and method; bursts are allowed)
TIER_2, TIER_3, TIER_4 = Rate(20 / 60, 5), Rate(50 / 60, 10), Rate(100 / 60, 20)
TIERS = {
    "chat.update": TIER_3,
    "chat.postEphemeral": TIER_4,
    "conversations.open": TIER_3,
    "conversations.history": TIER_3,
    "conversations.replies": TIER_3,
    "views.publish": TIER_4,
    "files.delete": TIER_3,
    "files": TIER_4,  # files_upload_v2: files.getUploadURLExternal, then files.completeUploadExternal
}
RATE_LIMIT_RETRIES = 8  # a 429 waits out its Retry-After this many times within one send, then backoff
EVENT_TYPE = "improvebot_outbox"  # the metadata every posted message carries: which outbox row it is
SEARCH_PAGES = 10  # at most this many pages of 200 messages are searched for a message whose answer was lost
# answers after which a post may have gone out all the same (Slack: "part of the operation may have succeeded")
AMBIGUOUS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
# the person (or the Home tab) is not there any more: nothing sent to them can arrive
GONE = {"user_not_found", "user_disabled", "not_enabled"}
# the history cannot be read (the scope was not granted yet, the bot is not in the channel): sent again instead
CANNOT_LOOK = ("missing_scope", "not_in_channel", "channel_not_found", "thread_not_found", "not_allowed_token_type")


def make_pacer(workspace: Rate, channel: Rate) -> Pacer:
    """chat.postMessage: one bucket per channel and one per workspace; other methods: their tier, per workspace
    (a key ends in "@" and the workspace's id)."""

    def rate_of(key: str) -> Rate | None:
        kind, _, name = key.rpartition("@")[0].partition(":")
        if kind == "workspace":
            return workspace
        if kind == "channel":
            return channel
        return TIERS.get(name)

    return Pacer(rate_of)


def _client(tokens: str | Tokens, **kwargs: Any) -> AsyncWebClient:
    """One workspace's token, or (installed to many) the token of the workspace each call is for."""
    if isinstance(tokens, Tokens) and not tokens.single:
        return TeamClient(tokens, **kwargs)
    return AsyncWebClient(token=tokens if isinstance(tokens, str) else tokens.single, **kwargs)


def make_client(tokens: str | Tokens, base_url: str) -> AsyncWebClient:
    """The Web API client for answering people: retries 429s (honouring Retry-After), 5xx and dropped
    connections a couple of times. (Delivery uses make_sender: it must never resend blindly.)"""
    return _client(
        tokens,
        base_url=base_url,
        timeout=10,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def make_sender(tokens: str | Tokens, base_url: str, timeout: float) -> AsyncWebClient:
    """The Web API client delivery sends with: no retries of its own (a post retried after its answer was lost
    can post twice; delivery looks first, see SlackChat.find), and a timeout long enough for a slow Slack."""
    return _client(tokens, base_url=base_url, timeout=int(max(1, timeout)), retry_handlers=[])


def _retry_after(response: Any) -> float:
    try:
        return max(1.0, float(response.headers.get("Retry-After", 1)))
    except (TypeError, ValueError, AttributeError):
        return 1.0


class SlackChat:
    """Delivery's side of Slack: every call paced (make_pacer), a 429 held by its own bucket only, and
    every new message carrying its outbox key in its metadata, so a post whose answer was lost can be found."""

    def __init__(self, client: AsyncWebClient, pacer: Pacer | None = None) -> None:
        self._client = client
        self._pacer = pacer or Pacer(lambda _key: None)  # unpaced unless told
        self._dms: TTLCache[str, str] = TTLCache(maxsize=10_000, ttl=3600)  # person -> their DM's channel id
        self._permalinks: LRUCache[tuple[str, str], str] = LRUCache(maxsize=10_000)  # (channel, ts) -> link

    @staticmethod
    async def _guarded(method: str, request: Awaitable[Any]) -> Any:
        """Slack's answer, or a ChatError saying whether a later retry can help and whether Slack may have
        carried the call out although no answer came (a timeout or a dropped connection after sending)."""
        try:
            return await request
        except SlackApiError as exc:
            status = exc.response.status_code
            error = str(exc.response.get("error", "")) or f"HTTP {status}"
            if status == 429 or error == "ratelimited":
                raise ChatError(f"{method}: ratelimited", retry_after=_retry_after(exc.response)) from exc
            retryable = error in RETRYABLE or status >= 500
            unknown = method == "chat.postMessage" and (status >= 500 or error in AMBIGUOUS)
            gone = error in GONE
            raise ChatError(f"{method}: {error}", retryable=retryable, unknown=unknown, gone=gone) from exc
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:  # never reached Slack
            raise ChatError(f"{method}: {type(exc).__name__}: {exc}") from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:  # sent, and then the answer was lost
            raise ChatError(f"{method}: {type(exc).__name__}: {exc}", unknown=True) from exc
        except NotInstalled as exc:  # removed from the workspace: nothing for it can go any more
            raise ChatError(f"{method}: {exc}", retryable=False) from exc
        except SlackClientError as exc:
            raise ChatError(f"{method}: {type(exc).__name__}: {exc}") from exc

    async def _paced(self, method: str, bucket: str, call: Any) -> Any:
        """`call()` once its buckets allow; a 429 holds `bucket` (the channel's, or the method's) for its
        Retry-After and the call goes again, a few times, before it counts as failed."""
        posting = method == "chat.postMessage"
        team = WORKSPACE.get()
        keys = (f"{bucket}@{team}", f"workspace:@{team}") if posting else (f"{bucket}@{team}",)
        # paced under the workspace limit, a 429 on a post is the channel's: the post keeps its room and goes again
        return await self._pacer.send(
            method, keys, lambda: self._guarded(method, call()), retries=RATE_LIMIT_RETRIES, refund=posting
        )

    async def _call(self, method: str, **kwargs: Any) -> Any:
        bucket = f"channel:{kwargs.get('channel', '')}" if method == "chat.postMessage" else f"method:{method}"
        return await self._paced(method, bucket, lambda: self._client.api_call(method, json=kwargs))

    async def _read(self, method: str, **params: Any) -> Any:
        return await self._paced(
            method, f"method:{method}", lambda: self._client.api_call(method, http_verb="GET", params=params)
        )

    async def _post(self, key: str, **kwargs: Any) -> Posted:
        """chat.postMessage, and where the message landed: an answer without it is an error, not a message."""
        if key:
            kwargs["metadata"] = {"event_type": EVENT_TYPE, "event_payload": {"outbox": key}}
        response = await self._call("chat.postMessage", unfurl_links=False, **kwargs)
        channel, ts = response.get("channel"), response.get("ts")
        if not isinstance(channel, str) or not isinstance(ts, str) or not channel or not ts:
            raise ChatError("chat.postMessage: an answer without the message's channel and ts", unknown=True)
        return Posted(channel=channel, ref=ts)

    async def post(self, channel: str, message: Message, *, key: str = "") -> Posted:
        return await self._post(key, channel=channel, **render.message(message))

    async def reply(self, channel: str, thread: str, message: Message, *, key: str = "") -> Posted:
        return await self._post(key, channel=channel, thread_ts=thread, **render.message(message))

    async def update(self, channel: str, ref: str, message: Message) -> None:
        await self._call("chat.update", channel=channel, ts=ref, **render.message(message))

    async def upload(self, channel: str, filename: str, title: str, content: bytes, *, thread: str = "") -> None:
        def upload() -> Any:
            return self._client.files_upload_v2(
                channel=channel,
                file=content,
                filename=filename,
                title=title,
                thread_ts=thread or None,
                request_file_info=False,
            )

        await self._paced("files_upload_v2", "method:files", upload)

    async def image(self, filename: str, title: str, content: bytes, *, key: str) -> str | None:
        """Uploaded once, shared nowhere: the bot's own file, shown in its views and messages by its id."""

        def upload() -> Any:
            return self._client.files_upload_v2(file=content, filename=filename, title=title,
                                                request_file_info=False)  # fmt: skip

        answer = await self._paced("files_upload_v2", "method:files", upload)
        files = answer.get("files") if answer is not None else None
        file_id = files[0].get("id") if isinstance(files, list) and files and isinstance(files[0], dict) else None
        if not isinstance(file_id, str) or not file_id:
            raise ChatError("files_upload_v2: an answer without the file's id")
        return file_id

    async def forget_image(self, ref: str) -> None:
        try:
            await self._call("files.delete", file=ref)
        except ChatError as exc:
            if "file_not_found" not in str(exc) and "file_deleted" not in str(exc):
                raise

    async def home(self, user: str, message: Message) -> None:
        await self._call("views.publish", user_id=user, view=render.home(message))

    async def dm(self, user: str, message: Message, *, key: str = "") -> Posted:
        return await self._post(key, channel=user, **render.message(message))

    async def permalink(self, channel: str, ref: str) -> str | None:
        """chat.getPermalink (a message's link never changes: asked once); a message that cannot have its link now
        goes without it (it names the thread)."""
        known = self._permalinks.get((channel, ref))
        if known is not None:
            return known
        try:
            answer = await self._read("chat.getPermalink", channel=channel, message_ts=ref)
        except ChatError as exc:
            log.warning("no permalink for %s/%s: %s", channel, ref, exc)
            return None
        link = answer.get("permalink")
        if not isinstance(link, str) or not link.startswith("https://"):
            return None
        self._permalinks[(channel, ref)] = link
        return link

    async def find(self, where: Destination, key: str, since: datetime) -> Posted | None:
        """Look for the message carrying `key` in the conversation's history (a thread: its replies) since a
        minute before `since`. Needs the history scopes (channels:, groups:, im:history) and im:write; where
        the history cannot be read, the message is sent again (and may show twice), never given up."""
        try:
            return await self._find(where, key, since)
        except ChatError as exc:
            if not any(error in str(exc) for error in CANNOT_LOOK):
                raise  # an outage or a limit: looked for again later
            log.warning("outbox %s: cannot look for it (%s); sending it again", key, exc)
            return None

    async def _dm_channel(self, user: str) -> str:
        """The id of the bot's direct-message conversation with `user` (D…), opened once and remembered."""
        where = f"{WORKSPACE.get()}/{user}"  # one person of an organisation has a conversation in each workspace
        channel = self._dms.get(where) or ""
        if not channel:
            opened = await self._call("conversations.open", users=user)
            channel = str((opened.get("channel") or {}).get("id") or "")
            if not channel:
                raise ChatError("conversations.open: an answer without the conversation's id")
            self._dms[where] = channel
        return channel

    async def send_file(self, user: str, filename: str, title: str, content: bytes) -> None:
        """Uploaded into the person's direct messages (files need the conversation's id, not the person's)."""
        await self.upload(await self._dm_channel(user), filename, title, content)

    async def _find(self, where: Destination, key: str, since: datetime) -> Posted | None:
        channel = await self._dm_channel(where.target) if where.kind == "dm" else where.target
        method = "conversations.replies" if where.kind == "reply" else "conversations.history"
        params: dict[str, Any] = {"channel": channel, "oldest": f"{since.timestamp() - 60:.6f}", "limit": 200,
                                  "include_all_metadata": "true"}  # fmt: skip
        if where.kind == "reply":
            params["ts"] = where.thread
        for _ in range(SEARCH_PAGES):
            page = await self._read(method, **params)
            for found in page.get("messages") or []:
                metadata = found.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == EVENT_TYPE and payload.get("outbox") == key and found.get("ts"):
                    return Posted(channel=channel, ref=str(found["ts"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
            params["cursor"] = cursor
        log.warning("outbox %s: not found in %s pages of %s; sending it again", key, SEARCH_PAGES, method)
        return None

    async def private(self, user: str, message: Message, where: str | None) -> None:
        """Ephemeral where the person acted; a DM when that channel cannot show it (they left it, it is gone)."""
        if where:
            try:
                await self._call("chat.postEphemeral", channel=where, user=user, **render.message(message))
                return
            except ChatError as exc:
                if not any(error in str(exc) for error in NOT_THERE):
                    raise  # an outage or a limit: the whole message is tried again later
        await self._post("", channel=user, **render.message(message))


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
            log.info("an ephemeral in %s failed (%s); sending a DM instead", channel, exc)
    try:
        await client.api_call("chat.postMessage", json={"channel": user, **content})
    except (TimeoutError, SlackApiError, aiohttp.ClientError, OSError) as exc:
        log.warning("could not tell a person privately: %s", exc)


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
