"""Button clicks: every block action goes to the service, which finds the capability that registered it (an
unknown or stale one gets the polite "out of date" notice); then open its form or explain privately."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.messages import Form
from bot.core.outcomes import SORRY, Notice, OpenForm, Show
from bot.service import ImproveService
from handlers.slack import home, render
from handlers.slack.payload import dig, team_of
from handlers.slack.port import notify_private

log = logging.getLogger("improvebot.slack")

EVERY_BUTTON: dict[str, str | re.Pattern[str]] = {"type": "block_actions", "action_id": re.compile(".*")}


def register(app: AsyncApp, service: ImproveService) -> None:
    @app.action(EVERY_BUTTON)
    async def click(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        team, user = team_of(body), dig(body, "user", "id")
        if not team or not user:
            log.warning("ignored a click without a team or user")
            return
        channel = dig(body, "channel", "id") or dig(body, "container", "channel_id") or None
        thread = dig(body, "message", "thread_ts") or None
        on_home = dig(body, "view", "type") == "home"  # the App Home tab: answered there, then published again
        try:
            outcome = await service.click(
                team, user, dig(body, "actions", 0, "action_id"), dig(body, "actions", 0, "value"), deliver=False
            )
            if isinstance(outcome, OpenForm):
                form = outcome.form.model_copy(update={"context": {**outcome.form.context, "channel": channel or ""}})
                await open_form(client, dig(body, "trigger_id"), form, channel, user)
            elif isinstance(outcome, Show):
                await notify_private(client, channel, user, outcome.message, thread)
            elif isinstance(outcome, Notice) and not on_home:
                await notify_private(client, channel, user, outcome.text, thread)
            if on_home and not isinstance(outcome, OpenForm):  # the refusal, if any, at the top of the tab
                await home.publish(service, team, user, notice=outcome.text if isinstance(outcome, Notice) else "")
            await service.deliver()  # what the click changed (the thread, the card) goes right after the answer
        except Exception:  # acknowledged already: the person must still hear something
            log.exception("a click on %r failed", dig(body, "actions", 0, "action_id")[:40])
            await notify_private(client, channel, user, SORRY, thread)


async def open_form(client: AsyncWebClient, trigger_id: str, form: Form, channel: str | None, user: str) -> None:
    try:
        await client.views_open(trigger_id=trigger_id, view=render.modal(form))
    except SlackApiError as exc:
        log.warning("could not open %s: %s", form.form_id, exc.response.get("error"))
        await notify_private(
            client, channel, user, "Sorry, the form did not open (it took too long). Please click again."
        )
