"""Delivery under faults: a Slack that takes a post and answers too late or not at all, a process that dies
between sending and marking, 429s on one channel, many messages at once. 0 duplicates and 0 losses in each."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from sqlmodel import Session, select

from bot.assembly import registry
from bot.core.messages import Message
from bot.core.ports import ChatError
from bot.delivery.claims import LEASE
from bot.delivery.outbox import Outbox
from bot.delivery.sender import Delivery
from bot.improvements import views
from handlers.pacing import Rate
from handlers.slack.port import SlackChat, make_pacer, make_sender
from handlers.teams.port import _guard
from storage import queries
from storage.db import Unavailable, transaction
from storage.models import OutboxMessage
from tests.conftest import INTAKE
from tests.delivery.test_delivery import delivery, report, statuses, workspace
from tests.support.slack_api import BOT_TOKEN, RateLimit
from tests.support.world import settle


def dms(db, clock, count: int) -> None:
    ws = workspace(db, clock)
    with transaction(db) as session:
        outbox = Outbox(session, ws.id, clock.now())
        for n in range(count):
            outbox.dm(f"U{n:05d}", Message(summary=f"check-in {n}", blocks=[]))


async def slow_flush_under_way(db, clock, slack_api) -> asyncio.Future:
    """A flush whose post Slack has taken and is slow to answer: returned while the send is under way."""
    slack_api.slow("chat.postMessage", 1)
    flush = asyncio.ensure_future(delivery(db, clock, slack_api, timeout=5).flush())
    for _ in range(100):
        if slack_api.posted():
            break
        await asyncio.sleep(0.02)
    return flush


def after_lease(clock) -> None:
    clock.advance(seconds=LEASE.total_seconds() + 1)


async def test_dms_slack_took_but_answered_too_late_are_not_sent_again(db, clock, slack_api) -> None:
    dms(db, clock, 5)
    slack_api.slow("chat.postMessage", 2, times=5)  # Slack posts each DM, and answers after the client gave up

    first = await delivery(db, clock, slack_api, timeout=1).flush()
    assert (first.sent, first.failed) == (0, 5)
    assert len(slack_api.posted()) == 5  # they did arrive
    clock.advance(minutes=1)
    second = await delivery(db, clock, slack_api, timeout=1).flush()

    assert second.sent == 5
    owners = Counter(m["text"] for m in slack_api.posted())
    assert len(owners) == 5 and set(owners.values()) == {1}  # every owner exactly one DM
    assert len(slack_api.of("chat.postMessage")) == 5  # nothing was posted again
    assert len(slack_api.of("conversations.open")) == 5  # it looked in each DM's history first
    assert all(status == "sent" for _, status in statuses(db))


async def test_a_card_whose_connection_dropped_after_slack_took_it_keeps_its_thread(db, clock, slack_api) -> None:
    report(db, clock)
    slack_api.drop("chat.postMessage")  # the card is posted, and the connection is cut before the answer

    first = await delivery(db, clock, slack_api).flush()
    assert (first.sent, first.failed) == (0, 1)
    clock.advance(minutes=1)
    await delivery(db, clock, slack_api).flush()

    [card] = [m for m in slack_api.posted(INTAKE) if "thread_ts" not in m]
    [why] = [m for m in slack_api.posted(INTAKE) if "thread_ts" in m]
    assert why["thread_ts"] == card["ts"]  # the why went under the card it found, not under a second card
    assert all(status == "sent" for _, status in statuses(db))


async def test_a_refused_send_is_sent_again_without_looking(db, clock, slack_api) -> None:
    dms(db, clock, 1)
    slack_api.fail("chat.postMessage", error="not_in_channel")  # Slack answered: not posted
    await delivery(db, clock, slack_api).flush()
    with Session(db) as session:
        assert session.exec(select(OutboxMessage)).one().unsure_since is None

    clock.advance(minutes=1)
    await delivery(db, clock, slack_api).flush()
    assert len(slack_api.posted()) == 1
    assert not slack_api.of("conversations.history")


async def test_after_a_5xx_the_post_is_looked_for_and_sent_when_it_is_not_there(db, clock, slack_api) -> None:
    dms(db, clock, 1)
    slack_api.fail("chat.postMessage", status=503)  # Slack: part of the operation may have succeeded
    await delivery(db, clock, slack_api).flush()
    clock.advance(minutes=1)
    await delivery(db, clock, slack_api).flush()

    assert len(slack_api.posted()) == 1
    assert len(slack_api.of("conversations.history")) == 1
    assert all(status == "sent" for _, status in statuses(db))


async def test_where_the_history_cannot_be_read_the_message_is_sent_not_given_up(db, clock, slack_api) -> None:
    dms(db, clock, 1)
    slack_api.slow("chat.postMessage", 2)
    await delivery(db, clock, slack_api, timeout=1).flush()  # unsure
    slack_api.fail("conversations.history", error="missing_scope")  # installed before im:history was asked
    clock.advance(minutes=1)
    await delivery(db, clock, slack_api, timeout=1).flush()

    assert all(status == "sent" for _, status in statuses(db))  # sent again (it may show twice), never lost
    assert len(slack_api.posted()) == 2


async def test_a_process_killed_between_sending_and_marking_never_duplicates(db, clock, slack_api) -> None:
    report(db, clock)
    dms(db, clock, 3)
    crashed = delivery(db, clock, slack_api)
    rows = crashed._claims.claim("killed-process", 10)
    for row in rows[:2]:  # it sent two of its four rows, then died before marking them
        await crashed._send(row)
    assert len(slack_api.posted()) == 2

    assert (await delivery(db, clock, slack_api).flush()).sent == 0  # not while its lease could be alive
    after_lease(clock)
    taken = await delivery(db, clock, slack_api).flush()

    assert taken.sent == 5  # the four it held (two found, two sent) and the card's why
    assert len([m for m in slack_api.posted(INTAKE) if "thread_ts" not in m]) == 1
    assert Counter(m["text"] for m in slack_api.posted() if m["text"].startswith("check-in")) == {
        "check-in 0": 1, "check-in 1": 1, "check-in 2": 1,
    }  # fmt: skip
    assert all(status == "sent" for _, status in statuses(db))


async def test_marking_that_fails_after_the_send_does_not_resend(db, clock, slack_api, monkeypatch) -> None:
    dms(db, clock, 1)
    sender = delivery(db, clock, slack_api)
    real = sender._claims.mark_sent

    def database_gone(*_args):
        raise RuntimeError("the process died here")

    monkeypatch.setattr(sender._claims, "mark_sent", database_gone)
    await sender.flush()
    monkeypatch.setattr(sender._claims, "mark_sent", real)
    clock.advance(minutes=1)
    await delivery(db, clock, slack_api).flush()

    assert len(slack_api.posted()) == 1
    assert all(status == "sent" for _, status in statuses(db))


async def test_a_flush_stopped_mid_send_leaves_the_row_unsure_not_lost(db, clock, slack_api) -> None:
    dms(db, clock, 1)
    flush = await slow_flush_under_way(db, clock, slack_api)
    flush.cancel()  # the server shuts down while the post is under way
    with pytest.raises(asyncio.CancelledError):
        await flush
    with Session(db) as session:
        row = session.exec(select(OutboxMessage)).one()
        assert row.claimed_by is None and row.unsure_since is not None

    await delivery(db, clock, slack_api).flush()
    assert len(slack_api.posted()) == 1
    assert all(status == "sent" for _, status in statuses(db))


async def test_a_lease_renewed_by_a_live_holder_is_never_taken_over(db, clock, slack_api) -> None:
    dms(db, clock, 1)
    holder = delivery(db, clock, slack_api)
    holder._claims.claim("alive", 10)
    for _ in range(3):  # well past one lease in all, renewed within each
        clock.advance(seconds=LEASE.total_seconds() * 2 / 3)
        holder._claims.renew("alive")
        assert (await delivery(db, clock, slack_api).flush()).sent == 0
    after_lease(clock)  # it stopped renewing: it died
    assert (await delivery(db, clock, slack_api).flush()).sent == 1


async def test_a_429_holds_only_its_channel(db, clock, slack_api) -> None:
    dms(db, clock, 12)
    slack_api.fail("chat.postMessage", times=2, status=429, retry_after=1, channel="U00000")
    chat = SlackChat(make_sender(BOT_TOKEN, slack_api.url, 5), make_pacer(Rate(1000, 1000), Rate(100, 100)))
    views_of = registry()
    flushed = await Delivery(db, clock, chat, "slack", card=views_of.card, chart=views_of.chart).flush()

    assert (flushed.sent, flushed.failed) == (12, 0)  # waited out, within the send: no failed attempt
    order = [c["channel"] for c in slack_api.of("chat.postMessage")]
    assert order[-1] == "U00000" and len(order) == 12  # the others went while that channel waited


async def test_posts_are_paced_under_the_workspace_limit(db, clock, slack_api) -> None:
    dms(db, clock, 30)
    slack_api.rate_limit = RateLimit(rate=20, burst=10, channel_rate=1, channel_burst=3)
    # under the stand-in's limits with room to spare: a pause of the test process (a garbage collection in a long
    # suite) lets sends bunch up at the stand-in, and a pace just under its limit would then bounce off it
    pacer = make_pacer(Rate(12, 4), Rate(1, 3))
    chat = SlackChat(make_sender(BOT_TOKEN, slack_api.url, 5), pacer)
    views_of = registry()
    flushed = await Delivery(db, clock, chat, "slack", card=views_of.card, chart=views_of.chart).flush()

    assert flushed.sent == 30
    assert slack_api.rate_limited == []  # paced, not bounced


async def test_one_threads_replies_keep_their_order_when_many_go_at_once(db, clock, slack_api) -> None:
    ids = [report(db, clock, f"problem {n}") for n in range(8)]
    ws = workspace(db, clock)
    with transaction(db) as session:
        outbox = Outbox(session, ws.id, clock.now())
        for improvement_id in ids:
            improvement = queries.improvement_in(session, ws.id, improvement_id)
            assert improvement is not None
            for step in range(2, 6):
                outbox.reply(improvement, views.why_question(improvement, step, f"step-{improvement_id}-{step}"))
    slack_api.latency = 0.005

    await delivery(db, clock, slack_api, concurrency=16).flush()

    for improvement_id in ids:
        texts = [c.text_of_blocks for c in slack_api.of("chat.postMessage")]
        steps = [t.split(f"step-{improvement_id}-")[1][0] for t in texts if f"step-{improvement_id}-" in t]
        assert steps == ["2", "3", "4", "5"], improvement_id
    assert all(status == "sent" for _, status in statuses(db))


@pytest.mark.parametrize(
    ("error", "unknown"),
    [
        (httpx.ConnectError("refused"), False),  # never reached Teams: send again
        (httpx.ConnectTimeout("slow connect"), False),
        (httpx.ReadTimeout("no answer"), True),  # sent, the answer lost: look before sending again
        (httpx.RemoteProtocolError("dropped"), True),
        (TimeoutError(), True),
    ],
)
async def test_teams_sends_tell_a_lost_answer_from_a_refused_request(error: Exception, unknown: bool) -> None:
    async def send() -> None:
        raise error

    with pytest.raises(ChatError) as raised:
        await _guard("post", send)
    assert raised.value.unknown is unknown and raised.value.retryable


async def test_a_send_that_may_have_arrived_stays_unsure_when_its_failure_cannot_be_saved(
    db, clock, slack_api, monkeypatch
) -> None:
    dms(db, clock, 1)
    slack_api.slow("chat.postMessage", 2)
    sender = delivery(db, clock, slack_api, timeout=1)

    def database_gone(*_args):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(sender._claims, "failed", database_gone)
    await sender.flush()
    with Session(db) as session:
        row = session.exec(select(OutboxMessage)).one()
        assert row.status == "pending" and row.unsure_since is not None  # released as unsure, not as unsent

    await delivery(db, clock, slack_api).flush()
    assert len(slack_api.posted()) == 1  # found, not sent again


async def test_a_wait_that_outlasts_the_claim_sends_nothing(db, clock, slack_api) -> None:
    from bot.core.ports import SENDABLE

    chat = SlackChat(make_sender(BOT_TOKEN, slack_api.url, 5))
    SENDABLE.set(lambda: False)  # the sender's claim may have passed on while it waited for the pacing
    with pytest.raises(ChatError) as raised:
        await chat.dm("U00001", Message(summary="check-in", blocks=[]), key="1-1")
    assert not raised.value.unknown and not slack_api.of("chat.postMessage")


async def test_a_live_flush_renews_its_lease_while_a_slow_send_is_under_way(db, clock, slack_api, monkeypatch) -> None:
    from datetime import timedelta

    from bot.delivery import sender as sending

    monkeypatch.setattr(sending, "HEARTBEAT", timedelta(seconds=0.05))
    dms(db, clock, 1)
    flush = await slow_flush_under_way(db, clock, slack_api)
    clock.advance(seconds=LEASE.total_seconds() - 5)
    await asyncio.sleep(0.3)  # a few heartbeats: the lease now runs from the new time
    clock.advance(seconds=10)  # past the first lease, within the renewed one
    assert (await delivery(db, clock, slack_api).flush()).sent == 0  # not taken over
    await flush
    assert len(slack_api.posted()) == 1


async def test_a_teams_429_is_waited_out_by_its_conversation_only(teams) -> None:
    from tests.support.teams_flows import REPORT
    from tests.support.teams_world import ALEX as TEAMS_ALEX
    from tests.support.teams_world import INTAKE as TEAMS_INTAKE

    await teams.say(TEAMS_ALEX, "improve Leads arrive in the CRM twice", teams.personal(TEAMS_ALEX))
    form = teams.connector.posts_to(TEAMS_ALEX.personal)[-1]
    teams.connector.failures = [(429, 1)]  # the next connector call: the card in the intake channel

    response = await teams.submit(TEAMS_ALEX, form, REPORT, teams.personal(TEAMS_ALEX))

    assert response.status_code == 200
    assert len(teams.connector.posts_to(TEAMS_INTAKE)) == 1  # after its Retry-After, within the same send
    with Session(teams.engine) as session:
        assert all(row.attempts == 0 for row in session.exec(select(OutboxMessage)))  # no failed attempt counted


async def test_a_tick_that_cannot_queue_still_delivers_what_is_queued(slack, slack_api, monkeypatch) -> None:
    """Another instance holds the due work's locks (or the database is busy): this one's tick is skipped, and
    the messages already in the outbox go out meanwhile instead of waiting for the next minute."""
    dms(slack.engine, slack.clock, 3)
    ticker = slack.bot.ticker

    def busy(_now, _queued_some=None):
        raise Unavailable("canceling statement due to lock timeout")

    monkeypatch.setattr(ticker, "_queue", busy)
    with pytest.raises(Unavailable):
        await ticker.tick(wait=False)  # a serving instance: in the background
    await settle()
    assert sorted(c["channel"] for c in slack_api.of("chat.postMessage")) == ["U00000", "U00001", "U00002"]
    dms(slack.engine, slack.clock, 1)  # `improvebot tick`: before it says the tick was skipped
    with pytest.raises(Unavailable):
        await ticker.tick()
    assert len(slack_api.of("chat.postMessage")) == 4


@pytest.mark.parametrize("wait", [False, True], ids=["serving", "improvebot tick"])
async def test_a_tick_delivers_its_first_batch_while_it_queues_the_next(slack, slack_api, monkeypatch, wait) -> None:
    """A tick's due work goes into the outbox a batch a transaction (10,000 check-ins: 20 batches, seconds of
    queueing): delivery takes each batch as it is committed, not after the last one; a tick that waits for its
    delivery counts what went out early too."""
    import time

    from bot.core.registry import TickJob

    ws = workspace(slack.engine, slack.clock)
    runs: list[bool] = []

    def batches(session, _platform, now) -> int:
        if not runs:  # the first batch: one DM
            Outbox(session, ws.id, now).dm("U00001", Message(summary="check-in", blocks=[]))
            runs.append(True)
            return 1
        deadline = time.monotonic() + 5  # the second batch is still being queued until the first DM is out
        while not slack_api.of("chat.postMessage") and time.monotonic() < deadline:
            time.sleep(0.02)
        runs.append(bool(slack_api.of("chat.postMessage")))
        return 0

    monkeypatch.setattr(slack.bot.ticker._registry, "tick_jobs", [TickJob("batches", batches, repeat=True)])
    report = await slack.bot.ticker.tick(wait=wait)
    await settle()

    assert report.queued == {"batches": 1}
    assert report.delivery.sent == (1 if wait else 0)  # a serving tick's delivery goes on behind it
    assert runs == [True, True]  # posted while the tick was still queueing
    assert [c["channel"] for c in slack_api.of("chat.postMessage")] == ["U00001"]


async def test_a_flushs_writes_to_its_own_rows_go_one_at_a_time() -> None:
    """A renewal of the lease beside a marking of the same rows deadlocked on PostgreSQL (each holding rows the
    other wanted: both failed, and two delivered messages became unsure). One waits for the other, even when the
    first one's waiter was stopped (its write goes on in its worker thread)."""
    import threading

    from bot.delivery.flushing import Flush, FlushReport

    state = Flush("flush-a", FlushReport())
    order: list[str] = []
    go_on = threading.Event()

    def marking() -> None:
        order.append("marking")
        go_on.wait(5)
        order.append("marked")

    first = asyncio.ensure_future(Delivery._write(state, marking))
    for _ in range(250):  # until the marking is under way in its thread
        if order:
            break
        await asyncio.sleep(0.02)
    second = asyncio.ensure_future(Delivery._write(state, lambda: order.append("renewed")))
    first.cancel()
    await asyncio.sleep(0.1)
    assert order == ["marking"]
    go_on.set()
    await second
    assert order == ["marking", "marked", "renewed"]


async def test_a_stopped_ticker_starts_no_more_deliveries(slack) -> None:
    """Shutting down: a nudge (a worker's poll, a batch a tick still queues) starts nothing any more."""
    ticker = slack.bot.ticker
    await ticker.stop()
    ticker.nudge()
    assert ticker._flushing is None
