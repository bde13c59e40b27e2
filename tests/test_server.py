"""The HTTP server over real sockets: a connection that sends nothing or trickles is closed at the deadline, idle
sockets cannot lock others out past it, and 50 MB bodies (declared or chunked) are refused without being read."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers.server import make_server
from handlers.web import create_web_app
from tests.conftest import make_settings
from tests.support.world import SlackWorld

MB = 1024 * 1024


@contextlib.asynccontextmanager
async def serving(slack: SlackWorld, **limits: str) -> AsyncIterator[int]:
    settings = make_settings(slack.stub, **limits)
    web = create_web_app(slack.engine, slack.bot, scheduled=False, max_body=settings.improve_max_body_bytes,
                         body_timeout=settings.improve_body_timeout)  # fmt: skip
    server = make_server(web, settings, host="127.0.0.1", port=0)
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # uvicorn offers a flag, not an event
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "the server did not start within 5 s"
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), seconds) == b""
    except TimeoutError:
        return False


async def get(port: int, path: str = "/healthz") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n\r\n".encode())
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return answer


def rss() -> int:
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


async def test_a_silent_or_trickling_connection_is_closed_at_the_deadline(slack: SlackWorld) -> None:
    async with serving(slack, IMPROVE_BODY_TIMEOUT="0.5") as port:
        silent = await asyncio.open_connection("127.0.0.1", port)
        trickle = await asyncio.open_connection("127.0.0.1", port)
        trickle[1].write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n")
        body = await asyncio.open_connection("127.0.0.1", port)
        body[1].write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Length: 100\r\n\r\npayload=")

        assert await closed_within(silent[0], 3)
        assert await closed_within(trickle[0], 3)
        assert (await asyncio.wait_for(body[0].read(), 3)).startswith(b"HTTP/1.1 408")
        assert b'"status":"ok"' in await get(port)  # the server itself is fine


async def test_idle_sockets_hold_the_connection_bound_only_until_the_deadline(slack: SlackWorld) -> None:
    async with serving(slack, IMPROVE_BODY_TIMEOUT="0.5", IMPROVE_MAX_CONNECTIONS="3") as port:
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        assert (await get(port)).startswith(b"HTTP/1.1 503")  # the bound holds
        assert all([await closed_within(reader, 3) for reader, _ in idle])
        assert (await get(port)).startswith(b"HTTP/1.1 200")  # and frees itself


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_fifty_megabyte_body_is_refused_without_being_read(slack: SlackWorld, declared: bool) -> None:
    chunk = b"x" * MB
    framed = chunk if declared else b"%x\r\n%s\r\n" % (len(chunk), chunk)
    async with serving(slack) as port:
        before = rss()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        length = f"Content-Length: {50 * MB}" if declared else "Transfer-Encoding: chunked"
        writer.write(f"POST /slack/events HTTP/1.1\r\nHost: bot\r\n{length}\r\n\r\n".encode())
        if not declared:
            writer.write(framed)  # past the 512 KB limit
        answer = await asyncio.wait_for(reader.read(100), 5)
        sent = 0
        with contextlib.suppress(ConnectionError):  # the server stops reading and closes: the rest never goes
            for _ in range(49):
                writer.write(framed)
                await asyncio.wait_for(writer.drain(), 2)
                sent += 1
        writer.close()
        after = rss()

    assert answer.startswith(b"HTTP/1.1 413")
    assert sent < 10, f"the server took {sent} MB more after refusing"
    assert after - before < 20 * MB, f"{(after - before) / MB:.1f} MB more"
    assert slack.stub.calls == []
