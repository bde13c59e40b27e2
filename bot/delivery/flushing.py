"""One flush's state: its claim (token, lease renewals), the sends under way and the sent rows waiting to be
marked; and how long a flush waits for a busy database before it pauses."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from bot.core.ports import Posted
from bot.delivery.claims import BULK_KINDS, LEASE
from storage.models import OutboxMessage

# a send may start while the last renewal is younger than this: with the longest send (IMPROVE_SEND_TIMEOUT, at
# most 30 s) it still ends inside the lease
SAFE_TO_SEND = LEASE - timedelta(seconds=35)
CONCURRENCY = 128  # messages in progress at once per flush (most of them wait for the platform's pacing)
# a claim (of a flush without a budget) that finds the database busy (locked, out of connections) is tried again
# after each of these pauses before the flush stops claiming and ends; a release, after the first two (rows a flush
# could not release hold their workspace's bulk from every other flush until their lease runs out)
BUSY_PAUSES = (0.25, 0.5, 1.0, 2.0)


@dataclass
class FlushReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


def one_at_a_time(lock: threading.Lock, write: Callable[[], None]) -> None:
    with lock:  # held in the worker thread: a write whose waiter was stopped still holds it until it ends
        write()


@dataclass
class Flush:
    """One flush's claim on its rows: its token, its last successful lease renewal, and the rows whose send is
    under way (released as unsure if the flush is stopped in the middle)."""

    token: str
    report: FlushReport
    renewed: float = field(default_factory=time.monotonic)
    until: float = float("inf")  # claim nothing more after this (monotonic)
    window: int = CONCURRENCY  # messages in progress at once
    bulk: bool = True  # claim bulk rows too (False: people-facing ones only)
    claimed: bool = False  # anything at all (else there is nothing to release)
    urgent: set[int] = field(default_factory=set)  # claimed rows that go as people-facing
    sending: set[int] = field(default_factory=set)
    to_mark: list[tuple[OutboxMessage, Posted | None, asyncio.Future[bool]]] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # the marker: mark what is in `to_mark`
    wake_later: asyncio.TimerHandle | None = None  # … sender.MARK_EVERY after the first bulk row waiting
    writes: threading.Lock = field(default_factory=threading.Lock)  # its writes to its own rows: one at a time

    @property
    def short(self) -> bool:
        """A flush with a budget (the one after a request): it yields bulk to the others and pauses briefly."""
        return self.until != float("inf")

    def people_facing(self, row: OutboxMessage) -> bool:
        return row.kind not in BULK_KINDS or row.id in self.urgent

    def alive(self) -> bool:
        """Still safely the holder: a send started now ends (answer or timeout) before the lease could run out
        (others wait for all of it)."""
        return time.monotonic() - self.renewed < SAFE_TO_SEND.total_seconds()
