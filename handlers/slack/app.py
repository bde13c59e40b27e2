"""Build the Slack side: one Bolt AsyncApp wired to the product's service. Listeners register in one place."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine

from bot.assembly import assemble
from bot.core.clock import Clock
from bot.core.config import Settings
from bot.core.identity import sealer_of
from bot.core.ports import WORKSPACE
from bot.core.workspace import WorkspaceSettings, apply_settings
from bot.service import ImproveService
from bot.tick import Ticker
from handlers.logs import hold_bodies
from handlers.pacing import Rate
from handlers.slack import actions, commands, errors, events, home, render, shortcuts, views
from handlers.slack.directory import SlackDirectory
from handlers.slack.install import Installs, oauth_settings, redirect_uri
from handlers.slack.payload import team_of
from handlers.slack.port import SlackChat, make_client, make_pacer, make_sender
from handlers.slack.tokens import Tokens, TokensUnavailable
from storage.db import DOWN, transaction

log = logging.getLogger("improvebot.slack")
OTHER_WORKSPACE = "Sorry, this Improve bot is set up for another Slack workspace."
NOT_INSTALLED = "Improve is not installed in this workspace any more: ask an admin to add it again."


@dataclass
class SlackBot:
    app: AsyncApp
    service: ImproveService
    client: AsyncWebClient
    ticker: Ticker
    workspace_settings: WorkspaceSettings
    engine: Engine
    verifier: SignatureVerifier | None  # None in Socket Mode (no HTTP requests from Slack)
    sender: AsyncWebClient | None = None  # delivery's own client (make_sender)
    directory: SlackDirectory | None = None
    tokens: Tokens | None = None  # each workspace's bot token (handlers.slack.tokens)
    oauth: Installs | None = None  # installed to many workspaces: the install flow's stores, removals
    _team: str | None = None
    _ask_after: float = 0.0
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def background(self, work: Coroutine[Any, Any, Any]) -> None:
        """Work after Slack has been answered (delivering what a message event queued)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def team_id(self) -> str | None:
        """The workspace the bot token belongs to (auth.test, asked once); None while Slack cannot say (asked
        within 2 s, and not again for 10 s after a failure, so requests are answered within Slack's 3 s)."""
        if self._team is None and time.monotonic() >= self._ask_after:
            try:
                answer = await asyncio.wait_for(self.client.auth_test(), 2)
            except (SlackApiError, aiohttp.ClientError, TimeoutError, OSError) as exc:
                log.warning("could not ask Slack which workspace the token is for: %s", type(exc).__name__)
                self._ask_after = time.monotonic() + 10
                return None
            team = answer.get("team_id")
            self._team = team if isinstance(team, str) and team else None
        return self._team

    @property
    def installs(self) -> bool:
        """Installed through Slack's OAuth flow in any number of workspaces (else: one token, one workspace)."""
        return self.oauth is not None

    async def serves(self, team: str, enterprise: str) -> bool | None:
        """Whether requests from `team` are served: the token's own workspace, or (installed to many) one where
        the app is installed. None: cannot tell right now (Slack or the database did not answer)."""
        if not self.installs:
            ours = await self.team_id()
            return None if ours is None else team == ours
        assert self.tokens is not None
        try:
            await self.tokens.seen(team, enterprise)
            return await self.tokens.bot(team) is not None
        except (TokensUnavailable, *DOWN) as exc:
            log.warning("could not read where the app is installed: %s", type(exc).__name__)
            return None

    def refresh_settings(self) -> None:
        """Configuration wins: store the current settings with every Slack workspace before scheduled work runs."""
        with transaction(self.engine) as session:
            apply_settings(session, "slack", self.workspace_settings)

    async def start(self) -> None:
        """While serving, reuse one HTTP connection pool for every Web API call (instead of one per call); learn
        which workspace the token serves before the first request needs it."""
        for client in (self.client, self.sender):
            if client is not None and client.session is None:
                client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client.timeout))
        if self.installs:
            return  # many workspaces: each is asked about when it writes
        self.background(self._learn())  # in the background: serving starts at once even when Slack is slow

    async def _learn(self) -> None:
        """Which workspace the token serves; then who its admins are, read before the first proposal waits."""
        team = await self.team_id()
        if team is not None and self.directory is not None:
            WORKSPACE.set(team)  # this task's own: the admins are kept as that workspace's
            await self.directory.warm()

    async def stop(self) -> None:
        """Stop delivering (what is held is released) before the HTTP sessions close."""
        await self.ticker.stop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.directory is not None:
            await self.directory.stop()
        for client in (self.client, self.sender):
            session = client.session if client is not None else None
            if client is not None and session is not None:
                client.session = None
                await session.close()


def build_slack(settings: Settings, *, engine: Engine, clock: Clock, socket_mode: bool = False) -> SlackBot:
    hold_bodies()
    secret = settings.slack_client_secret.get_secret_value()
    tokens = Tokens(engine, clock, token=settings.slack_bot_token, client_id=settings.slack_client_id,
                    client_secret=secret, api_url=settings.slack_api_url)  # fmt: skip
    client = make_client(tokens, settings.slack_api_url)
    sender = make_sender(tokens, settings.slack_api_url, settings.improve_send_timeout)
    pacer = make_pacer(
        Rate(settings.improve_slack_posts_per_second, max(1.0, settings.improve_slack_posts_per_second)),
        Rate(settings.improve_slack_channel_posts_per_second, settings.improve_slack_channel_burst),
    )
    workspace_settings = WorkspaceSettings.from_settings(settings)
    if settings.slack_oauth:  # the configured channels and approvers are nobody's: each workspace's admin picks its
        workspace_settings = replace(workspace_settings, intake_channel="", wins_channel="", approvers=[],
                                     fallback_approvers=[])  # fmt: skip
    directory = SlackDirectory(client)
    core = assemble(
        engine=engine,
        clock=clock,
        platform="slack",
        db_timeout=settings.improve_db_timeout,
        chat=SlackChat(sender, pacer),
        concurrency=settings.improve_delivery_concurrency,
        bulk=settings.improve_delivery == "serve",
        directory=directory,
        settings_for=lambda _team: workspace_settings,
        sealer=sealer_of(settings),
        message_blocks=render.MAX_BLOCKS,
    )
    installs = Installs(tokens, engine) if settings.slack_oauth else None
    oauth = (
        oauth_settings(installs, settings.slack_client_id, secret, redirect_uri(settings))
        if installs is not None
        else None
    )
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret,
        request_verification_enabled=not socket_mode,
        logger=logging.getLogger("improvebot.bolt"),
        raise_error_for_unhandled_request=True,
        oauth_settings=oauth,
        installation_store_bot_only=True if oauth else None,
    )
    for listeners in (commands, actions, views, home, shortcuts):
        listeners.register(app, core.service)
    events.register(app, core.service, workspace_settings.intake_channel)
    app.error(errors.on_error)
    verifier = SignatureVerifier(settings.slack_signing_secret) if settings.slack_signing_secret else None
    bot = SlackBot(app=app, service=core.service, client=client, ticker=core.ticker,
                   workspace_settings=workspace_settings, engine=engine, verifier=verifier,
                   sender=sender, directory=directory, tokens=tokens, oauth=installs)  # fmt: skip
    if socket_mode:  # over HTTP the door in handlers/web.py does this before Bolt sees anything
        app.middleware(_one_workspace(bot))
    return bot


def _one_workspace(bot: SlackBot) -> Callable[..., Awaitable[BoltResponse | None]]:
    """Socket Mode: one token serves one workspace; a request from another creates nothing."""

    async def one_workspace(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> BoltResponse | None:
        ours = await bot.team_id()
        if ours is None:
            return BoltResponse(status=503, body="")
        team = team_of(body)
        if team == ours:
            WORKSPACE.set(team)
            await next()
            return None
        log.warning("refused a Slack request from another workspace (%r)", team[:20])
        if "command" in body:
            return BoltResponse(status=200, body={"response_type": "ephemeral", "text": OTHER_WORKSPACE})
        return BoltResponse(status=200, body="")

    return one_workspace


def refusal(bot: SlackBot) -> str:
    """What a person whose workspace is not served is told."""
    return NOT_INSTALLED if bot.installs else OTHER_WORKSPACE
