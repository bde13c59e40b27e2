"""A bare Bolt app that only acks: the baseline `bench/ack_latency.py` compares the bot against.

Same stack as the bot's HTTP server (Bolt AsyncApp behind FastAPI and Starlette's AsyncSlackRequestHandler,
served by uvicorn with its default logging), same request verification, but listeners that do nothing
except `await ack()`. Configured like the bot, from the environment:
SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_API_URL (where auth.test goes; the benchmark's stub).

    .venv/bin/python bench/bare_app.py --port 3100
"""

from __future__ import annotations

import argparse
import os

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def create_bolt(token: str, signing_secret: str, api_url: str) -> AsyncApp:
    app = AsyncApp(client=AsyncWebClient(token=token, base_url=api_url), signing_secret=signing_secret)

    @app.command("/improve")
    async def improve(ack: AsyncAck) -> None:
        await ack()

    @app.action("approve")
    async def approve(ack: AsyncAck) -> None:
        await ack()

    return app


def create_web_app(bolt: AsyncApp) -> FastAPI:
    web = FastAPI(title="bare-bolt", docs_url=None, redoc_url=None, openapi_url=None)
    handler = AsyncSlackRequestHandler(bolt)

    @web.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @web.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    return web


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=3100)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    bolt = create_bolt(
        os.environ["SLACK_BOT_TOKEN"],
        os.environ["SLACK_SIGNING_SECRET"],
        os.environ.get("SLACK_API_URL", "https://slack.com/api/"),
    )
    uvicorn.run(create_web_app(bolt), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
