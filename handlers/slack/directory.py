"""Who people are on Slack: approvers (user ids and user groups), workspace admins and owners, time zones."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import aiohttp
from cachetools import TTLCache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.ports import WORKSPACE, ChatError

log = logging.getLogger("improvebot.slack")


def _retrieved(task: asyncio.Task[Any]) -> None:
    """A background read nobody awaited any more: its failure is logged where it happened, not 'never retrieved'."""
    if not task.cancelled():
        task.exception()


class SlackDirectory:
    """Approvers are user ids and user-group ids; with none configured, workspace admins and owners.
    Answers are cached for a minute, per workspace (bot.core.ports.WORKSPACE: installed in many, each is asked
    with its own token); any failure to ask Slack counts as 'no' (fail closed)."""

    TTL = 60.0
    MAX_CACHED = 10_000  # answers kept at most (people, groups): the least recently used go first
    ADMINS_TTL = 600.0  # the admins and owners (users.list pages through every member: Tier 2)
    ADMINS_WAIT = 1.5  # seconds a form submission waits for the first read of them
    MAX_PAGES = 250  # of 200 members: 50,000 people

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._cache: TTLCache[str, Any] = TTLCache(maxsize=self.MAX_CACHED, ttl=self.TTL)
        self._admins_of: TTLCache[str, tuple[list[str], float]] = TTLCache(
            maxsize=self.MAX_CACHED, ttl=self.ADMINS_TTL * 6
        )
        self._admins_tasks: dict[str, asyncio.Task[list[str]]] = {}

    async def _cached(self, key: str, method: str, **kwargs: Any) -> Any:
        key = f"{WORKSPACE.get()}/{key}"
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        response = await self._client.api_call(method, http_verb="GET", params=kwargs)
        self._cache[key] = response.data
        return response.data

    async def can_post(self, channel: str, *, member: bool = False) -> str | None:
        """Public channels take the bot's posts without it (chat:write.public); private ones, and any channel
        whose messages it must read (`member`), need it invited."""
        try:
            response = await self._client.api_call("conversations.info", http_verb="GET", params={"channel": channel})
        except SlackApiError as exc:
            if exc.response.get("error") == "channel_not_found":
                return "The bot cannot see that channel: invite it there first (/invite @Improve)."
            if exc.response.get("error") in ("missing_scope", "not_allowed_token_type"):
                return "The bot cannot check channels yet: reinstall the app (it now asks to see channels)."
            log.warning("could not check a channel: %s", exc.response.get("error"))
            return None  # cannot tell: not held against the choice
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("could not check a channel: %s", type(exc).__name__)
            return None
        info = response.get("channel") or {}
        if info.get("is_im") or info.get("is_mpim"):
            return "Pick a channel, not a direct message."
        if info.get("is_archived"):
            return "That channel is archived."
        if (member or info.get("is_private")) and not info.get("is_member"):
            return (
                "The bot is not in that channel: invite it there first (/invite @Improve), so it can read the threads."
            )
        return None

    async def timezone(self, user: str) -> str | None:
        try:
            info = await self._cached(f"user:{user}", "users.info", user=user)
        except (SlackApiError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("could not read the time zone of %s: %s", user, exc)
            return None
        tz = info.get("user", {}).get("tz")
        return tz if isinstance(tz, str) else None

    async def people(self, approvers: list[str]) -> list[str]:
        found: dict[str, None] = {}
        for entry in approvers:
            if not entry.startswith("S"):
                found[entry] = None
                continue
            try:
                members = await self._cached(f"group:{entry}", "usergroups.users.list", usergroup=entry)
            except SlackApiError as exc:
                error = str(exc.response.get("error", ""))
                if exc.response.status_code >= 500 or error in ("ratelimited", "internal_error", "fatal_error"):
                    raise ChatError(f"usergroups.users.list: {error}") from exc
                log.warning("approver group %s cannot be read (%s): left out", entry, error)  # a wrong id, say
                continue
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                raise ChatError(f"usergroups.users.list: {exc}") from exc
            found.update((m, None) for m in members.get("users", []) if isinstance(m, str))
        return list(found)

    async def admins(self) -> list[str]:
        """Every admin and owner of the workspace (users.list, paged), kept ADMINS_TTL seconds and then refreshed in
        the background while the last list still answers. A person submitting a form waits at most ADMINS_WAIT for
        the first read (Slack wants an answer within 3 s): past it, ChatError, and the read goes on for the next
        try."""
        team = WORKSPACE.get()
        known, read_at = self._admins_of.get(team) or (None, 0.0)
        if known is not None and time.monotonic() - read_at < self.ADMINS_TTL:
            return list(known)
        task = self._admins_tasks.get(team)
        if task is None or task.done():
            task = self._admins_tasks[team] = asyncio.ensure_future(self._read_admins(team))
            task.add_done_callback(_retrieved)
            task.add_done_callback(lambda done: self._admins_tasks.pop(team, None) if done is task else None)
        if known is not None:
            return list(known)  # stale while it is read again
        try:
            return list(await asyncio.wait_for(asyncio.shield(task), self.ADMINS_WAIT))
        except TimeoutError:
            raise ChatError("users.list: still reading the workspace's members") from None

    async def stop(self) -> None:
        """Stop the reads under way (before the HTTP session they use closes: a read left on a closed session
        waited for its whole timeout)."""
        reading = [task for task in self._admins_tasks.values() if not task.done()]
        for task in reading:
            task.cancel()
        await asyncio.gather(*reading, return_exceptions=True)

    async def warm(self) -> None:
        """Read the admins in the background at start-up (a failure is logged; the next use reads again)."""
        with contextlib.suppress(ChatError):
            await self.admins()

    async def _read_admins(self, team: str) -> list[str]:
        admins: list[str] = []
        cursor = ""
        try:
            for _ in range(self.MAX_PAGES):
                params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
                response = await self._client.api_call("users.list", http_verb="GET", params=params)
                page = response.data if isinstance(response.data, dict) else {}
                for member in page.get("members") or []:
                    if member.get("deleted") or member.get("is_bot") or member.get("id") == "USLACKBOT":
                        continue
                    if (member.get("is_admin") or member.get("is_owner")) and isinstance(member.get("id"), str):
                        admins.append(member["id"])
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
                if not cursor:
                    break
        except (TimeoutError, SlackApiError, aiohttp.ClientError, OSError) as exc:
            log.warning("could not read the workspace's admins: %s", exc)
            raise ChatError(f"users.list: {exc}") from exc
        self._admins_of[team] = (admins, time.monotonic())
        return admins

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
