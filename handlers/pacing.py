"""Client-side rate limits: pace sends under a platform's limits instead of bouncing off them.

A Pacer holds named buckets (leaky buckets: a rate with a burst), for example a workspace's, a channel's or a Web
API method's. A send takes room in every bucket it names, then goes. A bucket counts a send when it goes, and
while it is on its way and at its answer the bucket holds at least one send: the platform counts a send when it
arrives, and in a bucket of burst 1 the next one goes an interval after the answer (under load, counted only
from their start, posts reached Slack before it had room again, a 429 each). In larger buckets a send counts from
when it goes, and the headroom under the platform's limit absorbs the spread of arrival times. Many sends can be
on their way at once (held until answered, a bucket capped them at its burst: a busy process reads its answers
late, and paced below the limit). A send the platform refused (429) is not counted: what is left of its count is
freed. A 429 holds only the bucket it came from for its Retry-After: other channels and methods go on. With
`refund` (chat.postMessage: the 429 is taken as the channel's) the send keeps a room in every bucket and goes
again once the hold ends, counted then (once: the platform counted nothing for the bounce): it does not wait
another turn, and if the 429 was the workspace's after all, the bounced sends' rooms stay taken meanwhile (as
many bounced sends as the burst hold up the workspace's other sends, replies too, for their Retry-After).
Messages people are waiting for (bot.core.ports.BULK unset) go before bulk ones: bulk sends queue for each shared
bucket one at a time (one workspace's backlog never holds up another's).

(aiolimiter, used before, counts a send when it starts, and nothing in it can count it later; no bucket library
we know of can.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from cachetools import LRUCache

from bot.core.ports import BULK, SENDABLE, ChatError

log = logging.getLogger("improvebot.pacing")
T = TypeVar("T")

MAX_BUCKETS = 10_000  # buckets kept before the idle ones go (a drained bucket nobody uses is a new one again)


@dataclass(frozen=True)
class Rate:
    """`per_second` on average, with bursts of up to `burst` at once."""

    per_second: float
    burst: float = 1.0


class Bucket:
    """A leaky bucket of `rate`: `take` makes room for one send before it goes and counts it; then it `landed`
    (its answer: the bucket holds at least one send from now) or was `refused` (the platform counted nothing: what
    is left of its count is free again). A bounced send `keep`s a room (instead of its count) until it goes
    `again` (counted then). Sends people wait for take room first: a bulk send waits while one of them does."""

    def __init__(self, rate: Rate) -> None:
        self._per_second = rate.per_second
        self._burst = max(1.0, rate.burst)
        self._level = 0.0  # sends counted, draining at the rate
        self._at = time.monotonic()
        self._going = 0  # sends on their way
        self._kept = 0  # … of which bounced, keeping their room until they go again
        self._first = 0  # sends people wait for, waiting for room
        self._waiting = 0  # sends waiting for room
        self._changed = asyncio.Event()  # set (and replaced) when a send is answered or one of those takes room

    def _drained(self) -> float:
        now = time.monotonic()
        self._level = max(0.0, self._level - (now - self._at) * self._per_second)
        self._at = now
        return self._level

    def idle(self) -> bool:
        """Nothing on its way, nobody waiting, all drained: the same as a new bucket."""
        return not self._going and not self._waiting and not self._drained()

    def _load(self, level: float) -> float:
        """How full the bucket is for the next send: a send on its way may arrive at any moment, so it fills at
        least one room until answered (a bucket of burst 1 lets the next one go only after the answer), and each
        bounced send keeps a room until it goes again."""
        return max(level + self._kept, 1.0 if self._going else 0.0)

    async def take(self, *, bulk: bool = False) -> float:
        """Room for one send, counted now; returns when that count drains (for `refused`)."""
        self._first += not bulk
        self._waiting += 1
        try:
            while (over := self._load(level := self._drained()) + 1 - self._burst) > 0 or (bulk and self._first):
                changed = self._changed
                # until enough has drained, or something changed (held by a send on its way: only that)
                draining = level + 1 - self._burst
                wait = draining / self._per_second if over > 0 and draining > 0 else None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), wait)
        finally:
            self._waiting -= 1
            if not bulk:
                self._first -= 1
                self._change()  # a bulk send held back for it looks again
        self._going += 1
        self._level += 1
        return self._drains_at()

    def landed(self) -> None:
        """Answered: it reached the platform by now, so the bucket holds at least one send from now."""
        self._level = max(self._drained(), 1.0)
        self._going -= 1
        self._change()

    def keep(self, drains_at: float) -> None:
        """Bounced (the platform counted nothing): what is left of its count becomes a room that stays taken until
        it goes again (`again`) or gives up (`refused`)."""
        self._level = max(0.0, self._drained() - self._left(drains_at))
        self._kept += 1

    def again(self) -> float:
        """A bounced send goes again: its room becomes its count, from now (it is counted once: Slack counted
        nothing the first time)."""
        self._kept -= 1
        self._level = self._drained() + 1
        self._change()  # a room became a count, which drains: a waiter held by the room may go on a timer now
        return self._drains_at()

    def _drains_at(self) -> float:
        """When the send counted last drains (monotonic)."""
        return self._at + self._level / self._per_second

    def _left(self, drains_at: float) -> float:
        return min(1.0, max(0.0, (drains_at - time.monotonic()) * self._per_second))

    def refused(self, drains_at: float, *, kept: bool = False) -> None:
        """The platform counted nothing (or it never went): what is left of its count is free again (`kept`: a
        bounced send that gives up)."""
        if kept:  # its count was freed when it bounced
            self._kept -= 1
        else:
            self._level = max(0.0, self._drained() - self._left(drains_at))
        self._going -= 1
        self._change()

    def _change(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


Taken = tuple[Bucket, float] | None  # a bucket and when the send's count there drains (None: the key does not limit)
Room = list[Taken]  # what a send took, one per key


def _settle(room: Sequence[Taken], *, landed: bool, kept: bool = False) -> None:
    for taken in room:
        if taken is not None:
            bucket, drains_at = taken
            bucket.landed() if landed else bucket.refused(drains_at, kept=kept)


class Pacer:
    """`rate_of(key)` says the rate of each bucket a send may name (None: that bucket does not limit)."""

    def __init__(self, rate_of: Callable[[str], Rate | None]) -> None:
        self._rate_of = rate_of
        self._buckets: dict[str, Bucket | None] = {}
        self._prune_at = MAX_BUCKETS
        self._held: LRUCache[str, float] = LRUCache(maxsize=MAX_BUCKETS)  # key -> monotonic time it opens
        self._bulk: dict[str, asyncio.Lock] = {}  # per shared bucket (a workspace's): bulk sends queue there

    def _bucket(self, key: str) -> Bucket | None:
        if key not in self._buckets:
            if len(self._buckets) >= self._prune_at:  # never one in use: a second one for its key would pace apart
                self._buckets = {k: b for k, b in self._buckets.items() if b is not None and not b.idle()}
                self._prune_at = max(MAX_BUCKETS, 2 * len(self._buckets))
            rate = self._rate_of(key)
            self._buckets[key] = Bucket(rate) if rate else None
        return self._buckets[key]

    async def _open(self, key: str) -> None:
        # a loop, not an Event: another 429 can move the time it opens while this waits
        while (wait := self._held.get(key, 0.0) - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)

    async def _room(self, keys: Sequence[str]) -> Room:
        """Room for one send in every bucket of `keys`: the most specific first (the channel, then the
        workspace), so a send waiting for its channel takes nothing from the workspace meanwhile."""
        room: Room = []
        try:
            for index, key in enumerate(keys):
                if index > 0 and BULK.get():  # one bulk send queues at a time for this bucket: a reply never waits
                    async with self._bulk.setdefault(key, asyncio.Lock()):  # behind many; other buckets' go on
                        room.append(await self._take(key))
                else:
                    room.append(await self._take(key))
        except BaseException:  # stopped while waiting: what it took is free again
            _settle(room, landed=False)
            raise
        return room

    async def _take(self, key: str) -> Taken:
        await self._open(key)
        bucket = self._bucket(key)
        return None if bucket is None else (bucket, await bucket.take(bulk=BULK.get()))

    async def send(
        self, what: str, keys: tuple[str, ...], call: Callable[[], Awaitable[T]], *, retries: int, refund: bool = False
    ) -> T:
        """`call()` once every bucket in `keys` has room and the sender may still send (bot.core.ports.SENDABLE),
        counted in each when it goes and held until its answer. A 429 (a ChatError with `retry_after`) holds the
        first, most specific bucket for its Retry-After and the call goes again, `retries` times at most, before
        the ChatError is raised. With `refund` (the 429 is taken as the first bucket's), the send keeps a room in
        every bucket meanwhile: it goes again when the hold ends, without waiting for room again, and is counted
        then. Any other outcome counts as a send: it may have reached the platform."""
        kept: Room | None = None  # the room a bounced send keeps (it waits for no bucket while it holds another)
        try:
            for attempt in range(retries + 1):
                if kept is None:
                    room = await self._room(keys)
                else:
                    for key in keys:
                        await self._open(key)
                    room = [None if taken is None else (taken[0], taken[0].again()) for taken in kept]  # counted now
                kept = None
                if not SENDABLE.get()():  # the wait outlasted the sender's claim: another process may send it now
                    _settle(room, landed=False)
                    raise ChatError(f"{what}: not sent, the claim on it may have passed on")
                try:
                    answer = await call()
                except ChatError as exc:
                    if exc.retry_after is None:
                        _settle(room, landed=True)
                        raise
                    if refund and attempt < retries:
                        kept = room
                        for bucket, drains_at in filter(None, kept):
                            bucket.keep(drains_at)
                    else:
                        _settle(room, landed=False)  # the platform counted nothing for it
                    if attempt == retries:
                        raise
                    log.info("%s: rate limited, %s waits %.0f s", what, keys[0].partition(":")[0], exc.retry_after)
                    self.hold(keys[0], exc.retry_after)
                    continue
                except BaseException:
                    _settle(room, landed=True)
                    raise
                _settle(room, landed=True)
                return answer
        except BaseException:
            if kept is not None:  # stopped while it waited for its hold: not sent
                _settle(kept, landed=False, kept=True)
            raise
        raise AssertionError("unreachable")

    def hold(self, key: str, seconds: float) -> None:
        """The platform answered 429 for this bucket: nothing naming it goes for `seconds`."""
        until = time.monotonic() + max(0.0, seconds)
        self._held[key] = max(until, self._held.get(key, 0.0))

    def held(self, key: str) -> float:
        """Seconds until the bucket opens again (0 when it is open)."""
        return max(0.0, self._held.get(key, 0.0) - time.monotonic())
