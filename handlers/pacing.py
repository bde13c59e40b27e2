"""Client-side rate limits: pace sends under a platform's limits instead of bouncing off them.

A Pacer holds named buckets (aiolimiter's leaky buckets: a rate with a burst), for example a workspace's, a
channel's or a Web API method's. A send waits for every bucket it names, then goes. A 429 holds only the
bucket it came from for its Retry-After: other channels and methods go on. Messages people are waiting for
(bot.core.ports.BULK unset) go before bulk ones: bulk sends queue for each shared bucket one at a time (one
workspace's backlog never holds up another's).
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

MAX_CREDIT = 100  # refunds kept at most per bucket
REFUND_SHARE = 0.5  # refunded sends go at most at this share of a bucket's rate on top of it
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
        self._credit: dict[str, int] = {}  # sends a shared bucket paid for that the platform refused
        self._spent: dict[str, AsyncLimiter] = {}  # how fast credit may be spent: a bound if the refunds are wrong

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
        if self._credit.get(key, 0) > 0 and await self._spend(key):
            return
        bucket = self._bucket(key)
        if bucket is not None:
            await bucket.acquire()

    async def _spend(self, key: str) -> bool:
        rate = self._rate_of(key)
        if rate is None:
            return False
        spender = self._spent.setdefault(key, Rate(rate.per_second * REFUND_SHARE, rate.burst * REFUND_SHARE).limiter())
        if not spender.has_capacity():
            return False
        await spender.acquire()  # there is room: it does not wait
        self._credit[key] -= 1
        return True

    def refund(self, *keys: str) -> None:
        """A send these buckets paid for was refused by another bucket's limit (a channel's): it took nothing
        from them, so a later send goes free. Right while the pacing stays under the shared limit; if it is
        wrong (the limit was the shared one), refunded sends add at most REFUND_SHARE of the rate."""
        for key in keys:
            self._credit[key] = min(MAX_CREDIT, self._credit.get(key, 0) + 1)

    async def send(
        self, what: str, keys: tuple[str, ...], call: Callable[[], Awaitable[T]], *, retries: int, refund: bool = False
    ) -> T:
        """`call()` once every bucket in `keys` allows it and the sender may still send (bot.core.ports.SENDABLE).
        A 429 (a ChatError with `retry_after`) holds the first, most specific bucket for its Retry-After (with
        `refund`, the shared buckets get that send back) and the call goes again, `retries` times at most, before
        the ChatError is raised."""
        for attempt in range(retries + 1):
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
                if refund:
                    self.refund(*keys[1:])
        raise AssertionError("unreachable")

    def hold(self, key: str, seconds: float) -> None:
        """The platform answered 429 for this bucket: nothing naming it goes for `seconds`."""
        until = time.monotonic() + max(0.0, seconds)
        self._held[key] = max(until, self._held.get(key, 0.0))

    def held(self, key: str) -> float:
        """Seconds until the bucket opens again (0 when it is open)."""
        return max(0.0, self._held.get(key, 0.0) - time.monotonic())
