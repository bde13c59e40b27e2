"""Teams' side of the platform seam: channel posts, reply chains, in-place updates and 1:1 messages through the
Bot Framework connector (the service URL each tenant's activities name), and who may approve."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from cachetools import TTLCache
from microsoft_teams.api.activities.message import MessageActivityInput
from microsoft_teams.api.clients.conversation import CreateConversationParams
from microsoft_teams.api.models import Attachment
from microsoft_teams.apps import App, to_threaded_conversation_id
from sqlalchemy import Engine
from sqlmodel import Session

from bot.core.clock import Clock
from bot.core.identity import stand_in
from bot.core.messages import Bold, Link, Mention, Message, Paragraph, Text, spans
from bot.core.ports import WORKSPACE, ChatError, Destination, Posted
from handlers.pacing import Pacer, Rate
from handlers.teams import render
from handlers.teams.references import References
from storage import downloads
from storage.models import TeamsReference, Workspace

NO_DOWNLOADS = (
    "I can't hand you the file: Teams takes files from a bot only through a download link, and this deployment has "
    "no public address for one. Whoever runs the bot can set IMPROVE_PUBLIC_URL."
)

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
    return [user for user in users if not stand_in(user)]  # a pseudonym has no name to look up


def make_pacer(per_bot: Rate, per_conversation: Rate) -> Pacer:
    """The connector's limits: per bot across all conversations, and per conversation (a channel's reply
    chains count as the channel)."""
    return Pacer(lambda key: per_bot if key == "bot" else per_conversation)


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(1.0, float(response.headers.get("Retry-After", 1)))
    except ValueError:
        return 1.0


async def _guard(what: str, call: Callable[[], Awaitable[Any]], seconds: float | None = None) -> Any:
    """The connector's answer, or a ChatError: whether a retry can help, and whether the activity may have
    arrived although no answer came (a timeout or a dropped connection after the request was sent)."""
    try:
        return await asyncio.wait_for(call(), seconds)
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        if status == 429:
            raise ChatError(f"{what}: HTTP 429", retry_after=_retry_after(exc.response)) from exc
        raise ChatError(f"{what}: HTTP {status}", retryable=status >= 500 or status == 412) from exc
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:  # never reached the connector
        raise ChatError(f"{what}: {type(exc).__name__}: {exc}") from exc
    except (httpx.TransportError, TimeoutError, OSError) as exc:  # sent, and then the answer was lost
        raise ChatError(f"{what}: {type(exc).__name__}: {exc}", unknown=True) from exc
    except ValueError as exc:  # e.g. the app has no credentials
        raise ChatError(f"{what}: {exc}", retryable=False) from exc


RATE_LIMIT_RETRIES = 4  # a 429 waits out its Retry-After this many times within one send, then backoff


class TeamsChat:
    """`timeout`: how long a send may take before its outcome counts as unknown (the SDK sets none)."""

    def __init__(
        self,
        app: App,
        references: References,
        clock: Clock,
        default_service_url: str,
        roster: str,
        *,
        pacer: Pacer | None = None,
        timeout: float = 30.0,
        engine: Engine | None = None,
        public_url: str = "",
    ) -> None:
        self._app = app
        self._engine = engine  # where a file waits for its download link (send_file)
        self._public_url = public_url.rstrip("/")
        self._refs = references
        self._clock = clock
        self._default_service_url = default_service_url
        self._roster = roster  # a team conversation whose members the bot may look up (the intake channel)
        self._rosters: TTLCache[int, str] = TTLCache(maxsize=10_000, ttl=60)  # each organisation's
        self._pacer = pacer or Pacer(lambda _key: None)  # unpaced unless told
        self._timeout = timeout

    async def _person(self, user: str) -> TeamsReference | None:
        """What we know of a person; someone the bot has not met yet is looked up in the team's roster."""
        ref = await asyncio.to_thread(self._refs.find, "user", user)
        if ref is not None and ref.user_id and ref.name:
            return ref
        tenant = await asyncio.to_thread(self._refs.tenant, WORKSPACE.get())
        if tenant is None:
            return ref
        roster = await self._roster_of(tenant.workspace_id)
        if not roster:
            return ref
        api = self._app.api.clone(service_url=tenant.service_url)
        try:
            member = await api.conversations.members_client.get_by_id(roster, user)
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("could not look up a person in the team: %s", exc)
            return ref
        seen = {"service_url": tenant.service_url, "tenant_id": tenant.key,
                "user": {"aad": user, "user_id": member.id, "name": member.name}}  # fmt: skip
        await asyncio.to_thread(self._refs.remember, tenant.workspace_id, seen, self._clock.now())
        return await asyncio.to_thread(self._refs.find, "user", user)

    async def _roster_of(self, workspace_id: int) -> str:
        """The organisation's intake channel, whose team's members the bot may look up (read once a minute)."""
        known = self._rosters.get(workspace_id)
        if known is None and self._engine is not None:
            engine = self._engine

            def read() -> str:
                with Session(engine) as session:
                    row = session.get(Workspace, workspace_id)
                    return str((row.settings if row is not None else {}).get("intake_channel") or "")

            known = self._rosters[workspace_id] = await asyncio.to_thread(read)
        return self._roster if known is None else known

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
            self._refs.tenant, WORKSPACE.get()
        )
        return ref.service_url if ref else self._default_service_url

    async def _send(self, what: str, conversation: str, activity: MessageActivityInput) -> str:
        """Paced per conversation and per bot; a 429 holds only its conversation for its Retry-After."""
        service_url = await self._service_url(conversation)
        bucket = "conversation:" + conversation.split(";")[0]

        def send() -> Awaitable[Any]:
            return _guard(what, lambda: self._app.send(conversation, activity, service_url=service_url), self._timeout)

        sent = await self._pacer.send(what, (bucket, "bot"), send, retries=RATE_LIMIT_RETRIES)
        return str(sent.id)

    async def send_card(self, conversation: str, card: dict[str, Any]) -> str:
        return await self._send("card", conversation, card_activity(card))

    async def find(self, where: Destination, key: str, since: datetime) -> Posted | None:
        """The connector offers no way to read a conversation back, nor honours an id the bot chooses: a send
        whose answer was lost (after the long `timeout`) is sent again, and may show twice."""
        return None

    async def post(self, channel: str, message: Message, *, key: str = "") -> Posted:
        activity = await self._activity(message)
        return Posted(channel=channel, ref=await self._send("post", channel, activity))

    async def reply(self, channel: str, thread: str, message: Message, *, key: str = "") -> Posted:
        conversation = to_threaded_conversation_id(channel, thread)
        activity = await self._activity(message)
        return Posted(channel=conversation, ref=await self._send("reply", conversation, activity))

    async def update(self, channel: str, ref: str, message: Message) -> None:
        activity = await self._activity(message, ref)
        await self._send("update", channel, activity)

    async def dm(self, user: str, message: Message, *, key: str = "") -> Posted:
        conversation = await self.personal_conversation(user)
        activity = await self._activity(message)
        return Posted(channel=conversation, ref=await self._send("dm", conversation, activity))

    async def private(self, user: str, message: Message, where: str | None) -> None:
        """Teams shows nothing to one person alone in a channel: the person's 1:1 chat with the bot."""
        await self.dm(user, message)

    async def send_file(self, user: str, filename: str, title: str, content: bytes) -> None:
        """A bot cannot drop a file into a Teams chat without the person's consent each time: the file waits on
        the bot's own server behind an unguessable link that works for 15 minutes (IMPROVE_PUBLIC_URL)."""
        person = await self._person(user)
        if not self._public_url or self._engine is None or person is None:
            said = NO_DOWNLOADS if person is not None else "no conversation with that person yet"
            if person is None:
                raise ChatError(said, retryable=False)
            await self.dm(user, Message(summary=title, blocks=[Paragraph(spans=spans(said))]))
            return
        token = await asyncio.to_thread(downloads.keep, self._engine, person.workspace_id, user, filename, content,
                                        self._clock.now())  # fmt: skip
        minutes = int(downloads.LIFETIME.total_seconds() // 60)
        link = Link(text=f"Download {filename}", url=f"{self._public_url}/downloads/{token}")
        after = Text(text=f" ({len(content):,} bytes). The link works for {minutes} minutes; ask again for a new one.")
        await self.dm(user, Message(summary=title, blocks=[Paragraph(spans=[Bold(text=f"{title}: "), link, after])]))

    async def upload(self, channel: str, filename: str, title: str, content: bytes, *, thread: str = "") -> None:
        data_uri = "data:image/png;base64," + base64.b64encode(content).decode()
        activity = MessageActivityInput(text=title).add_attachments(
            Attachment(content_type="image/png", content_url=data_uri, name=filename)
        )
        await self._send("chart", to_threaded_conversation_id(channel, thread) if thread else channel, activity)

    async def image(self, filename: str, title: str, content: bytes, *, key: str) -> str | None:
        """Teams fetches a card's image from a public HTTPS address: the bot's own server serves it by `key`
        (GET /charts/{key}); without IMPROVE_PUBLIC_URL the view goes without its picture (its words stay)."""
        return f"{self._public_url}/charts/{key}" if self._public_url else None

    async def forget_image(self, ref: str) -> None:
        """Nothing to delete: the bot's own server stops serving a chart once it is dropped."""

    async def home(self, user: str, message: Message) -> None:
        """Nothing to push: the home is a card that Teams asks for again (its refresh) whenever it is shown."""

    async def permalink(self, channel: str, ref: str) -> str | None:
        """A Teams deep link to the channel message (the card) its reply chain hangs under."""
        tenant = await asyncio.to_thread(self._refs.tenant, WORKSPACE.get())
        query = urlencode({"tenantId": tenant.key, "parentMessageId": ref} if tenant else {"parentMessageId": ref})
        return f"https://teams.microsoft.com/l/message/{quote(channel.split(';')[0], safe='')}/{quote(ref)}?{query}"

    async def personal_conversation(self, user: str) -> str:
        """The 1:1 chat with a person (AAD object id), created the first time the bot needs it."""
        ref = await self._person(user)
        if ref is None or not ref.user_id:
            raise ChatError("dm: the person is not known in the team yet", retryable=True)  # nobody named
        if ref.conversation_id:
            return ref.conversation_id
        tenant = await asyncio.to_thread(self._refs.tenant, WORKSPACE.get())
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


_CHANNEL = re.compile(r"19:[\w.-]{1,200}@thread\.(tacv2|skype)")


class TeamsDirectory:
    """Approvers are the Azure AD object ids in TEAMS_APPROVERS; time zones come from the Teams clients."""

    def __init__(self, references: References) -> None:
        self._refs = references

    async def is_approver(self, user: str, approvers: list[str]) -> bool:
        return user.lower() in {a.lower() for a in approvers}

    async def people(self, approvers: list[str]) -> list[str]:
        return list(dict.fromkeys(a.lower() for a in approvers))

    async def admins(self) -> list[str]:
        """The connector does not say who owns a team (that is Microsoft Graph's): TEAMS_FALLBACK_APPROVERS."""
        return []

    async def can_post(self, channel: str, *, member: bool = False) -> str | None:
        """The connector cannot read a channel's membership: only its id's shape is checked."""
        return None if _CHANNEL.fullmatch(channel) else "A Teams channel id looks like 19:…@thread.tacv2."

    async def timezone(self, user: str) -> str | None:
        ref = await asyncio.to_thread(self._refs.find, "user", user)
        return ref.timezone if ref else None
