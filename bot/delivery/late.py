"""What delivery renders right before the send, as it reads then: links to improvements' threads, chart images,
files (an export). The rest of a message is written when its use case runs (bot.delivery.outbox)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from cachetools import TTLCache
from sqlalchemy import Engine
from sqlmodel import Session

from bot.core.messages import Link, Message, Text, ThreadLink
from bot.core.ports import ChatError, ChatPort
from bot.core.registry import ChartImage, FileContent
from storage import queries
from storage.db import DOWN
from storage.models import OutboxMessage, PostedMessage, Workspace

log = logging.getLogger("improvebot.delivery")


class Missing(Exception):
    """What the row edits or replies under was never posted (and never will be), or what it would send cannot
    be made: it cannot go."""


class Late:
    def __init__(self, engine: Engine, chat: ChatPort, *, chart: ChartImage, file: FileContent | None) -> None:
        self._engine = engine
        self._chat = chat
        self._chart = chart
        self._file = file
        # workspace id -> the platform's id of it; for a minute (an erased workspace's id may be given again)
        self._teams: TTLCache[int, str] = TTLCache(maxsize=10_000, ttl=60)

    async def workspace(self, workspace_id: int) -> str:
        """The platform's id of the workspace (a Slack team): what a platform installed in many sends as."""
        known = self._teams.get(workspace_id)
        if known is None:

            def read() -> str:
                with Session(self._engine) as session:
                    row = session.get(Workspace, workspace_id)
                    return row.external_id if row is not None else ""

            try:
                known = self._teams[workspace_id] = await asyncio.to_thread(read)
            except DOWN as exc:  # tried again by a later flush
                raise ChatError(f"the workspace could not be read: {type(exc).__name__}") from exc
        return known

    def posted(self, improvement_id: int | None, key: str) -> PostedMessage | None:
        if improvement_id is None:
            return None
        with Session(self._engine) as session:
            return queries.posted(session, improvement_id, key)

    def _status_of(self, outbox_id: int) -> str | None:
        with Session(self._engine) as session:
            row = session.get(OutboxMessage, outbox_id)
            return row.status if row else None

    async def linked(self, message: Message, improvement_id: int | None) -> Message:
        """The message with its ThreadLinks made links to their improvement's card (the message's own, unless a
        link names another), plain text where the card is not posted yet or the platform has no link."""
        links = [s for block in message.blocks for s in getattr(block, "spans", ()) if isinstance(s, ThreadLink)]
        if not links:
            return message
        targets = list(dict.fromkeys(link.improvement or improvement_id for link in links))
        found = await asyncio.gather(*(self._permalink(target) for target in targets))
        urls = dict(zip(targets, found, strict=True))

        def resolved(span: Any) -> Any:
            if not isinstance(span, ThreadLink):
                return span
            url = urls.get(span.improvement or improvement_id)
            return Link(text=span.text, url=url) if url else Text(text=span.text)

        blocks = [
            block.model_copy(update={"spans": [resolved(s) for s in block.spans]}) if hasattr(block, "spans") else block
            for block in message.blocks
        ]
        return message.model_copy(update={"blocks": blocks})

    async def _permalink(self, improvement_id: int | None) -> str | None:
        try:
            card = await asyncio.to_thread(self.posted, improvement_id, "card")
            return await self._chat.permalink(card.channel, card.ref) if card else None
        except Exception as exc:  # the link is a convenience: the message goes without it
            log.warning("no link to the thread of improvement %s: %s", improvement_id, type(exc).__name__)
            return None

    async def chart(self, row: OutboxMessage) -> None:
        """Drawn now from its payload; into a channel, or (no target) into the improvement's thread."""
        if row.after_id is not None and await asyncio.to_thread(self._status_of, row.after_id) == "dead":
            raise Missing("the announcement it belongs to was never posted")
        payload = row.payload or {}
        channel, thread = row.target or "", ""
        if not channel:
            card = await asyncio.to_thread(self.posted, row.improvement_id, "card")
            if card is None:
                raise Missing("the improvement's card was never posted")
            channel, thread = card.channel, card.ref
        png = await asyncio.to_thread(self._chart, payload)
        filename, title = str(payload.get("filename") or "chart.png"), str(payload.get("title", ""))
        await self._chat.upload(channel, filename, title, png, thread=thread)

    async def file(self, row: OutboxMessage) -> None:
        """Written now (an export as of now), to the person the row names."""
        payload = row.payload or {}
        filename, content = await asyncio.to_thread(self._write, payload)
        await self._chat.send_file(row.target or "", filename, str(payload.get("title") or filename), content)

    def _write(self, payload: dict[str, Any]) -> tuple[str, bytes]:
        if self._file is None:
            raise Missing("this deployment writes no files")
        with Session(self._engine) as session:
            try:
                return self._file(session, payload)
            except (LookupError, ValueError, TypeError) as exc:
                raise Missing(f"the file cannot be written: {exc}") from None
