"""Modal submissions: field errors go back in the ack; on success the modal closes and the work runs."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import forms
from bot.service import STALE, FormErrors, ImproveService, Notice
from handlers.slack import render
from handlers.slack.actions import team_of
from handlers.slack.port import notify_private

FORMS = re.compile(f"^({forms.REPORT}|{forms.PROPOSE}|{forms.DECLINE}|{forms.QUESTION}|{forms.IMPLEMENTED})$")


def register(app: AsyncApp, service: ImproveService) -> None:
    @app.view(FORMS)
    async def submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        team, user, form_id = team_of(body), body["user"]["id"], str(view.get("callback_id"))
        context = render.metadata(view.get("private_metadata"))
        raw = render.form_values((view.get("state") or {}).get("values"))
        checked = await service.check_form(team, form_id, raw)
        if checked is not None and checked[1]:
            await ack(response_action="errors", errors=checked[1])
            return
        await ack()
        channel = context.get("channel") or None
        if checked is None:
            await notify_private(client, channel, user, STALE)
            return
        outcome = await service.submit_form(team, user, form_id, context, raw)
        if isinstance(outcome, Notice):
            await notify_private(client, channel, user, outcome.text)
        elif isinstance(outcome, FormErrors):  # the rules changed between the check and the save
            await notify_private(client, channel, user, "; ".join(outcome.errors.values()))
