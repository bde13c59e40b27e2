"""Client-side buckets (handlers/pacing.py): a send waits for every bucket it names and is held until its answer,
a 429 holds only its own bucket, people go before bulk, and a bounced send keeps its room and does not pay twice."""

from __future__ import annotations

import asyncio
import contextlib

from bot.core.ports import BULK, ChatError
from handlers.pacing import Pacer, Rate


async def _through(pacer: Pacer, keys: tuple[str, ...]) -> None:
    """One send that the platform answers at once."""

    async def answered() -> None:
        return None

    await pacer.send("post", keys, answered, retries=0)


async def _count_through(pacer: Pacer, keys: tuple[str, ...], sends: int, within: float) -> int:
    through = 0

    async def one() -> None:
        nonlocal through
        await _through(pacer, keys)
        through += 1

    tasks = [asyncio.ensure_future(one()) for _ in range(sends)]
    await asyncio.sleep(within)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return through


async def test_a_bucket_lets_its_burst_through_then_paces() -> None:
    pacer = Pacer(lambda _key: Rate(10, 5))
    assert await _count_through(pacer, ("workspace",), 20, 0.05) == 5  # the burst; the next one 100 ms later


async def test_a_hold_stops_only_its_own_bucket() -> None:
    pacer = Pacer(lambda _key: None)
    pacer.hold("channel:C1", 5)
    assert await _count_through(pacer, ("channel:C1",), 3, 0.05) == 0
    assert await _count_through(pacer, ("channel:C2",), 3, 0.05) == 3
    assert 4 < pacer.held("channel:C1") <= 5


async def test_a_reply_waits_behind_at_most_one_bulk_send() -> None:
    pacer = Pacer(lambda key: Rate(10, 1) if key == "workspace" else None)
    order: list[str] = []

    async def send(name: str, bulk: bool) -> None:
        BULK.set(bulk)
        await _through(pacer, (f"channel:{name}", "workspace"))
        order.append(name)

    bulk = [asyncio.ensure_future(send(f"bulk{n}", True)) for n in range(5)]
    await asyncio.sleep(0.01)
    reply = asyncio.ensure_future(send("reply", False))
    await asyncio.wait_for(reply, 1)
    for task in bulk:
        task.cancel()
    await asyncio.gather(*bulk, return_exceptions=True)
    assert order.index("reply") <= 2  # the bulk send at the bucket when it came, maybe one more: not all five


async def test_one_workspaces_bulk_backlog_never_holds_up_anothers() -> None:
    pacer = Pacer(lambda key: Rate(2, 1) if key.startswith("workspace") else None)  # each workspace: 2 a second
    done: dict[str, float] = {}
    started = asyncio.get_running_loop().time()

    async def send(name: str, workspace: str) -> None:
        BULK.set(True)
        await _through(pacer, (f"channel:{name}", f"workspace@{workspace}"))
        done[name] = asyncio.get_running_loop().time() - started

    backlog = [asyncio.ensure_future(send(f"a{n}", "A")) for n in range(6)]  # A's bulk: 3 s at its pace
    await asyncio.sleep(0.01)
    await asyncio.wait_for(send("b0", "B"), 1)  # B's first bulk send goes at once, not after A's six
    for task in backlog:
        task.cancel()
    await asyncio.gather(*backlog, return_exceptions=True)
    assert done["b0"] < 0.3 and len([name for name in done if name.startswith("a")]) <= 2


async def test_a_bounced_send_keeps_its_room_and_goes_again_without_paying_the_workspace_twice() -> None:
    """The platform counted nothing for it: paying again would slow the workspace by a send per 429 (30 % of posts
    bounced at random would cost 30 % of its pace). And while its channel waits, no other send takes its room: if
    the 429 was the workspace's after all, the next send would bounce too, and push the one after it."""
    pacer = Pacer(lambda key: Rate(1, 3) if key.startswith("channel") else Rate(2, 1))  # the workspace: 2 a second
    answers = [ChatError("chat.postMessage: ratelimited", retry_after=1.0)]
    went: dict[str, float] = {}
    started = asyncio.get_running_loop().time()

    async def send(name: str) -> None:
        async def post() -> str:
            if name == "first" and answers:
                raise answers.pop()
            went[name] = asyncio.get_running_loop().time() - started
            return "ok"

        await pacer.send("post", (f"channel:{name}", "workspace"), post, retries=1, refund=True)

    await asyncio.gather(send("first"), send("second"))

    assert 0.95 < went["first"] < 1.3  # when its channel's hold ends, not after another turn (1.5 s)
    assert 1.45 < went["second"] < 1.9  # its room was the first's: after it, at the workspace's pace


async def test_a_send_counts_from_its_answer_not_from_when_it_started() -> None:
    """Slack counts a post when it arrives: one slow on its way (a loaded process, a slow network) counted from
    its start would let the next one reach Slack before the workspace had room again."""
    pacer = Pacer(lambda key: None if key.startswith("channel") else Rate(2, 1))  # the workspace: 2 a second
    loop = asyncio.get_running_loop()
    started = loop.time()
    went: dict[str, float] = {}

    async def send(name: str, takes: float) -> None:
        async def post() -> str:
            went[name] = loop.time() - started
            await asyncio.sleep(takes)
            return "ok"

        await pacer.send("post", (f"channel:{name}", "workspace"), post, retries=0)

    await asyncio.gather(send("slow", 0.3), send("next", 0))

    assert went["slow"] < 0.1 and 0.78 < went["next"] < 1.2  # half a second after the answer, not after the start


async def test_slow_answers_do_not_cap_the_pace_at_the_burst() -> None:
    """A loaded process reads its answers late: had a bucket held each send's room until its answer, at most
    `burst` would be on their way, and the pace would fall to burst ÷ answer time (a 10,000-DM drain ran at 71 a
    second against 95 while the process answered requests)."""
    pacer = Pacer(lambda key: None if key.startswith("channel") else Rate(20, 2))  # the workspace: 20 a second
    loop = asyncio.get_running_loop()
    started = loop.time()
    went: list[float] = []

    async def send(n: int) -> None:
        async def post() -> str:
            went.append(loop.time() - started)
            await asyncio.sleep(0.5)  # each answer read half a second later
            return "ok"

        await pacer.send("post", (f"channel:C{n}", "workspace"), post, retries=0)

    await asyncio.gather(*(send(n) for n in range(10)))

    assert max(went) < 0.75  # at the workspace's pace: the last of ten 0.4 s in (held rooms: 2 a half second, 2 s)
    assert max(went) > 0.38  # and not faster: the eight after the burst at 20 a second


async def test_a_send_that_failed_or_was_stopped_still_counts_and_frees_nothing_twice() -> None:
    """An error or a timeout may have reached the platform: it counts. A send stopped while it waited took
    nothing: the next one goes at once."""
    pacer = Pacer(lambda key: Rate(2, 1))
    loop = asyncio.get_running_loop()

    async def fails() -> None:
        raise ChatError("chat.postMessage: internal_error", unknown=True)

    with contextlib.suppress(ChatError):
        await pacer.send("post", ("channel:C1", "workspace"), fails, retries=3)
    failed = loop.time()
    waiting = asyncio.ensure_future(_through(pacer, ("channel:C2", "workspace")))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the failed send counted: half a second
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    await asyncio.wait_for(_through(pacer, ("channel:C3", "workspace")), 3)
    assert 0.45 < loop.time() - failed < 0.9  # half a second after the failed one: the stopped one took nothing


async def test_bounced_bulk_sends_go_again_at_the_workspace_pace_and_a_reply_goes_among_them() -> None:
    """If the guess was wrong (the 429s were the workspace's, not the channels'), the sends that go again must not
    flood the workspace that just said to back off: each keeps its room, so they go one after another. A reply
    goes among them, not behind all eight."""
    pacer = Pacer(lambda key: None if key.startswith("channel") else Rate(20, 1))  # the workspace: 20 a second
    loop = asyncio.get_running_loop()
    started = loop.time()
    bounced: set[str] = set()
    went: dict[str, float] = {}

    async def send(channel: str, bulk: bool = True) -> None:
        async def post() -> str:
            if channel not in bounced:
                bounced.add(channel)  # each held until the same moment, 0.5 s in: they all come back at once
                raise ChatError("chat.postMessage: ratelimited", retry_after=started + 0.5 - loop.time())
            went[channel] = loop.time() - started
            return "ok"

        BULK.set(bulk)
        await pacer.send("post", (f"channel:{channel}", "workspace"), post, retries=1, refund=True)

    await asyncio.gather(*(send(f"C{n}") for n in range(8)), send("reply", bulk=False))

    assert max(went.values()) > 0.8  # the eight bulk retries at 20 a second from 0.5 s, not all at 0.5 s
    assert went["reply"] < 0.75  # at once when its hold ends, not ninth in line


async def test_bounced_sends_keep_their_rooms_in_a_larger_bucket_until_they_go_again() -> None:
    """Held rooms once capped sends on their way; now a bucket counts a send when it goes. Bounced posts must still
    keep their rooms (if the 429s were the workspace's, fresh posts would bounce too) and are counted when they go again
    (Slack counts that send): with a burst of 3, three bounced posts hold the workspace until they go again."""
    pacer = Pacer(lambda key: None if key.startswith("channel") else Rate(10, 3))  # the workspace: 10 a second
    loop = asyncio.get_running_loop()
    started = loop.time()
    bounced: set[str] = set()
    went: dict[str, float] = {}

    async def send(channel: str) -> None:
        async def post() -> str:
            if channel in ("C0", "C1", "C2") and channel not in bounced:
                bounced.add(channel)
                raise ChatError("chat.postMessage: ratelimited", retry_after=0.5)
            went[channel] = loop.time() - started
            return "ok"

        BULK.set(True)
        await pacer.send("post", (f"channel:{channel}", "workspace"), post, retries=1, refund=True)

    first = [asyncio.ensure_future(send(f"C{n}")) for n in range(3)]
    await asyncio.sleep(0.05)
    await asyncio.gather(*first, *(send(f"C{n}") for n in range(3, 6)))

    assert all(went[f"C{n}"] > 0.45 for n in range(3, 6))  # none while the three bounced kept their rooms
    assert max(went.values()) > 0.6  # and the three that went again counted: the rest at 10 a second after them


async def test_a_bounced_send_is_counted_once_in_a_larger_bucket() -> None:
    """Slack counted nothing for the bounce: counted again on top of its first count, each bounced post would cost
    the workspace two (30 % of posts bounced took the 10,000-DM tick from 115 s to 158 s)."""
    pacer = Pacer(lambda key: None if key.startswith("channel") else Rate(2, 2))  # the workspace: 2 a second
    loop = asyncio.get_running_loop()
    started = loop.time()
    bounced: list[str] = []
    went: dict[str, float] = {}

    async def send(name: str) -> None:
        async def post() -> str:
            if name == "S0" and not bounced:
                bounced.append(name)
                raise ChatError("chat.postMessage: ratelimited", retry_after=0.1)
            went[name] = loop.time() - started
            return "ok"

        await pacer.send("post", (f"channel:{name}", "workspace"), post, retries=1, refund=True)

    first = [asyncio.ensure_future(send(name)) for name in ("S0", "S1")]
    await asyncio.sleep(0.01)
    await asyncio.gather(*first, send("S2"))

    assert went["S1"] < 0.05 and 0.09 < went["S0"] < 0.3
    assert 0.4 < went["S2"] < 0.8  # two sends counted by then, not three (1.0 s)


async def test_a_bounced_send_waits_for_no_bucket_while_it_keeps_its_room() -> None:
    """A bulk post bounced on its channel keeps its room; a reply to the same channel then waits for that channel.
    Had the bounced post given the channel's room back and waited for it again, the reply would have taken it and
    waited for the workspace's room, which the bounced post kept: each waiting for the other, for good."""
    pacer = Pacer(lambda key: Rate(10, 1))  # the channel and the workspace: one at a time
    loop = asyncio.get_running_loop()
    started = loop.time()
    bounced: list[str] = []
    went: dict[str, float] = {}

    async def send(name: str, bulk: bool) -> None:
        async def post() -> str:
            if name == "bulk" and not bounced:
                bounced.append(name)
                await asyncio.sleep(0.05)  # the reply is waiting for the channel meanwhile
                raise ChatError("chat.postMessage: ratelimited", retry_after=0.2)
            went[name] = loop.time() - started
            return "ok"

        BULK.set(bulk)
        await pacer.send("post", ("channel:D1", "workspace"), post, retries=2, refund=True)

    first = asyncio.ensure_future(send("bulk", True))
    await asyncio.sleep(0.01)
    await asyncio.wait_for(asyncio.gather(first, send("reply", False)), 3)

    assert 0.2 < went["bulk"] < went["reply"] < 1.5


async def test_a_bucket_in_use_is_never_dropped_to_make_room(monkeypatch) -> None:
    """Past MAX_BUCKETS the idle, drained buckets go (a new one is the same); one with a send on its way stays: a
    new one for its key would let the next send go beside it."""
    from handlers import pacing

    monkeypatch.setattr(pacing, "MAX_BUCKETS", 2)
    pacer = Pacer(lambda key: Rate(1, 1) if key == "workspace" else Rate(50, 1))  # channels drain in 20 ms
    answered = asyncio.Event()

    async def slow() -> None:
        await answered.wait()

    async def quick() -> None:
        return None

    first = asyncio.ensure_future(pacer.send("post", ("workspace",), slow, retries=0))
    await asyncio.sleep(0.01)
    for n in range(5):  # new buckets, past the limit
        await pacer.send("post", (f"channel:C{n}",), quick, retries=0)
    second = asyncio.ensure_future(pacer.send("post", ("workspace",), quick, retries=0))
    await asyncio.sleep(0.1)
    assert not second.done()  # the first is still on its way in the same bucket
    for n in range(5, 25):  # past the limit again (it doubles with the buckets in use): the drained channels go
        await pacer.send("post", (f"channel:C{n}",), quick, retries=0)
    assert "workspace" in pacer._buckets and "channel:C0" not in pacer._buckets
    answered.set()
    await asyncio.wait_for(asyncio.gather(first, second), 3)
