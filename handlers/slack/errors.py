"""What Bolt does with errors: a request no listener handles is acknowledged (200) and ignored; a listener that
fails is logged once, with its traceback (a signed request from Slack that broke our code is a bug to see)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse

log = logging.getLogger("improvebot.slack")


async def on_error(error: Exception, body: dict[str, Any], response: BoltResponse | None) -> BoltResponse | None:
    if isinstance(error, BoltUnhandledRequestError):
        log.debug("acknowledged a Slack request no listener handles (type %r)", str(body.get("type"))[:40])
        return BoltResponse(status=200, body="") if response is not None else None
    log.error("a Slack listener failed: %s", type(error).__name__, exc_info=error)
    return None
