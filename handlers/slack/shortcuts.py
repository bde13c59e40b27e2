"""The message shortcut "Report a broken process": on any message, the report form opens prefilled with its text;
the card credits the message's author ("raised by") and links to it. The person who used it is the reporter."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.outcomes import SORRY, Notice, OpenForm
from bot.improvements.report import RAISED_BY, SOURCE_LINK
from bot.service import ImproveService
from handlers.slack import render
from handlers.slack.actions import open_form
from handlers.slack.payload import dig, team_of
from handlers.slack.port import notify_private

log = logging.getLogger("improvebot.slack")
CALLBACK_ID = "report_message"  # app.yaml's shortcut
_DOMAIN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_CHANNEL = re.compile(r"[CDG][A-Z0-9]{2,30}")
_TS = re.compile(r"[0-9]{9,12}\.[0-9]{6}")


def message_link(domain: str, channel: str, ts: str, thread_ts: str = "") -> str:
    """The message's address as Slack's "Copy link" gives it ("" when a part is missing or malformed)."""
    if not (_DOMAIN.fullmatch(domain) and _CHANNEL.fullmatch(channel) and _TS.fullmatch(ts)):
        return ""
    link = f"https://{domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts and _TS.fullmatch(thread_ts):
        link += f"?thread_ts={thread_ts}&cid={channel}"
    return link


def _private(channel: str, name: str) -> bool:
    """A direct message or a group DM: what was said there stays there (its text still prefills the form)."""
    return channel.startswith("D") or name == "directmessage" or name.startswith("mpdm-")


def register(app: AsyncApp, service: ImproveService) -> None:
    @app.shortcut(CALLBACK_ID)
    async def report_message(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        team, user, channel = team_of(body), dig(body, "user", "id"), dig(body, "channel", "id")
        if not team or not user:
            return
        message = body.get("message") if isinstance(body.get("message"), dict) else {}
        context = {"channel": channel}
        if not _private(channel, dig(body, "channel", "name")):  # a DM's author is not named nor linked on the card
            link = message_link(dig(body, "team", "domain"), channel, dig(message, "ts"), dig(message, "thread_ts"))
            context |= {RAISED_BY: dig(message, "user"), SOURCE_LINK: link}
        try:
            outcome = await service.report_message(team, user, render.unescape(dig(message, "text")), context)
            if isinstance(outcome, OpenForm):
                await open_form(client, dig(body, "trigger_id"), outcome.form, channel or None, user)
                if outcome.leftover:
                    await notify_private(client, channel or None, user, f"{outcome.LEFTOVER}\n{outcome.leftover}")
            elif isinstance(outcome, Notice):
                await notify_private(client, channel or None, user, outcome.text)
        except Exception:  # acknowledged already: the person must still hear something
            log.exception("the message shortcut failed for %s", user)
            await notify_private(client, channel or None, user, SORRY)
