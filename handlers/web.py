"""The HTTP server: Slack's `/slack/events`, a health check, and the background delivery loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from sqlalchemy import Engine, text

from handlers.slack.app import SlackBot

log = logging.getLogger("improvebot.web")


async def delivery_loop(deliver: Callable[[], Awaitable[object]], every: float) -> None:
    """Retry undelivered messages (Slack down, rate limited) until the process stops."""
    while True:
        try:
            await deliver()
        except Exception:  # a bad tick must not stop the loop
            log.exception("delivery loop failed; trying again in %ss", every)
        await asyncio.sleep(every)


def create_web_app(engine: Engine, slack: SlackBot | None, *, deliver_every: float | None = 30.0) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = None
        # Everything loaded at start-up (SDKs, ORM, migrations) lives as long as the process: move it out of the
        # garbage collector's view, so full collections stay short and do not show up as ack latency spikes.
        gc.collect()
        gc.freeze()
        if slack is not None:
            await slack.start()
            if deliver_every:
                task = asyncio.create_task(delivery_loop(slack.service.deliver, deliver_every))
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if slack is not None:
            await slack.stop()

    web = FastAPI(title="improvebot", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @web.get("/healthz")
    async def healthz() -> JSONResponse:
        try:
            await asyncio.to_thread(_ping, engine)
        except Exception as exc:
            return JSONResponse({"status": "error", "database": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    if slack is not None:
        handler = AsyncSlackRequestHandler(slack.app)

        @web.post("/slack/events")
        async def slack_events(request: Request) -> Response:
            return await handler.handle(request)

    return web


def _ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
