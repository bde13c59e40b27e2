"""The server's limits, enforced before any request reaches Slack's or Teams' handlers: a body is read in full
(at most `max_body` bytes, within `body_timeout` seconds) before the app sees it, so nothing is parsed, verified or
logged from a body that is too large or too slow; the answer is 413 or 408 and one log line."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

log = logging.getLogger("improvebot.web")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _refuse(send: Send, status: int, error: str) -> None:
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]  # fmt: skip
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware: the whole body, bounded in size and time, read before the app is called."""

    def __init__(self, app: ASGIApp, *, max_body: int, body_timeout: float) -> None:
        self.app = app
        self.max_body = max_body
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))[:100]
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            log.warning("refused a body of %s bytes on %s (the limit is %s)", declared[:20].decode("latin-1"),
                        path, self.max_body)  # fmt: skip
            await _refuse(send, 413, "request body too large")
            return
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.body_timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return  # the client went away: nothing to answer
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_body:
                        log.warning("refused a body over %s bytes on %s", self.max_body, path)
                        await _refuse(send, 413, "request body too large")
                        return
                    chunks.append(chunk)
                    if not message.get("more_body"):
                        break
        except TimeoutError:
            log.warning("refused a body not sent within %s s on %s (%s bytes by then)", self.body_timeout, path, size)
            await _refuse(send, 408, "request body too slow")
            return
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only a disconnect can come

        await self.app(scope, replay, send)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def strict_json(text: str | bytes) -> Any:
    """JSON as the standard has it, and text that can be written back out: NaN and Infinity (which Python's json
    accepts), lone surrogates (\\ud800, which no UTF-8 can carry) and nesting deeper than MAX_DEPTH are refused like
    any other malformed body, so nothing downstream fails when it echoes, stores or dumps a value. Raises
    ValueError (RecursionError counts as one)."""
    try:
        value = json.loads(text, parse_constant=_not_json)
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (RecursionError, UnicodeError) as exc:
        raise ValueError(type(exc).__name__) from None
    if _depth(value) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH}")
    return value


MAX_DEPTH = 64  # no Slack or Teams payload nests a dozen levels; libraries fail on what nests hundreds


def _depth(value: Any) -> int:
    deepest, level = 0, [value]
    while level:
        deepest += 1
        level = [child for node in level if isinstance(node, dict | list)
                 for child in (node.values() if isinstance(node, dict) else node)]  # fmt: skip
    return deepest
