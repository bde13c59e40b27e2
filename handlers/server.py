"""uvicorn with the limits a server reachable from outside needs (README, Limits). uvicorn has no deadline for
reading a request: an idle or trickling connection would be held forever, and with a connection bound such
connections could lock everyone out. Here a request's line and headers must arrive within `request_read_timeout`
seconds of its first byte (or of the connection opening); past it the connection is closed. The body then has its
own deadline in handlers.limits.BodyLimit (408), and between requests uvicorn's keep-alive timeout closes an idle
connection. A handler that already has its whole request is never cut off."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.core.config import Settings

log = logging.getLogger("improvebot.web")


class DeadlineH11Protocol(H11Protocol):
    request_read_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._read_deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm()  # a connection that never sends anything

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:  # a request head begun but not complete
            self._arm()
        else:  # the head is in (BodyLimit times the body), or the connection is done
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._read_deadline is None and not self.transport.is_closing():
            self._read_deadline = self.loop.call_later(self.request_read_timeout, self._expired)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _expired(self) -> None:
        self._read_deadline = None
        if not self.transport.is_closing():
            log.debug("closed a connection with no complete request within %s s", self.request_read_timeout)
            self.transport.close()


def make_server(web: Any, settings: Settings, *, host: str, port: int) -> uvicorn.Server:
    """The HTTP server for `web`: request read deadline, connection bound, idle keep-alive timeout; logging is
    ours (handlers.logs), not uvicorn's own setup."""
    protocol = type("Protocol", (DeadlineH11Protocol,), {"request_read_timeout": settings.improve_body_timeout})
    config = uvicorn.Config(
        web,
        host=host,
        port=port,
        http=protocol,
        log_config=None,
        access_log=False,
        limit_concurrency=settings.improve_max_connections,
        timeout_keep_alive=settings.improve_keepalive_timeout,
    )
    return uvicorn.Server(config)
