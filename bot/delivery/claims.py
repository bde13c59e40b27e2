"""The outbox rows' side of delivery (run in worker threads): claiming due rows under a lease, renewing and
releasing it, and recording what became of each send."""

from __future__ import annotations

import logging
import uuid
import zlib
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, Subquery, case, exists, func, or_, union, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot.core.clock import Clock, as_utc
from bot.core.ports import ChatError, Posted
from storage import queries
from storage.db import transaction
from storage.models import OutboxMessage, PostedMessage, Workspace

log = logging.getLogger("improvebot.delivery")

LEASE = timedelta(seconds=45)  # a dead holder's rows wait at most this long; a live holder renews it
HEARTBEAT = timedelta(seconds=5)  # how often
RETRYABLE_ATTEMPTS = 200  # about eight days at the one-hour cap: an outage or a missing invite gets fixed
FINAL_ATTEMPTS = 3  # errors retrying cannot fix (a malformed message) are given up sooner

# what people are waiting for in a thread goes before bulk DMs and channel posts (a 10,000 check-in backlog
# must not hold up the reply to a click)
BULK_KINDS = ("dm", "channel", "chart", "file", "home")  # a file (an export) can take seconds to write: a worker's job
_waiting = aliased(OutboxMessage)
# a bulk row ahead of a people-facing row of its improvement (the owner's DM at approval, before the next click's
# thread reply) holds that row up: it goes as people-facing. (A claimable row is the oldest pending one of its
# improvement, so any other pending row of it is later. The subquery is not correlated: evaluated once a claim,
# over the few people-facing rows, not once per candidate.)
URGENT = col(OutboxMessage.kind).not_in(BULK_KINDS) | col(OutboxMessage.improvement_id).in_(
    select(col(_waiting.improvement_id)).where(
        col(_waiting.status) == "pending",
        col(_waiting.kind).not_in(BULK_KINDS),
        col(_waiting.improvement_id).is_not(None),
    )
)
BULK_LAST = case((URGENT, 0), else_=1)
CLAIMING = 0x1A9_0C1A  # the PostgreSQL advisory lock claims take turns on
# a workspace's bulk stays with the instance (the holder of the flushes) that sent its last bulk message this long:
# its buckets know how much of the workspace's limit it spent, another's would send at once and bounce (long enough
# for one message at a pace as slow as one in 30 s); its next flush goes on with it (a flush ends whenever nothing
# more is due: between a tick's batches)
KEEPS_PACING = timedelta(seconds=30)


def _lease_free(now: datetime) -> ColumnElement[bool]:
    return or_(col(OutboxMessage.claimed_until).is_(None), col(OutboxMessage.claimed_until) < now)


def _take_turn(session: Session, platform: str, *, wait: bool = True) -> bool:
    """On PostgreSQL, claims take turns: one that ran beside another would not see the rows that one claims, and
    would take bulk rows of the same workspaces (two flushes pacing one workspace each spend its whole limit). A
    holder that froze mid-claim holds the turn up only for the lock timeout: then this claim goes on without it
    (SKIP LOCKED still keeps any row from being claimed twice). One turn per platform. `wait=False`: the turn only
    if it is free now (whether it was taken)."""
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: one writer at a time already
    key = (CLAIMING, zlib.crc32(platform.encode()) >> 1)
    if not wait:
        return bool(session.execute(select(func.pg_try_advisory_xact_lock(*key))).scalar())
    try:
        with session.begin_nested():
            session.execute(select(func.pg_advisory_xact_lock(*key)))
    except OperationalError:
        log.info("claiming without waiting for its turn: another claim held it past the lock timeout")
    return True


def _ranked(platform: str, token: str, holder: str, now: datetime, bulk: bool, yields: bool) -> Subquery:
    """The claimable rows (and the ones `token` holds, so that its turns go on where its last claim stopped):
    each with `last` (1: bulk) and `turn` (its place among its workspace's). No LIMIT here: on PostgreSQL the
    outer query's SKIP LOCKED then still finds enough rows. Every subquery is uncorrelated or indexed: one claim
    stays quick with tens of thousands of rows pending in one workspace."""
    earlier = aliased(OutboxMessage)
    held = aliased(OutboxMessage)
    turn = func.row_number().over(  # people-facing rows (first anyway) take no bulk row's turn
        partition_by=(col(OutboxMessage.workspace_id), BULK_LAST), order_by=col(OutboxMessage.id)
    )
    bulk_elsewhere = (col(held.claimed_by) != token) & col(held.kind).in_(BULK_KINDS)
    other_instance = ~col(held.claimed_by).startswith(f"{holder}/", autoescape=True)
    held_elsewhere = union(  # a workspace whose bulk another flush is sending, or another instance sent lately
        select(col(held.workspace_id)).where(
            col(held.status) == "pending",
            col(held.claimed_until) >= now,
            bulk_elsewhere,
            *(() if yields else (other_instance,)),
        ),
        select(col(held.workspace_id)).where(
            col(held.status) == "sent",
            col(held.claimed_by).is_not(None),
            col(held.sent_at) >= now - KEEPS_PACING,
            bulk_elsewhere,
            other_instance,  # its own next flush goes on with it
        ),
    )
    return (
        select(col(OutboxMessage.id).label("id"), BULK_LAST.label("last"), turn.label("turn"))
        .join(Workspace, col(Workspace.id) == col(OutboxMessage.workspace_id))
        .where(
            Workspace.platform == platform,
            col(OutboxMessage.status) == "pending",
            col(OutboxMessage.next_attempt_at) <= now,
            _lease_free(now) | (col(OutboxMessage.claimed_by) == token),
            URGENT if not bulk else URGENT | col(OutboxMessage.workspace_id).not_in(held_elsewhere),
            ~exists().where(
                col(earlier.status) == "pending",
                or_(
                    (col(earlier.improvement_id) == col(OutboxMessage.improvement_id))
                    & (col(earlier.id) < col(OutboxMessage.id)),
                    col(earlier.id) == col(OutboxMessage.after_id),
                ),
            ),
        )
    ).subquery()


def _let_go_of_old_sends(session: Session, now: datetime) -> None:
    """Rows sent over KEEPS_PACING ago, by anyone, stop holding their workspaces (kept marked, they would fill the
    index of recent sends: a crashed instance's or an `improvebot tick`'s too). Rows another transaction is on are
    left for the next time (SKIP LOCKED: several instances at it never wait for each other)."""
    aged = (
        select(col(OutboxMessage.id))
        .where(
            col(OutboxMessage.status) == "sent",
            col(OutboxMessage.claimed_by).is_not(None),
            col(OutboxMessage.sent_at) < now - KEEPS_PACING,
        )
        .limit(1000)  # a crashed instance's many: over a few renewals, never one long write
        .with_for_update(skip_locked=True)
    )
    session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(aged))
        .values(claimed_by=None)
        .execution_options(synchronize_session=False)
    )


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … capped at one hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


class Claims:
    """One platform's outbox rows, as delivery claims and settles them."""

    def __init__(self, engine: Engine, clock: Clock, platform: str, holder: str | None = None) -> None:
        self._engine = engine
        self._clock = clock
        self._platform = platform
        self.holder = holder or uuid.uuid4().hex[:12]  # this instance's (its buckets'): its flushes' tokens start so
        if not 0 < len(self.holder) <= 24:
            raise ValueError("a holder is 1 to 24 characters: a token is the holder, '/' and at least 11 more")

    def token(self) -> str:
        """A new flush's token (36 characters, as the column holds): its own rows, its holder's workspaces."""
        return f"{self.holder}/{uuid.uuid4().hex}"[:36]

    def claim(
        self, token: str, limit: int, *, bulk: bool = True, urgent: set[int] | None = None, yields: bool = False
    ) -> list[OutboxMessage]:
        """Claim due rows: people-facing first, then in turns across workspaces (each workspace's first row, then
        each one's second…, counting the rows this flush already holds, so that a workspace paced at its own
        limit never fills every slot while the others wait), oldest first within a turn. At most one row per
        improvement: a row waits while an older row of the same improvement is pending, so one improvement's
        messages always go out in order. A workspace's bulk rows go to one instance at a time, and stay with it
        KEEPS_PACING after its last send there (its buckets pace them at the workspace's whole limit; two instances
        would each spend it); `yields` (a short flush after a request): to one flush at a time (a click's flush
        takes no bulk rows the background flush is pacing; the background flush is never held off by a click's,
        it would end and leave the backlog to the next minute's tick). A row taken over from a holder whose lease
        ran out may have been sent: it becomes unsure. `bulk=False`: people-facing rows only (the bulk ones are a
        worker's). `urgent` gets the ids of the claimed rows that go as people-facing (bulk rows that hold one up
        included)."""
        now = self._clock.now()
        with transaction(self._engine) as session:
            # people-facing rows are claimable by any flush: nothing to take turns on; a click's flush takes the
            # turn only if it is free (64 of them queued for it held the background flush's claims up for seconds),
            # else people-facing rows only this time
            if bulk:
                bulk = _take_turn(session, self._platform, wait=not yields)
            ranked = _ranked(self._platform, token, self.holder, now, bulk, yields)
            candidates = (
                select(col(OutboxMessage.id), ranked.c.last)
                .join(ranked, ranked.c.id == col(OutboxMessage.id))
                .where(col(OutboxMessage.status) == "pending", _lease_free(now))
                .order_by(ranked.c.last, ranked.c.turn, ranked.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=OutboxMessage)
            )
            found: dict[int, int] = {row_id: last for row_id, last in session.execute(candidates)}
            if not found:
                return []
            claimed = session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id).in_(list(found)), col(OutboxMessage.status) == "pending", _lease_free(now))
                .values(
                    claimed_by=token,
                    claimed_until=now + LEASE,
                    claimed_at=now,
                    unsure_since=case(
                        (
                            col(OutboxMessage.claimed_by).is_not(None) & col(OutboxMessage.unsure_since).is_(None),
                            func.coalesce(col(OutboxMessage.claimed_at), col(OutboxMessage.created_at)),
                        ),
                        else_=col(OutboxMessage.unsure_since),
                    ),
                )
                .returning(col(OutboxMessage.id))
                .execution_options(synchronize_session=False)
            )
            mine = set(claimed.scalars().all())
            people = {row_id for row_id in mine if not found[row_id]}
            if urgent is not None:
                urgent.update(people)
            rows = session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(mine))).all()
            return sorted(rows, key=lambda row: (row.id not in people, row.id or 0))

    def renew(self, token: str) -> None:
        """Renew the lease on what this flush holds, and let go of the workspaces anyone sent to over KEEPS_PACING
        ago."""
        now = self._clock.now()
        mine = col(OutboxMessage.claimed_by) == token
        with transaction(self._engine) as session:
            session.execute(
                update(OutboxMessage)
                .where(mine, col(OutboxMessage.status) == "pending")
                .values(claimed_until=now + LEASE)
                .execution_options(synchronize_session=False)
            )
            _let_go_of_old_sends(session, now)

    def release(self, token: str, sending: frozenset[int], *, paced: bool = True) -> None:
        """Give back what this flush still holds; a row it stopped in the middle of sending becomes unsure. What
        it sent lately stays marked as its holder's (KEEPS_PACING): another instance would send there at once
        (`paced=False`, a flush that sends no bulk: nothing stays marked, a worker paces the workspace's bulk)."""
        mine = (col(OutboxMessage.claimed_by) == token) & (col(OutboxMessage.status) == "pending")
        with transaction(self._engine) as session:
            if sending:
                session.execute(
                    update(OutboxMessage)
                    .where(mine, col(OutboxMessage.id).in_(sending), col(OutboxMessage.unsure_since).is_(None))
                    .values(unsure_since=col(OutboxMessage.claimed_at))
                    .execution_options(synchronize_session=False)
                )
            session.execute(
                update(OutboxMessage)
                .where(mine)
                .values(claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
            if not paced:
                session.execute(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.claimed_by) == token, col(OutboxMessage.status) == "sent")
                    .values(claimed_by=None)
                    .execution_options(synchronize_session=False)
                )
            _let_go_of_old_sends(session, self._clock.now())

    def mark_sent(self, sent: list[tuple[OutboxMessage, Posted | None]]) -> None:
        """Sent rows, in one transaction (one write instead of one per message: SQLite has one writer), and
        where the messages that are edited or replied under later landed. A sent row keeps its holder (`claimed_by`)
        KEEPS_PACING: its workspace's bulk stays with that flush's instance a while."""
        now = self._clock.now()
        with transaction(self._engine) as session:
            session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id).in_([row.id for row, _ in sent]))
                .values(status="sent", sent_at=now, claimed_until=None, unsure_since=None)
                .execution_options(synchronize_session=False)
            )
            for row, where in sent:
                remember = "card" if row.kind == "card" else row.key
                if where is None or not remember or row.improvement_id is None:
                    continue
                if queries.posted(session, row.improvement_id, remember) is None:
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

    def give_up(self, row: OutboxMessage, token: str, reason: str) -> None:
        with transaction(self._engine) as session:
            session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row.id, col(OutboxMessage.claimed_by) == token)
                .values(status="dead", last_error=reason[:500], claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
        log.error("outbox #%s (%s) cannot be delivered: %s", row.id, row.kind, reason)

    def failed(self, row: OutboxMessage, token: str, error: ChatError) -> bool:
        """Count the failed attempt; schedule the retry, or give up. Returns True when given up. (Only while the
        row is still this flush's: a row whose lease passed on is the new holder's to record.)"""
        attempts = row.attempts + 1
        limit = (
            1 if error.gone else RETRYABLE_ATTEMPTS if error.retryable else FINAL_ATTEMPTS
        )  # gone: nobody to wait for
        if attempts >= limit:
            self.give_up(row, token, f"after {attempts} attempts: {error}")
            return True
        retry_at = self._clock.now() + backoff(attempts)
        unsure = row.unsure_since or (row.claimed_at if error.unknown else None)
        with transaction(self._engine) as session:
            session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row.id, col(OutboxMessage.claimed_by) == token)
                .values(attempts=attempts, last_error=str(error)[:500], next_attempt_at=retry_at,
                        claimed_by=None, claimed_until=None, unsure_since=unsure)
                .execution_options(synchronize_session=False)
            )  # fmt: skip
        log.warning("outbox #%s (%s) not delivered (attempt %s), retry at %s: %s",
                    row.id, row.kind, attempts, as_utc(retry_at).isoformat(), error)  # fmt: skip
        return False
