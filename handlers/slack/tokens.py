"""Each Slack workspace's bot token: the one configured (one workspace, SLACK_BOT_TOKEN), or (installed to many
through OAuth, handlers.slack.install) the one its installation holds, refreshed before it expires where Slack
rotates tokens; and `TeamClient`, one Web API client that sends each call with the token of the workspace the
work under way is for (bot.core.ports.WORKSPACE)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
from cachetools import TTLCache
from slack_sdk.errors import SlackClientError
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.core.clock import Clock
from bot.core.ports import WORKSPACE
from bot.core.workspace import mark_installed
from storage.db import DOWN, transaction
from storage.models import SLACK_BOTS, SlackTeam

log = logging.getLogger("improvebot.slack")
ROTATE_MINUTES = 120  # a rotating token is refreshed this long before it expires (Bolt's default too)


class NotInstalled(SlackClientError):
    """No bot token for this workspace: the app was never installed there, or was removed."""


class TokensUnavailable(SlackClientError):
    """The installation could not be read (the database is down): try again later."""


def _identity(bot: Bot) -> str:
    """One installation (an org-wide one serves many workspaces): rotated once, whichever workspace asks."""
    return f"{bot.enterprise_id or ''}/{bot.team_id or ''}"


def _expiring(bot: Bot) -> bool:
    return bool(bot.bot_refresh_token) and (bot.bot_token_expires_at or 0) <= time.time() + ROTATE_MINUTES * 60


class Tokens:
    """Read from the database at most once a minute per workspace (a removed app's token is gone at once from this
    process, and from the others within the minute; Slack refuses it meanwhile). One process refreshes a rotating
    token once (Slack's refresh tokens are used once); a refreshed token the database could not take is kept here."""

    def __init__(
        self, engine: Engine, clock: Clock, *, token: str = "", client_id: str = "", client_secret: str = "",
        api_url: str = "",
    ) -> None:  # fmt: skip
        self.single = token
        self._engine = engine
        self._clock = clock
        self.store = SQLAlchemyInstallationStore(client_id, engine) if client_id else None
        oauth = AsyncWebClient(base_url=api_url) if api_url else AsyncWebClient()
        self.rotator = AsyncTokenRotator(client_id=client_id, client_secret=client_secret, client=oauth)
        self._bots: TTLCache[str, Bot] = TTLCache(maxsize=10_000, ttl=60)
        self._seen: TTLCache[str, str] = TTLCache(maxsize=10_000, ttl=3600)  # team -> its organisation, written
        self._fresh: dict[str, Bot] = {}  # installation -> the token this process refreshed last
        self._rotating: dict[str, asyncio.Lock] = {}

    async def of(self, team: str) -> str:
        if self.single:
            return self.single
        bot = await self.bot(team)
        if bot is None or not bot.bot_token:
            raise NotInstalled(f"the app is not installed in workspace {team[:20]!r}")
        return bot.bot_token

    async def bot(self, team: str) -> Bot | None:
        """The installation's bot of `team` (refreshed first when its token is about to expire); None: none."""
        found = self._bots.get(team)
        if found is None:
            try:
                found = await asyncio.to_thread(self._find, team)
            except DOWN as exc:
                raise TokensUnavailable(f"the installation cannot be read: {type(exc).__name__}") from exc
            if found is None:
                return None
        found = await self.current(found)
        self._bots[team] = found
        return found

    async def current(self, bot: Bot) -> Bot:
        """`bot` as this process knows it newest, refreshed first when its token is about to expire."""
        known = self._fresh.get(_identity(bot))
        if known is not None and (known.bot_token_expires_at or 0) > (bot.bot_token_expires_at or 0):
            bot = known
        return await self._rotate(bot) if _expiring(bot) else bot

    def _find(self, team: str) -> Bot | None:
        assert self.store is not None
        with Session(self._engine) as session:
            row = session.get(SlackTeam, team)
            if row is None or not row.enterprise_id:  # a workspace of an organisation installed on its own
                query = select(SLACK_BOTS.c.enterprise_id).where(SLACK_BOTS.c.team_id == team).limit(1)
                enterprise = session.exec(query).first()
            else:
                enterprise = row.enterprise_id
        bot = self.store.find_bot(enterprise_id=enterprise or None, team_id=team)
        if bot is None and enterprise:  # an org-wide install serves every workspace of the org
            bot = self.store.find_bot(enterprise_id=enterprise, team_id=None, is_enterprise_install=True)
        return bot

    async def _rotate(self, bot: Bot) -> Bot:
        key = _identity(bot)
        async with self._rotating.setdefault(key, asyncio.Lock()):
            known = self._fresh.get(key)
            if known is not None and (known.bot_token_expires_at or 0) > (bot.bot_token_expires_at or 0):
                if not _expiring(known):
                    return known  # refreshed while this one waited
                bot = known  # its refresh token is the one that works
            try:
                fresh = await self.rotator.perform_bot_token_rotation(bot=bot, minutes_before_expiration=ROTATE_MINUTES)
            except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning("could not refresh the bot token of a workspace: %s", type(exc).__name__)
                return bot  # still valid for a while: refreshed on a later use
            if fresh is None:
                return bot
            self._fresh[key] = fresh  # first: its refresh token is the only one that works now
            assert self.store is not None
            try:
                await asyncio.to_thread(self.store.save_bot, fresh)
            except DOWN as exc:
                log.error("a refreshed bot token could not be stored (%s): this process keeps it", type(exc).__name__)
            return fresh

    async def seen(self, team: str, enterprise: str) -> None:
        """A request came from `team` of organisation `enterprise` ("" when none): remembered, so the token of an
        org-wide install is found for the workspace's messages. A known organisation is never forgotten."""
        if self.single or not team:
            return
        known = self._seen.get(team)
        if known is not None and (known == enterprise or not enterprise):
            return  # nothing new

        def remember() -> str:
            with transaction(self._engine) as session:
                row = session.get(SlackTeam, team) or SlackTeam(team_id=team, seen_at=self._clock.now())
                row.enterprise_id, row.seen_at = enterprise or row.enterprise_id, self._clock.now()
                session.add(row)
                return row.enterprise_id

        self._seen[team] = await asyncio.to_thread(remember)

    def forget(self, teams: list[str]) -> None:
        for team in teams:
            self._bots.pop(team, None)

    def installed(self, enterprise: str | None, team: str | None, *, now_installed: bool) -> list[str]:
        """Record an install (or a removal) in the workspaces it covers: one, or every known one of an org (a
        removal: those without an install of their own)."""
        with transaction(self._engine) as session:
            if team:
                teams = [team]
                row = session.get(SlackTeam, team) or SlackTeam(team_id=team, seen_at=self._clock.now())
                row.enterprise_id = enterprise or row.enterprise_id
                session.add(row)
            else:
                query = select(SlackTeam.team_id).where(SlackTeam.enterprise_id == (enterprise or ""))
                own = select(SLACK_BOTS.c.team_id).where(SLACK_BOTS.c.team_id.is_not(None))
                installed_alone = set() if now_installed else set(session.exec(own).all())
                teams = [t for t in session.exec(query).all() if t not in installed_alone]
            mark_installed(session, "slack", teams, installed=now_installed, now=self._clock.now())
        self.forget(teams)
        return teams


class SharedRotation(AsyncTokenRotator):
    """Bolt's authorize refreshes a token through `Tokens`, so one process refreshes it once, whoever asks."""

    def __init__(self, tokens: Tokens) -> None:
        super().__init__(client_id=tokens.rotator.client_id, client_secret=tokens.rotator.client_secret,
                         client=tokens.rotator.client)  # fmt: skip
        self._tokens = tokens

    async def perform_bot_token_rotation(
        self, *, bot: Bot, minutes_before_expiration: int = ROTATE_MINUTES
    ) -> Bot | None:
        fresh = await self._tokens.current(bot)
        return None if fresh.bot_token == bot.bot_token else fresh


class TeamClient(AsyncWebClient):
    """One Web API client for every workspace: a call that names no token of its own carries the bot token of the
    workspace the work under way is for (bot.core.ports.WORKSPACE)."""

    def __init__(self, tokens: Tokens, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokens = tokens

    async def api_call(
        self, api_method: str, *, headers: dict[str, str] | None = None, auth: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:  # fmt: skip
        parts = [kwargs.get(part) for part in ("params", "json", "data")]
        named = auth is not None or any(isinstance(part, dict) and "token" in part for part in parts)
        if not named and self.token is None:
            headers = {**(headers or {}), "Authorization": f"Bearer {await self.tokens.of(WORKSPACE.get())}"}
        return await super().api_call(api_method, headers=headers, auth=auth, **kwargs)
