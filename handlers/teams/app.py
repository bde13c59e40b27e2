"""Build the Teams side: the Teams SDK App (its endpoint served by our FastAPI app at POST /api/messages),
wired to the same product service, delivery and ticker as Slack, with its own workspaces (one per tenant)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import jwt
from microsoft_teams.api import TokenCredentials
from microsoft_teams.api.auth.cloud_environment import PUBLIC, with_overrides
from microsoft_teams.apps import App
from microsoft_teams.apps.http import HttpRequest
from sqlalchemy import Engine

from bot.assembly import assemble
from bot.core.clock import Clock
from bot.core.config import ConfigError, Settings
from bot.core.identity import sealer_of
from bot.core.workspace import WorkspaceSettings, apply_settings
from bot.service import ImproveService
from bot.tick import Ticker
from handlers.logs import hold_bodies
from handlers.pacing import Rate
from handlers.teams import edge, listeners, render
from handlers.teams.port import TeamsChat, TeamsDirectory, make_pacer
from handlers.teams.references import References
from handlers.teams.tenants import Tenants
from storage.db import transaction

log = logging.getLogger("improvebot.teams")


class ExternalRoutes:
    """The SDK's HTTP adapter protocol, registering nothing: our FastAPI app owns POST /api/messages."""

    def register_route(self, method: Any, path: Any, handler: Any) -> None:
        pass

    def serve_static(self, path: Any, directory: Any) -> None:
        pass

    async def start(self, port: int) -> None:
        raise NotImplementedError("served by improvebot's own web app")

    async def stop(self) -> None:
        pass


def workspace_settings(settings: Settings) -> WorkspaceSettings:
    base = WorkspaceSettings.from_settings(settings, intake_channel=settings.teams_intake_channel)
    return WorkspaceSettings(
        **{
            **base.to_json(),
            "intake_channel": settings.teams_intake_channel,
            "wins_channel": settings.teams_wins_channel,
            "approvers": list(settings.teams_approvers),
            "fallback_approvers": list(settings.teams_fallback_approvers),
        }
    )


def _dev_token(client_id: str) -> str:
    """No-auth development only: the Bot Framework emulator takes any well-formed token."""
    return jwt.encode({"appid": client_id, "dev": True}, "improvebot-dev-only-" * 2, algorithm="HS256")


@dataclass
class TeamsBot:
    app: App
    service: ImproveService
    ticker: Ticker
    workspace_settings: WorkspaceSettings
    engine: Engine
    tokens: edge.Tokens | None  # None only with TEAMS_DEV_NO_AUTH
    _ready: bool = False
    primary: str = ""  # the organisation the configuration's channels and approvers are for ("" for none)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    async def start(self) -> None:
        async with self._lock:
            if not self._ready:
                await self.app.initialize()
                self._ready = True

    async def stop(self) -> None:
        await self.ticker.stop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def refresh_settings(self) -> None:
        """The configuration is the first named organisation's (until it saves its own); no other's."""
        if self.primary:
            with transaction(self.engine) as session:
                apply_settings(session, "teams", self.workspace_settings, only=self.primary)

    def background(self, work: Coroutine[Any, Any, Any]) -> None:
        """Slow work after an invoke has been answered (Teams waits about 15 s for the answer)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def handle(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        """An activity (a JSON object, at most the body limit): checked at the door (handlers.teams.edge), then
        handed to the SDK, which routes it to our listeners."""
        await self.start()
        if self.tokens is not None:
            problem = await self.tokens.problem(headers.get("authorization", ""), body)
            if problem:
                log.warning("refused a Teams request (401): %s", problem)
                return 401, {"error": "unauthorized"}
        verdict = edge.inspect(body)
        if verdict.status == 200:
            log.debug("acknowledged and ignored %s", verdict.reason)
            return 200, None
        if verdict.status:
            log.warning("refused a Teams request (%s): %s", verdict.status, verdict.reason)
            return verdict.status, {"error": "invalid activity"}
        result = await self.app.server.handle_request(HttpRequest(body=body, headers=headers))
        return int(result["status"]), result.get("body")


def build_teams(
    settings: Settings, *, engine: Engine, clock: Clock, token: Any = None, dangerously_no_auth: bool | None = None
) -> TeamsBot:
    """`token` (tests): a token provider instead of the client-credentials flow against Microsoft's login."""
    hold_bodies()
    no_auth = settings.teams_dev_no_auth if dangerously_no_auth is None else dangerously_no_auth
    client_id = settings.teams_client_id or "00000000-0000-0000-0000-000000000000"
    cloud = with_overrides(PUBLIC, openid_metadata_url=settings.teams_openid_url or None)
    options: dict[str, Any] = {  # every option explicit: the SDK would otherwise read its own variables
        "client_id": client_id,
        # an app registered in one organisation gets its tokens there; a multi-tenant one from Bot Framework's
        "tenant_id": settings.teams_tenants[0] if len(settings.teams_tenants) == 1 else "botframework.com",
        "http_server_adapter": ExternalRoutes(),
        "service_url": settings.teams_service_url,
        "cloud": cloud,
        "dangerously_allow_unauthenticated_requests": no_auth,
    }
    if token is not None:
        options["token"] = token
    elif settings.teams_client_secret:
        options["client_secret"] = settings.teams_client_secret
    else:
        options["token"] = lambda _scope, _tenant=None: _dev_token(client_id)
    sdk_secret = os.environ.get("CLIENT_SECRET", "")
    if no_auth and (settings.teams_client_secret or sdk_secret):
        raise ConfigError(
            "TEAMS_DEV_NO_AUTH cannot be used while a client secret is set (TEAMS_CLIENT_SECRET or CLIENT_SECRET): "
            "unauthenticated requests could make the bot send its real token anywhere"
        )
    if sdk_secret and sdk_secret != settings.teams_client_secret:
        raise ConfigError("CLIENT_SECRET is set: the Teams SDK would use it in place of TEAMS_CLIENT_SECRET; "
                          "unset it and configure TEAMS_CLIENT_SECRET")  # fmt: skip
    app = App(**options)
    if "client_secret" not in options and not isinstance(app.credentials, TokenCredentials):
        raise ConfigError("the Teams SDK picked up client credentials from its own environment variables")
    refs = References(engine, one_tenant=len(settings.teams_tenants) == 1)
    pacer = make_pacer(
        Rate(settings.improve_teams_messages_per_second, max(1.0, settings.improve_teams_messages_per_second)),
        Rate(settings.improve_teams_conversation_messages_per_second, 7),  # Teams: 7 a second in bursts
    )
    chat = TeamsChat(app, refs, clock, settings.teams_service_url, roster=settings.teams_intake_channel,
                     pacer=pacer, timeout=settings.improve_send_timeout, engine=engine,
                     public_url=settings.improve_public_url)  # fmt: skip
    ws_settings = workspace_settings(settings)
    tenants = Tenants(engine, settings.teams_tenants, ws_settings)
    core = assemble(
        engine=engine,
        clock=clock,
        platform="teams",
        db_timeout=settings.improve_db_timeout,
        chat=chat,
        directory=TeamsDirectory(refs),
        settings_for=tenants.settings_for,
        sealer=sealer_of(settings),
        command=render.COMMAND_WORD,
        concurrency=settings.improve_delivery_concurrency,
        bulk=settings.improve_delivery == "serve",
    )
    tokens = None if no_auth else edge.Tokens(client_id, cloud)
    bot = TeamsBot(app=app, service=core.service, ticker=core.ticker, workspace_settings=ws_settings,
                   engine=engine, tokens=tokens, primary=tenants.primary)  # fmt: skip
    listeners.register(app, core.service, chat, refs, bot.background, tenants=tenants,
                       intake_channel=settings.teams_intake_channel)  # fmt: skip
    return bot
