"""Client-side rate limits: pace sends under a platform's limits instead of bouncing off them.

A Pacer holds named buckets (aiolimiter's leaky buckets: a rate with a burst), for example a workspace's, a
channel's or a Web API method's. A send waits for every bucket it names, then goes. A 429 holds only the
bucket it came from for its Retry-After: other channels and methods go on. With `refund` (chat.postMessage: the
429 is taken as the channel's) the send goes again once its bucket opens, without paying the shared buckets a
second time (the platform counted nothing for it), bulk ones at most at their pace again (if the guess was wrong).
Messages people are waiting for (bot.core.ports.BULK unset) go before bulk ones: bulk sends queue for each shared
bucket one at a time (one workspace's backlog never holds up another's).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiolimiter import AsyncLimiter
from cachetools import LRUCache

from bot.core.ports import BULK, SENDABLE, ChatError

log = logging.getLogger("improvebot.pacing")
T = TypeVar("T")

RETRY_SHARE = 1.0  # bulk sends retried without paying again go at most at this share of a shared bucket's pace
MAX_BUCKETS = 10_000  # per-channel buckets kept at most: the least recently used go (they are full again by then)


@dataclass(frozen=True)
class Rate:
    """`per_second` on average, with bursts of up to `burst` at once."""

    per_second: float
    burst: float = 1.0

    def limiter(self) -> AsyncLimiter:
        burst = max(1.0, self.burst)
        return AsyncLimiter(burst, burst / self.per_second)


class Pacer:
    """`rate_of(key)` says the rate of each bucket a send may name (None: that bucket does not limit)."""

    def __init__(self, rate_of: Callable[[str], Rate | None]) -> None:
        self._rate_of = rate_of
        self._buckets: LRUCache[str, AsyncLimiter | None] = LRUCache(maxsize=MAX_BUCKETS)
        self._held: LRUCache[str, float] = LRUCache(maxsize=MAX_BUCKETS)  # key -> monotonic time it opens
        self._bulk: dict[str, asyncio.Lock] = {}  # per shared bucket (a workspace's): bulk sends queue there
        self._retries: dict[str, AsyncLimiter | None] = {}  # how fast retries that do not pay again may go

    def _bucket(self, key: str) -> AsyncLimiter | None:
        if key not in self._buckets:
            rate = self._rate_of(key)
            self._buckets[key] = rate.limiter() if rate else None
        return self._buckets[key]

    async def _open(self, key: str) -> None:
        # a loop, not an Event: another 429 can move the time it opens while this waits
        while (wait := self._held.get(key, 0.0) - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)

    async def wait(self, *keys: str) -> None:
        """Until a send naming `keys` may go: the most specific bucket first (the channel, then the workspace),
        so a send waiting for its channel takes nothing from the workspace meanwhile."""
        for index, key in enumerate(keys):
            shared = index > 0
            if shared and BULK.get():  # one bulk send queues at a time for this bucket: a reply never waits
                async with self._bulk.setdefault(key, asyncio.Lock()):  # behind many; other buckets' go on
                    await self._take(key)
            else:
                await self._take(key)

    async def _take(self, key: str) -> None:
        await self._open(key)
        bucket = self._bucket(key)
        if bucket is not None:
            await bucket.acquire()

    async def send(
        self, what: str, keys: tuple[str, ...], call: Callable[[], Awaitable[T]], *, retries: int, refund: bool = False
    ) -> T:
        """`call()` once every bucket in `keys` allows it and the sender may still send (bot.core.ports.SENDABLE).
        A 429 (a ChatError with `retry_after`) holds the first, most specific bucket for its Retry-After and the
        call goes again, `retries` times at most, before the ChatError is raised. With `refund` (the 429 is taken as
        the first bucket's), the shared buckets' payment stands for the calls after it: they wait for the first
        bucket and for any hold on the shared ones, not for their pace again (bulk sends: bounded at RETRY_SHARE
        of it). (A pool of credit any later send could spend put this process's next send where the platform had no
        room yet: a 429 per message.)"""
        paid = False
        for attempt in range(retries + 1):
            if paid:
                await self.wait(keys[0])
                for key in keys[1:]:
                    await self._retry(key)
            else:
                await self.wait(*keys)
            if not SENDABLE.get()():  # the wait outlasted the sender's claim: another process may send it now
                raise ChatError(f"{what}: not sent, the claim on it may have passed on")
            try:
                return await call()
            except ChatError as exc:
                if exc.retry_after is None or attempt == retries:
                    raise
                log.info("%s: rate limited, %s waits %.0f s", what, keys[0].partition(":")[0], exc.retry_after)
                self.hold(keys[0], exc.retry_after)
                paid = refund  # the platform counted nothing for it
        raise AssertionError("unreachable")

    async def _retry(self, key: str) -> None:
        """A shared bucket's part in a send it paid for already: its hold, and for bulk sends the bound on such
        sends (if the 429s were its own, not the channels', bounced sends coming back at once must not flood it; a
        reply goes at once, never behind them)."""
        await self._open(key)
        if not BULK.get():
            return
        if key not in self._retries:
            rate = self._rate_of(key)
            self._retries[key] = (
                Rate(rate.per_second * RETRY_SHARE, max(1.0, rate.burst * RETRY_SHARE)).limiter() if rate else None
            )
        limiter = self._retries[key]
        if limiter is not None:
            await limiter.acquire()

    def hold(self, key: str, seconds: float) -> None:
        """The platform answered 429 for this bucket: nothing naming it goes for `seconds`."""
        until = time.monotonic() + max(0.0, seconds)
        self._held[key] = max(until, self._held.get(key, 0.0))

    def held(self, key: str) -> float:
        """Seconds until the bucket opens again (0 when it is open)."""
        return max(0.0, self._held.get(key, 0.0) - time.monotonic())
