"""Deliver the outbox: send pending messages in order, remember where they landed, retry what failed.

A message is marked sent only after the platform took it. One improvement's messages go out in order: when
one fails (or waits for its card), the later ones for that improvement wait too. Many messages are in
progress at once (`concurrency`), people-facing ones claimed first.

Rows are claimed with a short lease that the flush renews while it is alive, so two processes flushing at once
never send the same row, and the rows of a process that died are taken over within a lease (30 s), never
while their holder still renews them. A send whose outcome is unknown (a timeout, a dropped connection after
sending) or that a dead holder may have made is *unsure*: it is looked for on the platform (ChatPort.find)
before it is sent again, so a slow platform or a crash never posts a message twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from bot.core.clock import Clock, as_utc
from bot.core.identity import Sealer
from bot.core.messages import Message
from bot.core.ports import BULK, SENDABLE, WORKSPACE, ChatError, ChatPort, Destination, Posted
from bot.core.registry import CardView, ChartImage, FileContent, HomePublisher
from bot.core.workspace import WorkspaceSettings
from bot.delivery.claims import HEARTBEAT, Claims
from bot.delivery.flushing import BUSY_PAUSES, CONCURRENCY, Flush, FlushReport, one_at_a_time
from bot.delivery.late import Late, Missing
from bot.delivery.recipients import Recipients
from storage import queries
from storage.db import DOWN, Unavailable
from storage.models import Improvement, OutboxMessage, PostedMessage, Workspace

log = logging.getLogger("improvebot.delivery")
T = TypeVar("T")

# bulk messages sent are marked together, at most this long after they went (one write for many: at a paced 100 a
# second, one each would be a transaction per message); one that people wait for (and the next message of its
# improvement, which waits for it) is marked at once
MARK_EVERY = 0.25
MARK_AT_ONCE = 64  # … or as soon as this many are waiting
FINDABLE = ("card", "thread", "dm", "channel")  # new messages: what ChatPort.find can look for


def _key(row: OutboxMessage) -> str:
    """What a new message carries to be found again: its row, and when the row was written (so another
    deployment's row with the same number never matches)."""
    return f"{row.id}-{int(as_utc(row.created_at).timestamp() * 1000)}"


async def _in_thread(call: Callable[[], T], pauses: Sequence[float]) -> T:
    """`call()` on a worker thread, tried again after each of `pauses` while the database is busy."""
    for pause in pauses:
        try:
            return await asyncio.to_thread(call)
        except DOWN:
            await asyncio.sleep(pause)
    return await asyncio.to_thread(call)


class Delivery:
    """`card`, `chart`, `file` and `home` render the kinds of message written late, as they read when they go
    out: an improvement's card (edited in place at every change), a chart image, a file (an export), a person's
    home view."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        chat: ChatPort,
        platform: str,
        *,
        card: CardView,
        chart: ChartImage,
        file: FileContent | None = None,
        home: HomePublisher | None = None,
        concurrency: int = CONCURRENCY,
        sealer: Sealer | None = None,
    ) -> None:
        self._engine = engine
        self._person = Recipients(engine, sealer).of
        self.observers: list[Callable[[FlushReport], None]] = []  # told every flush's report
        self._clock = clock
        self._chat = chat
        self._platform = platform
        self._card = card
        self._late = Late(engine, chat, chart=chart, file=file)
        self._home = home
        self._concurrency = max(1, concurrency)
        self._claims = Claims(engine, clock, platform)

    async def flush(self, budget: float | None = None, window: int | None = None, *, bulk: bool = True) -> FlushReport:
        """Send everything due now (with a `budget` in seconds: claim nothing more after it, finish what is under
        way; `window`: fewer messages in progress than `concurrency`; `bulk=False`: only what people wait for, the
        check-ins and digests being an `improvebot worker`'s). Safe to call often, from many tasks and from several
        processes at once: claims are leased, and a row is claimable only when no older row of its improvement is
        pending."""
        window = min(window or self._concurrency, self._concurrency)
        state = Flush(self._claims.token(), FlushReport(), window=window, bulk=bulk)
        state.until = time.monotonic() + budget if budget is not None else float("inf")
        heartbeat = asyncio.ensure_future(self._heartbeat(state))
        marker = asyncio.ensure_future(self._marker(state))
        try:
            await self._flush(state)
        except DOWN as exc:  # down, locked or full: the next flush goes on
            log.warning("delivery paused: the database is unavailable (%s)", type(exc).__name__)
            state.report.errors.append("the database is unavailable")
        finally:
            heartbeat.cancel()
            marker.cancel()
            await asyncio.gather(heartbeat, marker, return_exceptions=True)
            if state.wake_later is not None:
                state.wake_later.cancel()
            if state.to_mark:  # sent, not marked yet (stopped meanwhile): marked now, so nobody looks for them
                sent = [(row, where) for row, where, _ in state.to_mark]
                state.to_mark = []
                try:
                    await asyncio.shield(self._write(state, self._claims.mark_sent, sent, pauses=BUSY_PAUSES[:2]))
                    state.report.sent += len(sent)
                except Exception:  # released below as unsure: whoever sends them next finds them first
                    log.exception("%s delivered messages could not be marked sent", len(sent))
            if state.claimed:
                await asyncio.shield(self._release(state))
            for observe in self.observers:  # counted where the server counts (handlers/metrics.py), stopped or not
                try:
                    observe(state.report)
                except Exception:  # a count is never worth the flush's own outcome
                    log.exception("a delivery observer failed")
        return state.report

    @staticmethod
    async def _write(state: Flush, write: Callable[..., None], *args: object, pauses: Sequence[float] = ()) -> None:
        """A write to the flush's own rows, one at a time (a renewal beside a marking deadlocked on their rows),
        tried again after each of `pauses` while the database is busy (each of these writes can be made twice)."""
        await _in_thread(functools.partial(one_at_a_time, state.writes, functools.partial(write, *args)), pauses)

    async def _release(self, state: Flush) -> None:
        """Give back what the flush holds, trying again while the database is busy: rows left claimed would hold
        their workspace's bulk from every other flush until their lease ran out."""
        release = functools.partial(self._claims.release, paced=state.bulk)
        try:  # 0.75 s of pauses at most: a stopping process waits for this
            await self._write(state, release, state.token, frozenset(state.sending), pauses=BUSY_PAUSES[:2])
        except DOWN as exc:
            log.warning("delivery could not give back its rows (%s): they wait for their lease", exc)

    async def _heartbeat(self, state: Flush) -> None:
        """Renew the lease on every row this flush holds, often enough that nobody takes them over."""
        while True:
            await asyncio.sleep(HEARTBEAT.total_seconds())
            asked = time.monotonic()  # the lease runs from before the renewal, not from its answer
            try:
                await self._write(state, self._claims.renew, state.token)
                state.renewed = asked
            except Exception as exc:  # without renewals the flush soon stops sending (see Flush.alive)
                log.warning("delivery could not renew its lease (%s)", type(exc).__name__)

    async def _marker(self, state: Flush) -> None:
        """Mark sent what went out, many rows a write (bulk rows: MARK_EVERY seconds after the first of them)."""
        while True:
            await state.wake.wait()
            state.wake.clear()
            if state.wake_later is not None:
                state.wake_later.cancel()
                state.wake_later = None
            while state.to_mark:
                batch, state.to_mark, marked = state.to_mark, [], False
                try:
                    sent = [(row, where) for row, where, _ in batch]  # unmarked, they would be looked for
                    pauses = BUSY_PAUSES[:2] if state.short else BUSY_PAUSES
                    await self._write(state, self._claims.mark_sent, sent, pauses=pauses)
                    marked = True
                except asyncio.CancelledError:  # stopped meanwhile (its write maybe not started): marked on the way
                    state.to_mark = batch + state.to_mark  # out, by the flush (again if it was: that changes nothing)
                    raise
                except Exception:  # they went out: released as unsure, whoever sends them next finds them first
                    log.exception("%s delivered messages could not be marked sent", len(batch))
                for _row, _where, done in batch:
                    if not done.done():
                        done.set_result(marked)

    async def _flush(self, state: Flush) -> None:
        """Keep up to `concurrency` messages in progress, claiming more whenever half of them are done."""
        running: set[asyncio.Task[None]] = set()
        finished = asyncio.Event()

        def done(task: asyncio.Task[None]) -> None:
            running.discard(task)
            finished.set()
            if not task.cancelled() and task.exception() is not None:
                log.error("a delivery task failed", exc_info=task.exception())

        claiming = True
        try:
            while True:
                finished.clear()  # set again by any send that ends from here on, the claim below included
                room = state.window - len(running)
                claiming = claiming and time.monotonic() < state.until
                if claiming and state.alive() and (not running or room >= max(1, state.window // 2)):
                    try:
                        for row in await self._claim(state, room):
                            task = asyncio.ensure_future(self._deliver(row, state))
                            running.add(task)
                            task.add_done_callback(done)
                    except DOWN as exc:  # busy past every pause: claim no more, but let the sends under way finish
                        log.warning("delivery paused: the database is unavailable (%s)", type(exc).__name__)
                        state.report.errors.append("the database is unavailable")
                        claiming = False
                if not running:
                    if finished.is_set() and claiming:
                        continue  # a send ended while claiming: what it makes claimable (its next message) goes too
                    return  # every claimed row was sent, given up, or pushed past `now` by its backoff
                await finished.wait()  # one or more done (O(1) a message, where asyncio.wait is O(in progress))
        finally:
            left = list(running)
            for task in left:
                task.cancel()
            if left:
                await asyncio.gather(*left, return_exceptions=True)

    async def _claim(self, state: Flush, room: int) -> list[OutboxMessage]:
        claim = functools.partial(
            self._claims.claim, state.token, room, bulk=state.bulk, urgent=state.urgent, yields=state.short
        )
        try:  # busy a moment (another writer, no free connection): a flush without a budget (the background one, a
            # worker's) tries again shortly, the sends under way going on meanwhile; one after a request leaves it
            rows = await _in_thread(claim, () if state.short else BUSY_PAUSES)
        except BaseException:  # the claim may have been written although its answer was lost: release it
            state.claimed = True
            raise
        state.claimed = state.claimed or bool(rows)
        return rows

    # -- sending -----------------------------------------------------------------------------------

    async def _deliver(self, row: OutboxMessage, state: Flush) -> None:
        """One claimed row: sent (or found sent) and marked, or failed with backoff, or given up. Never raises:
        one message that cannot go never stops the others."""
        BULK.set(not state.people_facing(row))  # this task's own context: the platform lets replies go first
        SENDABLE.set(state.alive)  # checked again right before the request, after any wait for the pacing
        report = state.report
        if not state.alive():  # the lease may be passing to another process: leave the row to it
            return
        state.sending.add(row.id or 0)  # until it is settled: stopped meanwhile, the row is released as unsure
        try:
            where = await self._send(row)
        except Missing as missing:
            reason = str(missing)
            await self._settle(row, state, lambda: self._claims.give_up(row, state.token, reason))
            report.dead += 1
            return
        except Exception as exc:
            if not isinstance(exc, ChatError):  # not an answer we know: a bug, or a shape never seen
                log.exception("outbox #%s (%s) failed unexpectedly", row.id, row.kind)
                exc = ChatError(f"{type(exc).__name__}: {exc}", retryable=False)
            error = exc
            dead = await self._settle(row, state, lambda: self._claims.failed(row, state.token, error))
            report.failed += 1
            report.dead += int(bool(dead))
            report.errors.append(f"outbox #{row.id} ({row.kind}): {exc}")
            return
        marked: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        state.to_mark.append((row, where, marked))
        if state.people_facing(row) or len(state.to_mark) >= min(MARK_AT_ONCE, max(1, state.window // 2)):
            state.wake.set()  # a slot is held until its row is marked: half the window waiting is enough
        elif state.wake_later is None:
            state.wake_later = asyncio.get_running_loop().call_later(MARK_EVERY, state.wake.set)
        if not await marked:  # it went out: released as unsure, whoever sends it next finds it first
            report.errors.append(f"outbox #{row.id} ({row.kind}): delivered, not marked sent")
            return
        state.sending.discard(row.id or 0)
        report.sent += 1

    async def _settle(self, row: OutboxMessage, state: Flush, record: Callable[[], bool | None]) -> bool | None:
        """Record what became of a send; only once that is saved is the row no longer in progress (a send that
        may have arrived stays unsure if the record cannot be written)."""
        try:
            result = await asyncio.to_thread(record)
        except Exception as exc:
            log.warning("outbox #%s: what became of its send could not be saved (%s)", row.id, type(exc).__name__)
            return None
        state.sending.discard(row.id or 0)
        return result

    async def _send(self, row: OutboxMessage) -> Posted | None:
        WORKSPACE.set(await self._late.workspace(row.workspace_id))  # this task's own: sent as that workspace
        if row.unsure_since is not None and row.kind in FINDABLE:
            found = await self._find(row, row.unsure_since)
            if found is not None:
                log.info("outbox #%s (%s) had arrived already: not sent again", row.id, row.kind)
                return found
        if row.kind == "card":
            return await self._send_card(row)
        if row.kind == "chart":
            await self._late.chart(row)
            return None
        if row.kind == "file":
            await self._late.file(row)
            return None
        if row.kind == "home":  # rendered now, as it reads now
            if self._home is None:
                raise Missing("this deployment renders no home views")
            try:
                view = await self._home.of_workspace(row.workspace_id, row.target or "")
                await self._home.publish(row.workspace_id, row.target or "", await self._late.linked(view, None))
            except Unavailable as exc:  # the database is busy or down: the next flush renders it again
                raise ChatError(f"the home view could not be read: {exc}") from exc
            return None
        if row.kind == "private":
            data = row.payload or {}
            where = str(data.get("where") or "") or None
            private = await self._late.linked(Message.model_validate(data.get("message")), row.improvement_id)
            await self._chat.private(await self._person(row), private, where)
            return None
        message = await self._late.linked(Message.model_validate(row.payload), row.improvement_id)
        key = _key(row)
        if row.kind == "dm":
            return await self._chat.dm(await self._person(row), message, key=key)
        if row.kind == "channel":
            return await self._chat.post(row.target or "", message, key=key)
        card = await asyncio.to_thread(self._late.posted, row.improvement_id, "card")
        if card is None:
            raise Missing("the improvement's card was never posted")
        if row.kind == "thread":
            return await self._chat.reply(card.channel, card.ref, message, key=key)
        if row.kind == "update":
            target = await asyncio.to_thread(self._late.posted, row.improvement_id, row.key or "")
            if target is None:
                raise Missing(f"the message {row.key!r} to edit was never posted")
            await self._chat.update(target.channel, target.ref, message)
            return None
        raise ChatError(f"unknown outbox kind {row.kind!r}", retryable=False)

    async def _send_card(self, row: OutboxMessage) -> Posted | None:
        improvement, message, card = await asyncio.to_thread(self._card_of, row)
        if card is None:
            return await self._chat.post(improvement.channel_id, message, key=_key(row))
        await self._chat.update(card.channel, card.ref, message)
        return None

    async def _find(self, row: OutboxMessage, since: datetime) -> Posted | None:
        """Did this row's new message arrive after all? (An edit, an ephemeral or an upload is sent again.)"""
        if row.kind == "card":
            improvement, _message, card = await asyncio.to_thread(self._card_of, row)
            if card is not None:
                return None  # posted already: this row is an edit
            where = Destination("post", improvement.channel_id)
        elif row.kind == "thread":
            card = await asyncio.to_thread(self._late.posted, row.improvement_id, "card")
            if card is None:
                return None
            where = Destination("reply", card.channel, card.ref)
        elif row.kind == "dm":
            where = Destination("dm", await self._person(row))
        else:
            where = Destination("post", row.target or "")
        return await self._chat.find(where, _key(row), since)

    async def linked(self, message: Message) -> Message:
        """`message` with its thread links made links (a view rendered outside the outbox: a home view)."""
        return await self._late.linked(message, None)

    def _card_of(self, row: OutboxMessage) -> tuple[Improvement, Message, PostedMessage | None]:
        """The card as it should read now, and where it was posted (None: not yet)."""
        with Session(self._engine) as session:
            improvement = session.get(Improvement, row.improvement_id)
            workspace = session.get(Workspace, row.workspace_id)
            assert improvement is not None and workspace is not None
            settings = WorkspaceSettings.from_json(workspace.settings)
            posted = queries.posted(session, improvement.id or 0, "card")
            return improvement, self._card(session, improvement, settings), posted
