"""Teams' side of the platform seam: channel posts, reply chains, in-place updates and 1:1 messages through the
Bot Framework connector (the service URL each tenant's activities name), and who may approve."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from microsoft_teams.api.activities.message import MessageActivityInput
from microsoft_teams.api.clients.conversation import CreateConversationParams
from microsoft_teams.api.models import Attachment
from microsoft_teams.apps import App, to_threaded_conversation_id

from bot.core.clock import Clock
from bot.core.messages import Mention, Message
from bot.core.ports import ChatError, Posted
from handlers.teams import render
from handlers.teams.references import References
from storage.models import TeamsReference

log = logging.getLogger("improvebot.teams")


def card_activity(card: dict[str, Any], *, text: str | None = None) -> MessageActivityInput:
    """A message carrying one Adaptive Card (`text`: the notification line)."""
    activity = MessageActivityInput(text=text) if text is not None else MessageActivityInput()
    return activity.add_attachments(Attachment(content_type=render.CARD_TYPE, content=card))


def _mentioned(message: Message) -> list[str]:
    users: list[str] = []
    for block in message.blocks:
        for part in getattr(block, "spans", []) or []:
            if isinstance(part, Mention):
                users.append(part.user)
        for item in getattr(block, "items", []) or []:
            users += [p.user for p in item.spans if isinstance(p, Mention)]
    return users


async def _guard(what: str, call: Callable[[], Awaitable[Any]]) -> Any:
    try:
        return await call()
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        raise ChatError(f"{what}: HTTP {status}", retryable=status == 429 or status >= 500) from exc
    except (httpx.TransportError, TimeoutError, OSError) as exc:
        raise ChatError(f"{what}: {type(exc).__name__}: {exc}") from exc
    except ValueError as exc:  # e.g. the app has no credentials
        raise ChatError(f"{what}: {exc}", retryable=False) from exc


class TeamsChat:
    def __init__(self, app: App, references: References, clock: Clock, default_service_url: str, roster: str) -> None:
        self._app = app
        self._refs = references
        self._clock = clock
        self._default_service_url = default_service_url
        self._roster = roster  # a team conversation whose members the bot may look up (the intake channel)

    async def _person(self, user: str) -> TeamsReference | None:
        """What we know of a person; someone the bot has not met yet is looked up in the team's roster."""
        ref = await asyncio.to_thread(self._refs.find, "user", user)
        if ref is not None and ref.user_id and ref.name:
            return ref
        tenant = await asyncio.to_thread(self._refs.any_tenant)
        if tenant is None:
            return ref
        api = self._app.api.clone(service_url=tenant.service_url)
        try:
            member = await api.conversations.members_client.get_by_id(self._roster, user)
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("could not look up %s in the team: %s", user, exc)
            return ref
        seen = {"service_url": tenant.service_url, "tenant_id": tenant.key,
                "user": {"aad": user, "user_id": member.id, "name": member.name}}  # fmt: skip
        await asyncio.to_thread(self._refs.remember, tenant.workspace_id, seen, self._clock.now())
        return await asyncio.to_thread(self._refs.find, "user", user)

    async def names(self, users: list[str]) -> dict[str, str]:
        names: dict[str, str] = {}
        for user in dict.fromkeys(users):
            ref = await self._person(user)
            if ref is not None and ref.name:
                names[user] = ref.name
        return names

    async def card(self, message: Message) -> dict[str, Any]:
        """The message as an Adaptive Card, its mentions resolved to names."""
        return render.card(message, await self.names(_mentioned(message)))

    async def _activity(self, message: Message, ref: str | None = None) -> MessageActivityInput:
        activity = card_activity(await self.card(message), text=render.neutralize(message.summary))
        if ref:
            activity.id = ref
        return activity

    async def _service_url(self, conversation: str) -> str:
        channel = conversation.split(";")[0]
        ref = await asyncio.to_thread(self._refs.find, "channel", channel) or await asyncio.to_thread(
            self._refs.any_tenant
        )
        return ref.service_url if ref else self._default_service_url

    async def _send(self, what: str, conversation: str, activity: MessageActivityInput) -> str:
        service_url = await self._service_url(conversation)
        sent = await _guard(what, lambda: self._app.send(conversation, activity, service_url=service_url))
        return str(sent.id)

    async def send_card(self, conversation: str, card: dict[str, Any]) -> str:
        return await self._send("card", conversation, card_activity(card))

    async def post(self, channel: str, message: Message) -> Posted:
        activity = await self._activity(message)
        return Posted(channel=channel, ref=await self._send("post", channel, activity))

    async def reply(self, channel: str, thread: str, message: Message) -> Posted:
        conversation = to_threaded_conversation_id(channel, thread)
        activity = await self._activity(message)
        return Posted(channel=conversation, ref=await self._send("reply", conversation, activity))

    async def update(self, channel: str, ref: str, message: Message) -> None:
        activity = await self._activity(message, ref)
        await self._send("update", channel, activity)

    async def dm(self, user: str, message: Message) -> Posted:
        conversation = await self.personal_conversation(user)
        activity = await self._activity(message)
        return Posted(channel=conversation, ref=await self._send("dm", conversation, activity))

    async def private(self, user: str, message: Message, where: str | None) -> None:
        """Teams shows nothing to one person alone in a channel: the person's 1:1 chat with the bot."""
        await self.dm(user, message)

    async def upload(self, channel: str, filename: str, title: str, content: bytes) -> None:
        data_uri = "data:image/png;base64," + base64.b64encode(content).decode()
        activity = MessageActivityInput(text=title).add_attachments(
            Attachment(content_type="image/png", content_url=data_uri, name=filename)
        )
        await self._send("chart", channel, activity)

    async def personal_conversation(self, user: str) -> str:
        """The 1:1 chat with a person (AAD object id), created the first time the bot needs it."""
        ref = await self._person(user)
        if ref is None or not ref.user_id:
            raise ChatError(f"dm: {user} is not known in the team yet", retryable=True)
        if ref.conversation_id:
            return ref.conversation_id
        tenant = await asyncio.to_thread(self._refs.any_tenant)
        params = CreateConversationParams.model_validate({
            "isGroup": False,
            "bot": {"id": tenant.bot_id if tenant and tenant.bot_id else f"28:{self._app.id}"},
            "members": [{"id": ref.user_id}],
            "tenantId": tenant.key if tenant else None,
            "channelData": {"tenant": {"id": tenant.key if tenant else None}},
        })  # fmt: skip
        api = self._app.api.clone(service_url=ref.service_url)
        created = await _guard("dm: create conversation", lambda: api.conversations.create(params))
        await asyncio.to_thread(self._refs.set_personal_conversation, user, created.id, self._clock.now())
        return str(created.id)


class TeamsDirectory:
    """Approvers are the Azure AD object ids in TEAMS_APPROVERS; time zones come from the Teams clients."""

    def __init__(self, references: References) -> None:
        self._refs = references

    async def is_approver(self, user: str, approvers: list[str]) -> bool:
        return user.lower() in {a.lower() for a in approvers}

    async def timezone(self, user: str) -> str | None:
        ref = await asyncio.to_thread(self._refs.find, "user", user)
        return ref.timezone if ref else None
