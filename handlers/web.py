"""The HTTP server: Slack's `/slack/events`, Teams' `/api/messages`, a health check, and the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlmodel import Session

from bot.core.clock import Clock, SystemClock
from bot.core.ports import WORKSPACE
from bot.core.workspace import WorkspaceSettings
from bot.scheduler import start_scheduler
from bot.tick import Ticker
from handlers.limits import BodyLimit, strict_json
from handlers.metrics import Metrics, Timed
from storage import chart_images, downloads
from storage.db import DOWN, MIGRATIONS_PENDING, Health, Unavailable

log = logging.getLogger("improvebot.web")
LAST_SLACK_RETRY = "3"  # X-Slack-Retry-Num: Slack sends an event three more times at most


class Platform(Protocol):
    """What the server needs of each chat platform it serves (handlers/slack, handlers/teams)."""

    ticker: Ticker
    workspace_settings: WorkspaceSettings

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def refresh_settings(self) -> None: ...


class TeamsEndpoint(Protocol):
    async def handle(self, body: Any, headers: dict[str, str]) -> tuple[int, Any]: ...


@contextlib.asynccontextmanager
async def run_scheduled(
    *platforms: Platform, ticks: bool = True, poll: float | None = None, on_tick: Callable[[str], None] | None = None
) -> AsyncIterator[None]:
    """While serving: catch up at once (work missed while the bot was down) in the background, so the server
    answers from its first second however long the backlog is, then tick every minute. `ticks=False`: the
    platforms only (an `improvebot worker` ticks); `poll`: also deliver what is due every `poll` seconds (a
    worker, for what the serving processes queued); `on_tick`: told each tick's result (ok, skipped, failed)."""
    for platform in platforms:
        await platform.start()
        await asyncio.to_thread(platform.refresh_settings)
    if not ticks:
        try:
            yield
        finally:
            for platform in platforms:
                await platform.stop()
        return

    async def tick_all() -> None:
        for platform in platforms:
            result = "ok"
            try:
                await platform.ticker.tick(wait=False)
            except Unavailable as exc:
                log.warning("a tick was skipped: the database is unavailable (%s); the next one catches up", exc)
                result = "skipped"
            except Exception:  # one platform's bad tick must not stop the other's
                log.exception("a tick failed; the next one retries")
                result = "failed"
            if on_tick is not None:
                on_tick(result)

    async def poll_all(every: float) -> None:
        while True:
            await asyncio.sleep(every)
            for platform in platforms:
                platform.ticker.nudge()

    catch_up = asyncio.ensure_future(tick_all())  # the minute's ticks wait for it (one tick at a time)
    polling = asyncio.ensure_future(poll_all(poll)) if poll else None
    scheduler = start_scheduler(tick_all, platforms[0].workspace_settings) if platforms else None
    try:
        yield
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        for task in (catch_up, polling):
            if task is not None:
                task.cancel()  # what it claimed is released as it stops; the next start goes on from there
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for platform in platforms:
            await platform.stop()


def create_web_app(
    engine: Engine,
    slack: Any = None,
    *,
    teams: Any = None,
    scheduled: bool = True,
    ticks: bool = True,
    max_body: int = 512 * 1024,
    body_timeout: float = 10.0,
    db_timeout: float = 1.0,
    clock: Clock | None = None,
    slack_door: bool = True,
    teams_door: bool = True,
) -> FastAPI:
    """`slack`: a handlers.slack SlackBot; `teams`: a handlers.teams TeamsBot (either may be absent). Every request's
    body is read first, at most `max_body` bytes within `body_timeout` seconds (handlers.limits). `scheduled=False`:
    the platforms are started and stopped by the caller; `ticks=False`: an `improvebot worker` runs the scheduled
    work and the bulk delivery. `clock`: when a download link expires (tests move it). `slack_door=False`,
    `teams_door=False`: that platform's endpoint is not served (Slack over Socket Mode, a worker), its metrics are."""
    platforms = [p for p in (slack, teams) if p is not None]

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Everything loaded at start-up (SDKs, ORM, migrations) lives as long as the process: move it out of the
        # garbage collector's view, so full collections stay short and do not show up as ack latency spikes.
        gc.collect()
        gc.freeze()
        if not platforms or not scheduled:
            yield
            return
        async with run_scheduled(*platforms, ticks=ticks, on_tick=metrics.ticked):
            yield

    web = FastAPI(title="improvebot", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    web.add_middleware(BodyLimit, max_body=max_body, body_timeout=body_timeout)
    now = (clock or SystemClock()).now
    metrics = Metrics(engine, now)
    web.add_middleware(Timed, metrics=metrics)  # outermost: refusals of BodyLimit are answers too
    for platform in platforms:
        platform.service.delivery.observers.append(metrics.delivered)
    web.state.metrics = metrics  # a caller that ticks itself counts its ticks here (Socket Mode, a worker)

    @web.get("/metrics")
    async def prometheus() -> Response:
        return await metrics.page()

    health = Health(engine, timeout=db_timeout)

    @web.get("/healthz")
    async def healthz() -> JSONResponse:
        problem = await health.problem()
        if problem:
            log.warning("health check: the database cannot write (%s)", problem)
            return JSONResponse({"status": "error", "database": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    @web.get("/readyz")
    async def readyz() -> JSONResponse:
        """Ready to take traffic: the database writes, and its schema is this version's (a load balancer sends
        nothing here during a migration, or to an instance of another version)."""
        problem = await health.ready()
        if problem:
            log.warning("readiness check: %s", problem)
            what = MIGRATIONS_PENDING if problem == MIGRATIONS_PENDING else "unavailable"
            return JSONResponse({"status": "error", "database": what}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok", "migrations": "current"})

    @web.get("/downloads/{token}")
    async def download(token: str) -> Response:
        """A file a person asked for (an export on Teams), behind its unguessable link, until it expires."""
        try:
            found = await asyncio.to_thread(downloads.fetch, engine, token[:100], now())
        except Exception as exc:  # the database is down: the person asks again, nothing is said about the link
            log.warning("a download could not be looked up (%s)", type(exc).__name__)
            return JSONResponse({"error": "try again in a minute"}, status_code=503)
        if found is None:
            return JSONResponse({"error": "this link is unknown or has expired: ask for the file again"}, 404)
        disposition = f'attachment; filename="{found.filename}"'
        return Response(
            found.content,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": disposition,
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    @web.get("/charts/{token}")
    async def chart(token: str) -> Response:
        """A chart shown inside a Teams card (Teams fetches card images from a public address)."""

        def read() -> bytes | None:
            with Session(engine) as session:
                return chart_images.png_of(session, token[:100])

        try:
            png = await asyncio.to_thread(read)
        except Exception as exc:
            log.warning("a chart could not be looked up (%s)", type(exc).__name__)
            return JSONResponse({"error": "try again in a minute"}, status_code=503)
        if png is None:
            return JSONResponse({"error": "no such chart"}, status_code=404)
        headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
        return Response(png, media_type="image/png", headers=headers)

    if slack is not None and slack_door:
        from slack_bolt.adapter.starlette.async_handler import to_starlette_response
        from slack_bolt.request.async_request import AsyncBoltRequest

        from handlers.slack import app as slack_app
        from handlers.slack import edge

        @web.post("/slack/events")
        async def slack_events(request: Request) -> Response:
            raw = await request.body()  # read and bounded by BodyLimit
            verdict = edge.verify(raw, request.headers, slack.verifier)
            if verdict is edge.PASS:
                verdict = edge.inspect(raw, request.headers.get("content-type", ""))
            if verdict.challenge is not None:
                return JSONResponse({"challenge": verdict.challenge})
            if verdict.status == 200:
                log.debug("acknowledged and ignored %s", verdict.reason)
                return Response(status_code=200)
            if verdict.status or verdict.body is None:
                log.warning("refused a Slack request (%s): %s", verdict.status or 400, verdict.reason)
                return JSONResponse({"error": "invalid request"}, status_code=verdict.status or 400)
            if verdict.revoked:  # the app was removed: with one configured token, its operator decides
                return await _slack_revoked(slack, verdict.body) if slack.installs else Response(status_code=200)
            if verdict.team is not None:
                served = await slack.serves(verdict.team, verdict.enterprise)
                if served is None:  # Slack or the database could not tell where we are installed: try again later
                    return JSONResponse({"error": "not ready"}, status_code=503)
                if not served:  # another workspace, or one that removed the app: nothing of it is created
                    log.warning("refused a Slack request from a workspace not served (%r)", verdict.team[:20])
                    if verdict.command:
                        return JSONResponse({"response_type": "ephemeral", "text": slack_app.refusal(slack)})
                    return Response(status_code=200)
            WORKSPACE.set(verdict.team or "")  # the work this request starts is this workspace's (its token)
            if verdict.message:
                return await _slack_message(slack, verdict.body, request.headers.get("x-slack-retry-num", ""))
            # Bolt gets the body exactly as the door read and checked it, not its own reading of the raw text (it
            # parses by other rules); the signature is checked already, which is all Bolt's HTTP mode adds.
            bolt = AsyncBoltRequest(body=verdict.body, headers=dict(request.headers), mode="socket_mode")
            return to_starlette_response(await slack.app.async_dispatch(bolt))

        if slack.installs:

            @web.get("/slack/install")
            async def slack_install(request: Request) -> Response:
                """The "Add to Slack" page: a link to Slack's consent screen carrying a state used once."""
                return await _installing(slack.app.oauth_flow.handle_installation, request)

            @web.get("/slack/oauth_redirect")
            async def slack_oauth_redirect(request: Request) -> Response:
                """Slack sends the browser back here: the state is checked, the code exchanged for the token."""
                return await _installing(slack.app.oauth_flow.handle_callback, request)

    if teams is not None and teams_door:
        endpoint: TeamsEndpoint = teams

        @web.post("/api/messages")
        async def teams_messages(request: Request) -> Response:
            return await _teams(endpoint.handle, request)

    return web


async def _slack_message(slack: Any, body: dict[str, Any], retry: str) -> Response:
    """A message event, taken before Slack is answered: when it could not be looked at, 503 makes Slack send it
    again (after about a minute, then five); after Slack's last retry the person is told to send it again. The
    answers it holds are never dropped silently and never taken twice."""
    from handlers.slack import events

    try:
        taken = await events.take(slack.service, body, deliver=False)
    except Unavailable as exc:
        if retry != LAST_SLACK_RETRY:
            log.warning("asked Slack to send a thread message again: the database is unavailable (%s)", exc)
            return JSONResponse({"error": "try again"}, status_code=503)
        await events.not_recorded(slack.client, body, slack.workspace_settings.intake_channel)
        return Response(status_code=200)
    except Exception:  # a bug, not an outage: sending it again would fail again
        log.exception("a Slack thread message could not be handled")
        return Response(status_code=200)
    if taken:
        slack.background(slack.service.deliver())
    elif events.private(body):
        slack.background(events.answer_in_private(slack.client, body))
    return Response(status_code=200)


async def _slack_revoked(slack: Any, body: dict[str, Any]) -> Response:
    """Removed from a workspace: its tokens are deleted before Slack is answered (503 when the database cannot
    take it, and Slack sends the event again)."""
    try:
        await slack.oauth.revoked(body)
    except DOWN as exc:
        log.warning("an uninstall could not be recorded yet (%s): Slack will send it again", type(exc).__name__)
        return JSONResponse({"error": "try again"}, status_code=503)
    return Response(status_code=200)


async def _installing(step: Callable[[Any], Awaitable[Any]], request: Request) -> Response:
    """One step of Slack's OAuth flow, answered as a page; the database or Slack failing is a page saying to try
    again (503), never a traceback."""
    from slack_bolt.adapter.starlette.async_handler import to_starlette_response
    from slack_bolt.request.async_request import AsyncBoltRequest

    from handlers.slack.install import AGAIN, page

    query = str(request.url.query)[:4096]
    bolt = AsyncBoltRequest(body="", query=query, headers=dict(request.headers))
    try:
        return to_starlette_response(await step(bolt))
    except Exception as exc:  # the state or installation store (the database), or Slack, failed midway
        log.warning("a Slack install step failed: %s", type(exc).__name__)
        return to_starlette_response(page(AGAIN, 503))


async def _teams(handle: Callable[[Any, dict[str, str]], Awaitable[tuple[int, Any]]], request: Request) -> Response:
    raw = await request.body()  # already read and bounded by BodyLimit
    try:
        body = strict_json(raw)
    except ValueError:  # not JSON, not UTF-8, nested too deep, NaN, a lone surrogate
        return JSONResponse({"error": "the body must be a JSON activity"}, status_code=400)
    if not isinstance(body, dict):
        return JSONResponse({"error": "the body must be a JSON activity"}, status_code=400)
    status, payload = await handle(body, dict(request.headers))
    if payload is None:
        return Response(status_code=status)
    return JSONResponse(payload, status_code=status)
