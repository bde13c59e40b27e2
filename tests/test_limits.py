"""The server's limits hold before any handler runs: a body too large (declared or not) or too slow is refused
with 413/408 and one log line, and nothing of it is parsed, verified or passed on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx

from handlers.logs import OneLine, escape
from handlers.web import create_web_app
from tests.conftest import ALEX
from tests.support import slack_requests as rq
from tests.support.world import SlackWorld

MB = 1024 * 1024


def small_limits_app(slack: SlackWorld, **limits: float) -> httpx.AsyncClient:
    web = create_web_app(slack.engine, slack.bot, scheduled=False, **limits)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bot.test")


async def test_a_declared_body_over_the_limit_is_refused_unread(slack: SlackWorld, caplog) -> None:
    sent = 0

    async def fifty_megabytes() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(50):
            sent += 1
            yield b"x" * MB

    response = await slack.http.post(
        "/slack/events", content=fifty_megabytes(), headers={"Content-Length": str(50 * MB), **rq.sign(b"")}
    )

    assert response.status_code == 413 and response.json() == {"error": "request body too large"}
    assert sent <= 1  # nothing was read beyond what the transport sends with the headers
    assert slack.stub.calls == []
    assert [r.getMessage() for r in caplog.records if r.name == "improvebot.web"] == [
        "refused a body of 52428800 bytes on /slack/events (the limit is 524288)"
    ]


async def test_a_chunked_body_over_the_limit_is_refused_once_it_passes_the_limit(slack: SlackWorld) -> None:
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        while True:
            sent += 1
            yield b"x" * 64 * 1024

    response = await slack.http.post("/slack/events", content=endless())  # no Content-Length: chunked

    assert response.status_code == 413
    assert sent <= 9  # 512 KB and one chunk more, then the server stopped reading
    assert slack.stub.calls == []


async def test_the_limit_applies_on_every_route_and_a_body_within_it_goes_through(slack: SlackWorld) -> None:
    async with small_limits_app(slack, max_body=20_000) as http:
        refused = await http.post("/healthz", content=b"x" * 20_001)
        body, content_type = rq.slash_command("help", ALEX, response_url=slack.stub.response_url)
        taken = await http.post("/slack/events", content=body, headers={"Content-Type": content_type, **rq.sign(body)})

    assert refused.status_code == 413
    assert taken.status_code == 200


async def test_a_body_that_trickles_in_is_cut_off_after_the_timeout(slack: SlackWorld) -> None:
    async def trickle() -> AsyncIterator[bytes]:
        yield b"payload="
        await asyncio.sleep(5)
        yield b"late"

    async with small_limits_app(slack, body_timeout=0.2) as http:
        started = asyncio.get_running_loop().time()
        response = await http.post("/slack/events", content=trickle())

    assert response.status_code == 408
    assert asyncio.get_running_loop().time() - started < 2
    assert slack.stub.calls == []


def test_a_log_record_is_one_line_whatever_it_carries() -> None:
    formatter = OneLine("%(levelname)s %(name)s: %(message)s")
    forged = "body=x\n2026-11-21 INFO improvebot: approved by admin\r\x1b[31mred"
    record = logging.LogRecord("slack_bolt", logging.WARNING, __file__, 1, "got %s", (forged,), None)
    try:
        raise ValueError("bad\nINFO improvebot: fake")
    except ValueError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)

    lines = formatter.format(record).splitlines()

    assert lines[0] == "WARNING slack_bolt: got " + escape(forged)
    assert "\\n2026-11-21 INFO improvebot: approved by admin\\x0d\\x1b[31mred" in lines[0]
    assert all(line.startswith("    | ") for line in lines[1:])  # the traceback cannot pass for a record
    assert lines[-2:] == ["    | ValueError: bad", "    | INFO improvebot: fake"]
    separators = logging.LogRecord("x", logging.INFO, __file__, 1, "a\u2028b\x85c\x9b31m", None, None)
    assert formatter.format(separators) == "INFO x: a\\u2028b\\x85c\\x9b31m"  # what splitlines() would split
    long = logging.LogRecord("x", logging.INFO, __file__, 1, "y" * 5000, None, None)
    assert formatter.format(long).endswith("… (3,000 more characters)")
