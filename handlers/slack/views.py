"""Modal submissions. The answer is saved before the modal closes: a field error, or a failure to save, keeps
the modal open with everything the person typed; on success the modal closes and the messages go out."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.outcomes import NOT_SAVED, UNAVAILABLE, FormErrors, Notice, OpenForm
from bot.service import ImproveService
from handlers.slack import render
from handlers.slack.payload import dig, team_of
from handlers.slack.port import notify_private
from storage.db import Unavailable

log = logging.getLogger("improvebot.slack")
EVERY_FORM: dict[str, str | re.Pattern[str]] = {
    "type": "view_submission",
    "callback_id": re.compile(".*"),
}  # the service knows which are ours


def first_field(view: dict[str, Any]) -> str:
    return next((b.get("block_id", "") for b in view.get("blocks", []) if b.get("type") == "input"), "")


def register(app: AsyncApp, service: ImproveService) -> None:
    @app.view(EVERY_FORM)
    async def submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        team, user, form_id = team_of(body), dig(body, "user", "id"), dig(view, "callback_id")
        if not team or not user:
            await ack()
            return
        context = render.metadata(view.get("private_metadata"))
        raw = render.form_values(dig_state(view))
        try:
            outcome = await service.submit_form(team, user, form_id, context, raw, deliver=False)
        except Unavailable as exc:
            log.warning("could not save %s: the database is unavailable (%s)", form_id, exc)
            await ack(response_action="errors", errors={first_field(view): UNAVAILABLE})
            return
        except Exception:
            log.exception("could not save %s", form_id)
            await ack(response_action="errors", errors={first_field(view): NOT_SAVED})
            return
        if isinstance(outcome, FormErrors):
            await ack(response_action="errors", errors=outcome.errors)
            return
        if isinstance(outcome, OpenForm):  # one more question before it is saved: the modal becomes the new form
            await ack(response_action="update", view=render.modal(outcome.form))
            return
        await ack()
        if isinstance(outcome, Notice):
            await notify_private(client, context.get("channel") or None, user, outcome.text)
        await service.deliver()


def dig_state(view: dict[str, Any]) -> Any:
    state = view.get("state")
    return state.get("values") if isinstance(state, dict) else None
