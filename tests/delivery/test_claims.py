"""Claims across many workspaces: in turns, a workspace's bulk to one flush at a time (and after sending, to its
instance a while), concurrent claimers."""

from __future__ import annotations

import threading
import time
from collections import Counter

from sqlalchemy import event, func
from sqlmodel import Session, select

from bot.core.messages import Message
from bot.core.workspace import WorkspaceSettings, ensure_workspace
from bot.delivery.claims import KEEPS_PACING, Claims
from bot.delivery.outbox import Outbox
from storage.db import transaction
from storage.models import OutboxMessage, Workspace
from tests.conftest import INTAKE

CHECK_IN = Message(summary="check-in", blocks=[])


def backlog(db, clock, workspaces: int, each: int) -> dict[int, str]:
    """`each` DMs due in each of `workspaces` workspaces, queued one workspace after another (as the tick
    queues them). Returns workspace id -> team."""
    teams = {}
    with transaction(db) as session:
        for n in range(workspaces):
            ws = ensure_workspace(session, "slack", f"T{n:04d}", WorkspaceSettings(intake_channel=INTAKE), clock.now())
            teams[ws.id] = ws.external_id
            outbox = Outbox(session, ws.id, clock.now())
            for person in range(each):
                outbox.dm(f"U{n:04d}{person:03d}", CHECK_IN)
    return teams


def teams_of(db, rows: list[OutboxMessage]) -> list[str]:
    with Session(db) as session:
        return [session.get_one(Workspace, row.workspace_id).external_id for row in rows]


def test_a_claim_takes_the_workspaces_in_turns_and_the_next_claim_goes_on_from_there(db, clock) -> None:
    backlog(db, clock, workspaces=4, each=5)
    claims = Claims(db, clock, "slack")

    first = claims.claim("flush-a", 2)
    second = claims.claim("flush-a", 2)  # the same flush, its first two rows still on their way
    third = claims.claim("flush-a", 4)

    assert teams_of(db, first) == ["T0000", "T0001"]  # not the first workspace's two oldest
    assert teams_of(db, second) == ["T0002", "T0003"]  # its turns go on: not the first two workspaces again
    assert teams_of(db, third) == ["T0000", "T0001", "T0002", "T0003"]  # everyone's second


def test_a_workspaces_bulk_goes_to_one_flush_at_a_time_but_a_reply_is_never_held_back(db, clock) -> None:
    teams = backlog(db, clock, workspaces=3, each=4)
    claims = Claims(db, clock, "slack")
    [held] = claims.claim("flush-a", 1)  # T0000's bulk is flush-a's now
    with transaction(db) as session:  # a people-facing message in that same workspace
        Outbox(session, held.workspace_id, clock.now()).private("U0000000", CHECK_IN, where=INTAKE)

    other = claims.claim("flush-b", 100)

    assert other[0].kind == "private"  # people-facing first, whoever holds the workspace's bulk
    assert Counter(teams[row.workspace_id] for row in other[1:]) == {"T0001": 4, "T0002": 4}
    assert teams_of(db, claims.claim("flush-a", 100)) == ["T0000"] * 3  # its holder goes on with it


def claim_together(claims: Claims, tokens: list[str], limit: int) -> list[list[OutboxMessage]]:
    """Each token claims in a thread of its own, all starting at the same moment."""
    start = threading.Barrier(len(tokens))
    got: dict[str, list[OutboxMessage]] = {}

    def claim(token: str) -> None:
        start.wait()
        got[token] = claims.claim(token, limit)

    threads = [threading.Thread(target=claim, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [got[token] for token in tokens]


def test_concurrent_claims_come_back_full_with_distinct_rows_and_workspaces(db, clock) -> None:
    backlog(db, clock, workspaces=40, each=3)
    claims = Claims(db, clock, "slack")
    for attempt in range(5):
        tokens = [f"flush-{attempt}-a", f"flush-{attempt}-b"]
        a, b = claim_together(claims, tokens, 8)

        assert (len(a), len(b)) == (8, 8), attempt  # neither comes back short for the other's locks
        assert not {row.id for row in a} & {row.id for row in b}
        assert not {row.workspace_id for row in a} & {row.workspace_id for row in b}  # one flush per workspace
        for token in tokens:
            claims.release(token, frozenset())


def test_a_claim_with_a_long_backlog_in_one_workspace_takes_its_oldest(db, clock) -> None:
    backlog(db, clock, workspaces=1, each=3000)
    claims = Claims(db, clock, "slack")

    rows = claims.claim("flush-a", 128)

    with Session(db) as session:
        oldest = session.exec(select(OutboxMessage.id).order_by(OutboxMessage.id).limit(128)).all()
    assert [row.id for row in rows] == list(oldest)
    assert claims.claim("flush-b", 128) == []  # the workspace's bulk is flush-a's


def test_a_claim_made_while_another_is_under_way_waits_for_its_turn(db, clock) -> None:
    """Flush A has selected (PostgreSQL: locked) the rows it is claiming, not yet written; flush B claims
    meanwhile. B must not take the next rows of A's workspaces: it waits for A's claim, then sees their bulk as
    A's."""
    backlog(db, clock, workspaces=2, each=5)
    claims = Claims(db, clock, "slack")
    locked = threading.Event()

    def slow_after_locking(conn, cursor, statement, parameters, context, executemany) -> None:
        if threading.current_thread().name == "a" and "row_number" in statement.lower():  # the claim's select
            locked.set()
            time.sleep(0.2)

    event.listen(db, "after_cursor_execute", slow_after_locking)
    got: dict[str, list[OutboxMessage]] = {}
    try:
        a = threading.Thread(target=lambda: got.setdefault("a", claims.claim("flush-a", 2)), name="a")
        a.start()
        assert locked.wait(5)
        got["b"] = claims.claim("flush-b", 2)
        a.join()
    finally:
        event.remove(db, "after_cursor_execute", slow_after_locking)

    assert teams_of(db, got["a"]) == ["T0000", "T0001"]
    assert got["b"] == []  # both workspaces' bulk is A's


def test_a_workspace_stays_with_the_instance_that_sent_its_last_bulk_message(db, clock) -> None:
    """Its buckets know how much of the workspace's limit it spent: another instance's would send at once, and
    bounce. Its own next flush goes on with it (a flush ends whenever nothing more is due, as between a tick's
    batches), and what it released is free at once."""
    backlog(db, clock, workspaces=2, each=3)
    one, other = Claims(db, clock, "slack"), Claims(db, clock, "slack")  # two instances
    first = one.token()
    sent, unsent = one.claim(first, 2)  # one row of each workspace
    one.mark_sent([(sent, None)])
    one.release(first, frozenset())  # the flush ended; nothing of the first workspace is pending in it

    taken = other.claim(other.token(), 10)
    assert {row.workspace_id for row in taken} == {unsent.workspace_id}  # released: the other instance's now
    assert other.claim(other.token(), 10) == []  # the first workspace: its holder sent there a moment ago
    later = one.token()
    assert [row.workspace_id for row in one.claim(later, 10)] == [sent.workspace_id] * 2  # its next flush

    clock.advance(seconds=KEEPS_PACING.total_seconds() + 1)
    one.release(later, frozenset())  # stopped before sending them, a while after the last send there: let go
    assert len(other.claim(other.token(), 10)) == 2
    with Session(db) as session:  # that send no longer marked as its holder's (its later flush unmarked it)
        assert session.get_one(OutboxMessage, sent.id).claimed_by is None


def test_a_flush_that_died_after_sending_holds_the_workspace_only_a_little_while(db, clock) -> None:
    backlog(db, clock, workspaces=1, each=2)
    claims = Claims(db, clock, "slack")
    [sent] = claims.claim("flush-a", 1)
    claims.mark_sent([(sent, None)])  # and then the process was killed: nothing released

    assert claims.claim("flush-b", 10) == []
    clock.advance(seconds=KEEPS_PACING.total_seconds() + 1)
    assert len(claims.claim("flush-b", 10)) == 1


def test_people_facing_rows_take_no_bulk_rows_turn(db, clock) -> None:
    teams = backlog(db, clock, workspaces=2, each=4)
    first = next(ws for ws, team in teams.items() if team == "T0000")
    with transaction(db) as session:
        for person in range(3):
            Outbox(session, first, clock.now()).private(f"U{person}", CHECK_IN, where=INTAKE)

    rows = Claims(db, clock, "slack").claim("flush-a", 6)

    assert [row.kind for row in rows[:3]] == ["private"] * 3
    assert sorted(teams_of(db, rows[3:])) == ["T0000", "T0000", "T0001"]  # not T0001's first three DMs


def test_a_claim_whose_turn_is_held_up_goes_on_without_it(db, clock) -> None:
    """PostgreSQL: another claim froze holding the turn (a process stopped mid-claim): this one waits for the
    lock timeout, then claims without it (SKIP LOCKED still keeps every row single)."""
    import zlib

    import pytest

    from bot.delivery.claims import CLAIMING

    if db.dialect.name == "sqlite":
        pytest.skip("SQLite has no advisory locks: its one writer is the turn")
    backlog(db, clock, workspaces=2, each=1)
    with db.connect() as frozen:
        frozen.execute(select(func.pg_advisory_lock(CLAIMING, zlib.crc32(b"slack") >> 1)))
        try:
            started = time.monotonic()
            click = Claims(db, clock, "slack").claim("click/1", 10, yields=True)
            click_took = time.monotonic() - started
            rows = Claims(db, clock, "slack").claim("flush-a", 10)
        finally:
            frozen.execute(select(func.pg_advisory_unlock(CLAIMING, zlib.crc32(b"slack") >> 1)))
    assert len(rows) == 2
    # a click's flush does not wait for the turn: people-facing rows only, at once (the backlog is bulk)
    assert click == [] and click_took < 0.8


def test_a_flushs_pending_bulk_holds_its_workspace_against_the_instances_other_flushes(db, clock) -> None:
    """Within one instance too: a click's short flush does not take bulk rows from the workspace whose backlog the
    background flush is pacing (they would wait behind it, and the click's flush with them)."""
    backlog(db, clock, workspaces=1, each=3)
    claims = Claims(db, clock, "slack")
    background, click = claims.token(), claims.token()

    assert len(claims.claim(background, 1)) == 1
    assert claims.claim(click, 10, yields=True) == []


def test_a_clicks_flush_never_holds_the_background_flush_off_its_instances_bulk(db, clock) -> None:
    """A click's flush that took bulk rows while the background one held none (between two of its claims) does not
    hold the background flush off: that one would claim nothing and end, and the backlog wait for the next minute's
    tick (the 10,000-DM drain sent nothing for 30 s under 64 concurrent requests). Their buckets are the same."""
    backlog(db, clock, workspaces=1, each=3)
    claims = Claims(db, clock, "slack")
    background, click = claims.token(), claims.token()

    assert len(claims.claim(click, 1, yields=True)) == 1
    assert len(claims.claim(background, 10)) == 2
    assert Claims(db, clock, "slack").claim("another/instance", 10) == []  # another instance's stay held off


def test_another_instance_lets_go_of_a_dead_ones_sends(db, clock) -> None:
    """A crashed instance never renews nor releases: its last sends stay marked only until someone else's renewal
    or release finds them older than KEEPS_PACING."""
    backlog(db, clock, workspaces=1, each=2)
    dead, alive = Claims(db, clock, "slack"), Claims(db, clock, "slack")
    [sent] = dead.claim(dead.token(), 1)
    dead.mark_sent([(sent, None)])
    clock.advance(seconds=KEEPS_PACING.total_seconds() + 1)

    alive.renew(alive.token())

    with Session(db) as session:
        assert session.get_one(OutboxMessage, sent.id).claimed_by is None
