"""The database runner tells the truth in bounded time: a job still queued when its wait runs out never runs (the
caller was told "unavailable"), a job that started is waited for, and a caller that goes away drops its job."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import pytest

from storage.db import Runner, Unavailable


async def test_a_job_queued_past_its_wait_is_dropped_and_never_runs() -> None:
    runner = Runner(workers=1, wait=0.2)
    release, ran = threading.Event(), []
    blocking = asyncio.ensure_future(runner.run(lambda: release.wait(5)))
    await asyncio.sleep(0.05)

    started = time.monotonic()
    with pytest.raises(Unavailable):
        await runner.run(lambda: ran.append("late"))
    assert time.monotonic() - started < 0.5
    release.set()
    await blocking
    await asyncio.sleep(0.1)
    assert ran == []  # told unavailable, and indeed it never ran


async def test_a_job_that_started_is_waited_for_past_the_wait() -> None:
    runner = Runner(workers=1, wait=0.1)
    assert await runner.run(lambda: (time.sleep(0.4), "saved")[1]) == "saved"  # never "unavailable" then saved


async def test_a_caller_that_goes_away_drops_its_queued_job() -> None:
    runner = Runner(workers=1, wait=5)
    release, ran = threading.Event(), []
    blocking = asyncio.ensure_future(runner.run(lambda: release.wait(5)))
    await asyncio.sleep(0.05)
    waiting = asyncio.ensure_future(runner.run(lambda: ran.append("orphan")))
    await asyncio.sleep(0.05)

    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting  # the cancellation has reached the caller: its job is dropped
    release.set()
    await blocking
    await asyncio.sleep(0.1)
    assert ran == []
