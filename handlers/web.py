"""The HTTP server: Slack's `/slack/events`, a health check, and the background delivery loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from sqlalchemy import Engine, text

from bot.scheduler import start_scheduler
from handlers.slack.app import SlackBot

log = logging.getLogger("improvebot.web")


@contextlib.asynccontextmanager
async def run_scheduled(slack: SlackBot) -> AsyncIterator[None]:
    """While serving: catch up at once (work missed while the bot was down), then tick every minute."""
    await slack.start()
    await asyncio.to_thread(slack.refresh_settings)
    try:
        await slack.ticker.tick()
    except Exception:  # a failing first tick must not stop the server; the next one retries
        log.exception("the start-up tick failed")
    scheduler = start_scheduler(slack.ticker.tick, slack.workspace_settings)
    try:
        yield
    finally:
        scheduler.shutdown(wait=False)
        await slack.stop()


def create_web_app(engine: Engine, slack: SlackBot | None, *, scheduled: bool = True) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Everything loaded at start-up (SDKs, ORM, migrations) lives as long as the process: move it out of the
        # garbage collector's view, so full collections stay short and do not show up as ack latency spikes.
        gc.collect()
        gc.freeze()
        if slack is None or not scheduled:
            yield
            return
        async with run_scheduled(slack):
            yield

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
