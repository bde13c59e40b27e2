"""Deliver the outbox: send pending messages in order, remember where they landed, retry what failed.

A message is marked sent only after the platform took it. One improvement's messages go out in order: when
one fails (or waits for its card), the later ones for that improvement wait too. Rows are claimed with a
short lease, so two processes flushing at once never send the same row.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from bot import views
from bot.clock import Clock, as_utc
from bot.messages import Message
from bot.ports import ChatError, ChatPort, Posted
from bot.workspace import WorkspaceSettings
from storage import queries
from storage.db import transaction
from storage.models import Improvement, OutboxMessage, PostedMessage, Workspace

log = logging.getLogger("improvebot.delivery")

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 12
BATCH = 200


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … capped at one hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


@dataclass
class FlushReport:
    sent: int = 0
    failed: int = 0
    waiting: int = 0
    errors: list[str] = field(default_factory=list)


class _Wait(Exception):
    """The row can't go yet (its card or the message it edits is not posted): try at a later flush."""


class Delivery:
    def __init__(self, engine: Engine, clock: Clock, chat: ChatPort, platform: str) -> None:
        self._engine = engine
        self._clock = clock
        self._chat = chat
        self._platform = platform
        self._lock = asyncio.Lock()

    async def flush(self) -> FlushReport:
        """Send everything due now. Safe to call often and from many tasks."""
        async with self._lock:
            report = FlushReport()
            while True:
                rows = await asyncio.to_thread(self._claim)
                sent_before = report.sent
                await self._send_all(rows, report)
                # another batch only while this one was full and moved something
                if len(rows) < BATCH or report.sent == sent_before:
                    return report

    # -- claiming ----------------------------------------------------------------------------------

    def _claim(self) -> list[OutboxMessage]:
        now = self._clock.now()
        with transaction(self._engine) as session:
            candidates = session.exec(
                select(OutboxMessage)
                .join(Workspace, col(Workspace.id) == col(OutboxMessage.workspace_id))
                .where(
                    Workspace.platform == self._platform,
                    OutboxMessage.status == "pending",
                    col(OutboxMessage.next_attempt_at) <= now,
                    or_(col(OutboxMessage.claimed_until).is_(None), col(OutboxMessage.claimed_until) < now),
                )
                .order_by(col(OutboxMessage.id))
                .limit(BATCH)
            ).all()
            claimed = []
            for row in candidates:
                result = session.execute(
                    update(OutboxMessage)
                    .where(
                        col(OutboxMessage.id) == row.id,
                        col(OutboxMessage.status) == "pending",
                        or_(col(OutboxMessage.claimed_until).is_(None), col(OutboxMessage.claimed_until) < now),
                    )
                    .values(claimed_until=now + LEASE)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(row)
            return claimed

    # -- sending -----------------------------------------------------------------------------------

    async def _send_all(self, rows: list[OutboxMessage], report: FlushReport) -> None:
        held: set[int] = set()  # improvements with an earlier message still waiting
        cards_done: set[int] = set()
        for row in rows:
            if row.improvement_id is not None and row.improvement_id in held:
                await asyncio.to_thread(self._release, row, None)
                report.waiting += 1
                continue
            if row.kind == "card" and row.improvement_id in cards_done:
                await asyncio.to_thread(self._mark_sent, row, None, None)  # the card is already current
                continue
            try:
                where = await self._send(row)
            except _Wait:
                held.add(row.improvement_id or 0)
                await asyncio.to_thread(self._release, row, None)
                report.waiting += 1
                continue
            except ChatError as exc:
                if row.improvement_id is not None:
                    held.add(row.improvement_id)
                await asyncio.to_thread(self._release, row, exc)
                report.failed += 1
                report.errors.append(f"outbox #{row.id} ({row.kind}): {exc}")
                continue
            if row.kind == "card" and row.improvement_id is not None:
                cards_done.add(row.improvement_id)
            await asyncio.to_thread(self._mark_sent, row, where, row.key)
            report.sent += 1

    async def _send(self, row: OutboxMessage) -> Posted | None:
        if row.kind == "card":
            return await self._send_card(row)
        message = Message.model_validate(row.payload)
        if row.kind == "dm":
            return await self._chat.dm(row.target or "", message)
        if row.kind == "channel":
            return await self._chat.post(row.target or "", message)
        card = await asyncio.to_thread(self._posted, row.improvement_id, "card")
        if card is None:
            raise _Wait
        if row.kind == "thread":
            return await self._chat.reply(card.channel, card.ref, message)
        if row.kind == "update":
            target = await asyncio.to_thread(self._posted, row.improvement_id, row.key or "")
            if target is None:
                raise _Wait
            await self._chat.update(target.channel, target.ref, message)
            return None
        raise ChatError(f"unknown outbox kind {row.kind!r}", retryable=False)

    async def _send_card(self, row: OutboxMessage) -> Posted | None:
        improvement, message = await asyncio.to_thread(self._card_of, row)
        card = await asyncio.to_thread(self._posted, improvement.id, "card")
        if card is None:
            return await self._chat.post(improvement.channel_id, message)
        await self._chat.update(card.channel, card.ref, message)
        return None

    # -- database side (run in a worker thread) ----------------------------------------------------

    def _card_of(self, row: OutboxMessage) -> tuple[Improvement, Message]:
        with Session(self._engine) as session:
            improvement = session.get(Improvement, row.improvement_id)
            workspace = session.get(Workspace, row.workspace_id)
            assert improvement is not None and workspace is not None
            settings = WorkspaceSettings.from_json(workspace.settings)
            whys = queries.whys_of(session, improvement.id or 0)
            return improvement, views.report_card(improvement, whys, settings)

    def _posted(self, improvement_id: int | None, key: str) -> PostedMessage | None:
        if improvement_id is None:
            return None
        with Session(self._engine) as session:
            return queries.posted(session, improvement_id, key)

    def _mark_sent(self, row: OutboxMessage, where: Posted | None, key: str | None) -> None:
        now = self._clock.now()
        with transaction(self._engine) as session:
            fresh = session.get(OutboxMessage, row.id)
            assert fresh is not None
            fresh.status = "sent"
            fresh.sent_at = now
            fresh.claimed_until = None
            session.add(fresh)
            remember = "card" if row.kind == "card" else key
            if where is not None and remember and row.improvement_id is not None:
                existing = queries.posted(session, row.improvement_id, remember)
                if existing is None:
                    session.add(
                        PostedMessage(
                            workspace_id=row.workspace_id,
                            improvement_id=row.improvement_id,
                            key=remember,
                            channel=where.channel,
                            ref=where.ref,
                            created_at=now,
                        )
                    )

    def _release(self, row: OutboxMessage, error: ChatError | None) -> None:
        now = self._clock.now()
        with transaction(self._engine) as session:
            fresh = session.get(OutboxMessage, row.id)
            assert fresh is not None
            fresh.claimed_until = None
            if error is not None:
                fresh.attempts += 1
                fresh.last_error = str(error)[:500]
                if fresh.attempts >= MAX_ATTEMPTS or (not error.retryable and fresh.attempts >= 3):
                    fresh.status = "dead"
                    log.error("giving up on outbox #%s (%s) after %s attempts: %s",
                              fresh.id, fresh.kind, fresh.attempts, error)  # fmt: skip
                else:
                    fresh.next_attempt_at = now + backoff(fresh.attempts)
                    log.warning("outbox #%s (%s) not delivered, retry at %s: %s",
                                fresh.id, fresh.kind, as_utc(fresh.next_attempt_at).isoformat(), error)  # fmt: skip
            session.add(fresh)
