"""The App Home tab: published when a person opens it (`app_home_opened`), again after a click made on it, and
by delivery whenever something on it changes (bot.delivery: an outbox "home" row)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.core.messages import Message, Paragraph, Text
from bot.core.ports import ChatError
from bot.service import ImproveService
from handlers.slack.payload import dig
from storage.db import Unavailable

log = logging.getLogger("improvebot.slack")
NOT_NOW = "Your home could not be loaded just now. Open this tab again in a minute; nothing was lost."


async def publish(service: ImproveService, team: str, user: str, *, opened: bool = False, notice: str = "") -> None:
    """Render `user`'s home and publish it (a short "not now" when the database cannot be read). Best effort: a
    failure is one log line, and the next open or change publishes it again."""
    try:
        message = await service.home(team, user, opened=opened, notice=notice)
    except Unavailable as exc:
        log.warning("the home of %s could not be read: %s", user, exc)
        message = Message(summary=NOT_NOW, blocks=[Paragraph(spans=[Text(text=NOT_NOW)])])
    try:
        await service.publish_home(team, user, message)
    except (ChatError, Unavailable) as exc:
        log.warning("could not publish the home of %s: %s", user, exc)


def register(app: AsyncApp, service: ImproveService) -> None:
    @app.event("app_home_opened")
    async def opened(body: dict[str, Any]) -> None:  # acked already
        event = body.get("event") or {}
        user, team = dig(event, "user"), dig(body, "team_id")
        if event.get("tab", "home") != "home" or not user or not team:
            return  # the Messages tab, or a malformed event: nothing to show
        try:
            await publish(service, team, user, opened=True)
        except Exception:  # a bug: logged, and the tab shows what it showed before
            log.exception("the home of %s could not be published", user)
