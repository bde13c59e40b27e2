"""Deliver the outbox: send pending messages in order, remember where they landed, retry what failed.

A message is marked sent only after the platform took it. One improvement's messages go out in order: when
one fails (or waits for its card), the later ones for that improvement wait too. Rows are claimed with a
short lease, so two processes flushing at once never send the same row.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, case, exists, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot.core.clock import Clock, as_utc
from bot.core.messages import Message
from bot.core.ports import ChatError, ChatPort, Posted
from bot.core.registry import CardView, ChartImage
from bot.core.workspace import WorkspaceSettings
from storage import queries
from storage.db import DOWN, transaction
from storage.models import Improvement, OutboxMessage, PostedMessage, Workspace

log = logging.getLogger("improvebot.delivery")

LEASE = timedelta(minutes=5)
RETRYABLE_ATTEMPTS = 200  # about eight days at the one-hour cap: an outage or a missing invite gets fixed
FINAL_ATTEMPTS = 3  # errors retrying cannot fix (a malformed message) are given up sooner
BATCH = 50


# what people are waiting for in a thread goes before bulk DMs and channel posts (a 10,000 check-in backlog
# must not hold up the reply to a click)
BULK_KINDS = ("dm", "channel", "chart")
BULK_LAST = case((col(OutboxMessage.kind).in_(BULK_KINDS), 1), else_=0)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … capped at one hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


@dataclass
class FlushReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


class _Missing(Exception):
    """What the row edits or replies under was never posted (and never will be): it cannot go."""


class Delivery:
    """`card` and `chart` render the two kinds of message written late, as they read when they go out: an
    improvement's card (edited in place at every change) and a chart image."""

    def __init__(
        self, engine: Engine, clock: Clock, chat: ChatPort, platform: str, *, card: CardView, chart: ChartImage
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._chat = chat
        self._platform = platform
        self._card = card
        self._chart = chart

    async def flush(self) -> FlushReport:
        """Send everything due now. Safe to call often, from many tasks and from several processes at once:
        claims are leased, and a row is claimable only when no older row of its improvement is pending."""
        report = FlushReport()
        token = uuid.uuid4().hex
        try:
            await self._flush(report, token)
        except DOWN as exc:  # down, locked or full: the next flush goes on
            log.warning("delivery paused: the database is unavailable (%s)", type(exc).__name__)
            report.errors.append("the database is unavailable")
        return report

    async def _flush(self, report: FlushReport, token: str) -> None:
        while True:
            claimed_at = self._clock.now()
            rows = await asyncio.to_thread(self._claim, token)
            if not rows:
                return
            try:
                await self._send_all(rows, token, report, claimed_at)
            finally:
                await asyncio.to_thread(self._release_unfinished, token)
            # every claimed row was sent, given up, or pushed past `now` by its backoff: the loop ends

    # -- claiming ----------------------------------------------------------------------------------

    def _claim(self, token: str) -> list[OutboxMessage]:
        """Claim due rows, oldest first, at most one per improvement: a row waits while an older row of the
        same improvement is pending, so one improvement's messages always go out in order."""
        now = self._clock.now()
        earlier = aliased(OutboxMessage)
        lease_free = or_(col(OutboxMessage.claimed_until).is_(None), col(OutboxMessage.claimed_until) < now)
        with transaction(self._engine) as session:
            candidates = (
                select(col(OutboxMessage.id))
                .join(Workspace, col(Workspace.id) == col(OutboxMessage.workspace_id))
                .where(
                    Workspace.platform == self._platform,
                    col(OutboxMessage.status) == "pending",
                    col(OutboxMessage.next_attempt_at) <= now,
                    lease_free,
                    ~exists().where(
                        col(earlier.status) == "pending",
                        or_(
                            (col(earlier.improvement_id) == col(OutboxMessage.improvement_id))
                            & (col(earlier.id) < col(OutboxMessage.id)),
                            col(earlier.id) == col(OutboxMessage.after_id),
                        ),
                    ),
                )
                .order_by(BULK_LAST, col(OutboxMessage.id))
                .limit(BATCH)
                .with_for_update(skip_locked=True, of=OutboxMessage)
            )
            ids = list(session.exec(candidates).all())
            if not ids:
                return []
            claimed = session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id).in_(ids), col(OutboxMessage.status) == "pending", lease_free)
                .values(claimed_by=token, claimed_until=now + LEASE)
                .returning(col(OutboxMessage.id))
                .execution_options(synchronize_session=False)
            )
            mine = set(claimed.scalars().all())
            rows = session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(mine))).all()
            return sorted(rows, key=lambda row: (row.kind in BULK_KINDS, row.id or 0))

    def _renew(self, row: OutboxMessage, token: str) -> bool:
        """Just before sending: is the row still ours? (A lease that ran out may have passed it on.)"""
        now = self._clock.now()
        with transaction(self._engine) as session:
            result = session.execute(
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.id) == row.id,
                    col(OutboxMessage.claimed_by) == token,
                    col(OutboxMessage.status) == "pending",
                )
                .values(claimed_until=now + LEASE)
                .execution_options(synchronize_session=False)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def _release_unfinished(self, token: str) -> None:
        with transaction(self._engine) as session:
            session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.claimed_by) == token, col(OutboxMessage.status) == "pending")
                .values(claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )

    # -- sending -----------------------------------------------------------------------------------

    async def _send_all(self, rows: list[OutboxMessage], token: str, report: FlushReport, claimed_at: datetime) -> None:
        for row in rows:
            # while the claim is young the lease is ours; after half of it, renew (and check) before sending
            if self._clock.now() - claimed_at > LEASE / 2 and not await asyncio.to_thread(self._renew, row, token):
                continue
            try:
                where = await self._send(row)
            except _Missing as exc:
                await asyncio.to_thread(self._give_up, row, str(exc))
                report.dead += 1
                continue
            except Exception as exc:  # one message that cannot go never stops the others
                if not isinstance(exc, ChatError):  # not an answer we know: a bug, or a shape never seen
                    log.exception("outbox #%s (%s) failed unexpectedly", row.id, row.kind)
                    exc = ChatError(f"{type(exc).__name__}: {exc}", retryable=False)
                dead = await asyncio.to_thread(self._failed, row, exc)
                report.failed += 1
                report.dead += int(dead)
                report.errors.append(f"outbox #{row.id} ({row.kind}): {exc}")
                continue
            try:
                await asyncio.to_thread(self._mark_sent, row, where)
            except Exception:  # it went out; its row stays claimed and its lease runs out (sent at least once)
                log.exception("outbox #%s (%s) was delivered but could not be marked sent", row.id, row.kind)
                report.errors.append(f"outbox #{row.id} ({row.kind}): delivered, not marked sent")
                continue
            report.sent += 1

    async def _send(self, row: OutboxMessage) -> Posted | None:
        if row.kind == "card":
            return await self._send_card(row)
        if row.kind == "chart":
            if row.after_id is not None and await asyncio.to_thread(self._status_of, row.after_id) == "dead":
                raise _Missing("the announcement it belongs to was never posted")
            payload = row.payload or {}
            series = [(str(label), float(value)) for label, value in payload.get("series", [])]
            png = await asyncio.to_thread(self._chart, str(payload.get("title", "")), series)
            await self._chat.upload(row.target or "", "hours-given-back.png", str(payload.get("title", "")), png)
            return None
        if row.kind == "private":
            data = row.payload or {}
            where = str(data.get("where") or "") or None
            await self._chat.private(row.target or "", Message.model_validate(data.get("message")), where)
            return None
        message = Message.model_validate(row.payload)
        if row.kind == "dm":
            return await self._chat.dm(row.target or "", message)
        if row.kind == "channel":
            return await self._chat.post(row.target or "", message)
        card = await asyncio.to_thread(self._posted, row.improvement_id, "card")
        if card is None:
            raise _Missing("the improvement's card was never posted")
        if row.kind == "thread":
            return await self._chat.reply(card.channel, card.ref, message)
        if row.kind == "update":
            target = await asyncio.to_thread(self._posted, row.improvement_id, row.key or "")
            if target is None:
                raise _Missing(f"the message {row.key!r} to edit was never posted")
            await self._chat.update(target.channel, target.ref, message)
            return None
        raise ChatError(f"unknown outbox kind {row.kind!r}", retryable=False)

    async def _send_card(self, row: OutboxMessage) -> Posted | None:
        improvement, message, card = await asyncio.to_thread(self._card_of, row)
        if card is None:
            return await self._chat.post(improvement.channel_id, message)
        await self._chat.update(card.channel, card.ref, message)
        return None

    # -- database side (run in a worker thread) ----------------------------------------------------

    def _card_of(self, row: OutboxMessage) -> tuple[Improvement, Message, PostedMessage | None]:
        """The card as it should read now, and where it was posted (None: not yet)."""
        with Session(self._engine) as session:
            improvement = session.get(Improvement, row.improvement_id)
            workspace = session.get(Workspace, row.workspace_id)
            assert improvement is not None and workspace is not None
            settings = WorkspaceSettings.from_json(workspace.settings)
            posted = queries.posted(session, improvement.id or 0, "card")
            return improvement, self._card(session, improvement, settings), posted

    def _status_of(self, outbox_id: int) -> str | None:
        with Session(self._engine) as session:
            row = session.get(OutboxMessage, outbox_id)
            return row.status if row else None

    def _posted(self, improvement_id: int | None, key: str) -> PostedMessage | None:
        if improvement_id is None:
            return None
        with Session(self._engine) as session:
            return queries.posted(session, improvement_id, key)

    def _mark_sent(self, row: OutboxMessage, where: Posted | None) -> None:
        now = self._clock.now()
        with transaction(self._engine) as session:
            session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row.id)
                .values(status="sent", sent_at=now, claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
            remember = "card" if row.kind == "card" else row.key
            known = where is None or not remember or row.improvement_id is None
            if not known and queries.posted(session, row.improvement_id or 0, remember or "") is None:
                assert where is not None
                session.add(
                    PostedMessage(
                        workspace_id=row.workspace_id,
                        improvement_id=row.improvement_id,
                        key=remember or "",
                        channel=where.channel,
                        ref=where.ref,
                        created_at=now,
                    )
                )

    def _give_up(self, row: OutboxMessage, reason: str) -> None:
        with transaction(self._engine) as session:
            session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row.id)
                .values(status="dead", last_error=reason[:500], claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
        log.error("outbox #%s (%s) cannot be delivered: %s", row.id, row.kind, reason)

    def _failed(self, row: OutboxMessage, error: ChatError) -> bool:
        """Count the failed attempt; schedule the retry, or give up. Returns True when given up."""
        attempts = row.attempts + 1
        limit = RETRYABLE_ATTEMPTS if error.retryable else FINAL_ATTEMPTS
        if attempts >= limit:
            self._give_up(row, f"after {attempts} attempts: {error}")
            return True
        retry_at = self._clock.now() + backoff(attempts)
        with transaction(self._engine) as session:
            session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row.id)
                .values(attempts=attempts, last_error=str(error)[:500], next_attempt_at=retry_at,
                        claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )  # fmt: skip
        log.warning("outbox #%s (%s) not delivered (attempt %s), retry at %s: %s",
                    row.id, row.kind, attempts, as_utc(retry_at).isoformat(), error)  # fmt: skip
        return False
