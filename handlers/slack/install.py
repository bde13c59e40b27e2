"""Installing to many Slack workspaces (OAuth, `/slack/install`): Bolt's flow with slack-sdk's SQLAlchemy stores in
the project's own database (threaded: they are synchronous), and the bot token of the workspace each piece of work
is for (`Tokens`, `TeamClient`), refreshed before it expires where Slack rotates tokens. Removing the app deletes
the workspace's tokens at once and starts its retention clock (bot.rights.retention erases its data after it)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from cachetools import TTLCache
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackClientError
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.core.clock import Clock
from bot.core.config import Settings
from bot.core.ports import WORKSPACE
from bot.core.workspace import mark_installed
from storage.db import DOWN, transaction
from storage.models import SlackTeam

log = logging.getLogger("improvebot.slack")

# what the app asks for when installed: app.yaml's bot scopes (tests/slack/test_manifest.py holds them equal)
BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "channels:history",
    "groups:history",
    "im:history",
    "users:read",
    "usergroups:read",
    "channels:read",
    "groups:read",
    "im:write",
    "files:write",
)
ROTATE_MINUTES = 120  # a rotating token is refreshed this long before it expires (Bolt's default too)
STATE_SECONDS = 600  # an install link works this long


class NotInstalled(SlackClientError):
    """No bot token for this workspace: the app was never installed there, or was removed."""


class TokensUnavailable(SlackClientError):
    """The installation could not be read (the database is down): try again later."""


class Tokens:
    """The bot token for a workspace: the one configured (single-token mode), or its installation's. Read from the
    database at most once a minute per workspace (a removed app's token is gone at once from this process, and from
    the others within the minute; Slack refuses it meanwhile)."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        token: str = "",
        client_id: str = "",
        client_secret: str = "",
        api_url: str = "",
    ) -> None:
        self.single = token
        self._engine = engine
        self._clock = clock
        self.store = SQLAlchemyInstallationStore(client_id, engine) if client_id else None
        self.states = SQLAlchemyOAuthStateStore(STATE_SECONDS, engine)
        oauth = AsyncWebClient(base_url=api_url) if api_url else AsyncWebClient()
        self.rotator = AsyncTokenRotator(client_id=client_id, client_secret=client_secret, client=oauth)
        self._bots: TTLCache[str, Bot] = TTLCache(maxsize=10_000, ttl=60)
        self._seen: TTLCache[str, str] = TTLCache(maxsize=10_000, ttl=3600)  # team -> its organisation, written
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
            self._bots[team] = found
        if found.bot_refresh_token and (found.bot_token_expires_at or 0) <= time.time() + ROTATE_MINUTES * 60:
            found = await self._rotate(team, found)
        return found

    def _find(self, team: str) -> Bot | None:
        assert self.store is not None
        with Session(self._engine) as session:
            row = session.get(SlackTeam, team)
        enterprise = row.enterprise_id if row is not None and row.enterprise_id else None
        bot = self.store.find_bot(enterprise_id=enterprise, team_id=team)
        if bot is None and enterprise is not None:  # an org-wide install serves every workspace of the org
            bot = self.store.find_bot(enterprise_id=enterprise, team_id=None, is_enterprise_install=True)
        return bot

    async def _rotate(self, team: str, bot: Bot) -> Bot:
        async with self._rotating.setdefault(team, asyncio.Lock()):
            current = self._bots.get(team) or bot
            try:
                fresh = await self.rotator.perform_bot_token_rotation(
                    bot=current, minutes_before_expiration=ROTATE_MINUTES
                )
            except (SlackClientError, OSError, TimeoutError) as exc:
                log.warning("could not refresh the bot token of a workspace: %s", type(exc).__name__)
                return current  # still valid for a while: refreshed on a later use
            if fresh is None:
                return current
            assert self.store is not None
            await asyncio.to_thread(self.store.save_bot, fresh)
            self._bots[team] = fresh
            return fresh

    async def seen(self, team: str, enterprise: str) -> None:
        """A request came from `team` of organisation `enterprise` ("" when none): remembered, so the token of an
        org-wide install is found for the workspace's messages."""
        if self.single or not team or self._seen.get(team) == enterprise:
            return

        def remember() -> None:
            with transaction(self._engine) as session:
                row = session.get(SlackTeam, team) or SlackTeam(team_id=team, seen_at=self._clock.now())
                row.enterprise_id, row.seen_at = enterprise, self._clock.now()
                session.add(row)

        await asyncio.to_thread(remember)
        self._seen[team] = enterprise

    def forget(self, teams: list[str]) -> None:
        for team in teams:
            self._bots.pop(team, None)

    # -- what installing and removing the app change ----------------------------------------------------

    def installed(self, enterprise: str | None, team: str | None, *, now_installed: bool) -> list[str]:
        """Record an install (or a removal) in the workspaces it covers: one, or every known one of an org."""
        with transaction(self._engine) as session:
            if team:
                teams = [team]
                row = session.get(SlackTeam, team) or SlackTeam(team_id=team, seen_at=self._clock.now())
                row.enterprise_id = enterprise or ""
                session.add(row)
            else:
                query = select(SlackTeam.team_id).where(SlackTeam.enterprise_id == (enterprise or ""))
                teams = list(session.exec(query).all())
            mark_installed(session, "slack", teams, installed=now_installed, now=self._clock.now())
        self.forget(teams)
        return teams


class ThreadedInstallations(AsyncInstallationStore):
    """slack-sdk's SQLAlchemy installation store, run off the event loop; an install starts (and a removal stops)
    serving the workspace. A revoked bot token is the app removed: nothing is left that could act."""

    def __init__(self, tokens: Tokens) -> None:
        assert tokens.store is not None
        self._tokens = tokens
        self._store = tokens.store

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        await asyncio.to_thread(self._store.save, installation)
        await asyncio.to_thread(self._tokens.installed, installation.enterprise_id, installation.team_id,
                                now_installed=True)  # fmt: skip

    async def async_save_bot(self, bot: Bot) -> None:
        await asyncio.to_thread(self._store.save_bot, bot)

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        return await asyncio.to_thread(self._store.find_bot, enterprise_id=enterprise_id, team_id=team_id,
                                       is_enterprise_install=is_enterprise_install)  # fmt: skip

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return await asyncio.to_thread(self._store.find_installation, enterprise_id=enterprise_id, team_id=team_id,
                                       user_id=user_id, is_enterprise_install=is_enterprise_install)  # fmt: skip

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await asyncio.to_thread(self._store.delete_bot, enterprise_id=enterprise_id, team_id=team_id)
        await asyncio.to_thread(self._store.delete_installation, enterprise_id=enterprise_id, team_id=team_id)
        teams = await asyncio.to_thread(self._tokens.installed, enterprise_id, team_id, now_installed=False)
        log.info("the app was removed from %s workspace(s): their tokens are deleted", len(teams))

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await asyncio.to_thread(self._store.delete_installation, enterprise_id=enterprise_id, team_id=team_id,
                                user_id=user_id)  # fmt: skip


class ThreadedStates(AsyncOAuthStateStore):
    """slack-sdk's SQLAlchemy state store, run off the event loop: each install link's state is used once."""

    def __init__(self, store: SQLAlchemyOAuthStateStore) -> None:
        self._store = store

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        return await asyncio.to_thread(self._store.issue)

    async def async_consume(self, state: str) -> bool:
        return await asyncio.to_thread(self._store.consume, state)


async def _failed(args: AsyncFailureArgs) -> BoltResponse:
    """Bolt's page for a failed install, with an honest status: the database failing is 503 (try again), not 500."""
    log.warning("a Slack install failed: %s", args.reason)
    response = await args.default.failure(args)
    if args.reason == "storage_error" or response.status >= 500:
        response.status = 503
    return response


async def _succeeded(args: AsyncSuccessArgs) -> BoltResponse:
    log.info("installed in a Slack workspace (org-wide: %s)", bool(args.installation.is_enterprise_install))
    return await args.default.success(args)


def redirect_uri(settings: Settings) -> str | None:
    """Where Slack sends the browser back after an install: on this server's public address when it has one
    (IMPROVE_PUBLIC_URL), else the app's only Redirect URL (Slack's default)."""
    return settings.improve_public_url.rstrip("/") + "/slack/oauth_redirect" if settings.improve_public_url else None


def oauth_settings(tokens: Tokens, client_id: str, client_secret: str, redirect_uri: str | None) -> AsyncOAuthSettings:
    return AsyncOAuthSettings(
        client_id=client_id,
        client_secret=client_secret,
        scopes=list(BOT_SCOPES),
        redirect_uri=redirect_uri,
        installation_store=ThreadedInstallations(tokens),
        installation_store_bot_only=True,
        token_rotation_expiration_minutes=ROTATE_MINUTES,
        state_store=ThreadedStates(tokens.states),
        state_expiration_seconds=STATE_SECONDS,
        callback_options=AsyncCallbackOptions(success=_succeeded, failure=_failed),
    )


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
