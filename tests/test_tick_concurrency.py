"""Exactly once across processes: several `improvebot tick` processes against one database at the same moment
never send the same check-in or digest twice (PostgreSQL: SKIP LOCKED and a unique digest row)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import Session, select

from bot.core.workspace import WorkspaceSettings, ensure_workspace
from storage.db import transaction
from storage.models import Checkin, Digest, Improvement, Workspace
from tests.conftest import INTAKE, WINS
from tests.support import slack_requests as rq
from tests.support.slack_api import BOT_TOKEN

FRIDAY_4PM = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
OWNERS = 150


def seed(db) -> None:
    """150 fixes implemented on Monday, each with a check-in due now, owned by 150 different people."""
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with transaction(db) as session:
        ws = ensure_workspace(session, "slack", rq.TEAM,
                              WorkspaceSettings(intake_channel=INTAKE, wins_channel=WINS), monday)  # fmt: skip
        for n in range(1, OWNERS + 1):
            owner = f"U{n:06d}"
            improvement = Improvement(workspace_id=ws.id, number=n, status="implemented", problem=f"problem {n}",
                                      area="Sales", frequency="weekly", hours_per_week=1, people=2, reporter_id=owner,
                                      owner_id=owner, channel_id=INTAKE, countermeasure="fix", measure="count",
                                      created_at=monday, updated_at=monday, implemented_at=monday)  # fmt: skip
            session.add(improvement)
            session.flush()
            session.add(Checkin(workspace_id=ws.id, improvement_id=improvement.id or 0, owner_id=owner, position=1,
                                of=1, after_days=4, tz="UTC", status="scheduled", due_at=FRIDAY_4PM))  # fmt: skip


async def tick_process(env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "handlers.cli", "tick", "--now", FRIDAY_4PM.isoformat(),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def test_concurrent_tick_processes_send_each_checkin_and_the_digest_once(db, slack_api, tmp_path) -> None:
    seed(db)
    slack_api.latency = 0.002
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": rq.SIGNING_SECRET,
        "SLACK_API_URL": slack_api.url,
        "DATABASE_URL": db.url.render_as_string(hide_password=False),
        "IMPROVE_INTAKE_CHANNEL": INTAKE,
        "IMPROVE_WINS_CHANNEL": WINS,
        "IMPROVE_SECRET_KEY": "tick-test-secret-key",
        "PYTHONPATH": os.getcwd(),
        "IMPROVE_SLACK_POSTS_PER_SECOND": "1000",  # each process paces itself: not what this test is about
        "IMPROVE_DB_TIMEOUT": "5",  # nor SQLite's one writer on a busy machine (three processes take turns)
    }
    results = await asyncio.gather(*(tick_process(env) for _ in range(3)))

    assert [code for code, _ in results] == [0, 0, 0], results
    dms = Counter(c["channel"] for c in slack_api.of("chat.postMessage") if c["channel"].startswith("U"))
    assert len(dms) == OWNERS and set(dms.values()) == {1}
    assert len([c for c in slack_api.of("chat.postMessage") if c["channel"] == WINS]) == 1
    assert len(slack_api.of("files.completeUploadExternal")) == 1
    claimed = [int(line.split("check-ins ")[1].split(",")[0]) for _, out in results for line in out.splitlines()
               if line.startswith("check-ins ")]  # fmt: skip
    assert sum(claimed) == OWNERS  # the work was shared, not repeated


def test_a_tick_never_claims_checkins_another_tick_is_claiming(db) -> None:
    """Deterministic: tick A holds its claim open while tick B runs; B must not take A's rows."""
    from bot.sustain import checkins

    seed(db)
    a_claimed, b_done = threading.Event(), threading.Event()
    counts: dict[str, int] = {}

    def tick_a() -> None:
        with transaction(db) as session:
            counts["a"] = checkins.queue_due(session, "slack", FRIDAY_4PM)
            a_claimed.set()
            # SQLite: B waits for A's lock instead, within its 2 s busy timeout
            b_done.wait(timeout=0.5 if db.dialect.name == "sqlite" else 10)

    def tick_b() -> None:
        a_claimed.wait(timeout=10)
        with transaction(db) as session:
            counts["b"] = checkins.queue_due(session, "slack", FRIDAY_4PM)
        b_done.set()

    threads = [threading.Thread(target=tick_a), threading.Thread(target=tick_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert counts == {"a": OWNERS, "b": 0}


def while_held(db, hold: Callable[[Session], object], job: Callable[[Session], int]) -> tuple[int, float]:
    """`hold(session)` takes its locks in a transaction kept open while `job(session)` runs in another one (each in
    a thread of its own, the job once the locks are held). Returns what the job returned and how long it took."""
    held, done = threading.Event(), threading.Event()
    result: dict[str, tuple[int, float]] = {}

    def holder() -> None:
        with transaction(db) as session:
            hold(session)
            held.set()
            done.wait(timeout=10)

    def worker() -> None:
        held.wait(timeout=10)
        started = time.monotonic()
        with transaction(db) as session:
            answer = job(session)
        result["job"] = (answer, time.monotonic() - started)
        done.set()

    threads = [threading.Thread(target=holder), threading.Thread(target=worker)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return result["job"]


def test_the_reminder_tick_skips_an_improvement_a_person_is_changing(db) -> None:
    """PostgreSQL: a person's action locks the improvement, then re-plans its reminders; the reminder tick must
    skip that improvement, not wait for it (waiting in the other order would deadlock or time out)."""

    import pytest

    from bot.sustain import reminders
    from storage import queries
    from storage.models import Reminder

    if db.dialect.name == "sqlite":
        pytest.skip("SQLite locks the whole database: there is no order of row locks to get wrong")
    seed(db)
    with transaction(db) as session:
        for improvement in session.exec(select(Improvement)).all():
            improvement.status, improvement.due_date = "approved", datetime(2026, 11, 25, tzinfo=UTC).date()
            session.add(Reminder(workspace_id=improvement.workspace_id, improvement_id=improvement.id or 0,
                                 kind="overdue", subject="due:2026-11-25", due_at=FRIDAY_4PM))  # fmt: skip

    def person(session: Session) -> None:
        first = session.exec(select(Improvement).where(Improvement.number == 1)).one()
        queries.improvement_in(session, first.workspace_id, first.id or 0, for_update=True)  # as a click would

    handled, seconds = while_held(db, person, lambda session: reminders.queue_due(session, "slack", FRIDAY_4PM))

    assert handled == OWNERS - 1  # all but the one being changed, which the next tick takes
    assert seconds < 1.0  # not after a lock timeout


def digest_workspaces(db, count: int) -> None:
    """`count` workspaces, each with a wins channel and this Friday's announcement due."""
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with transaction(db) as session:
        for n in range(count):
            settings = WorkspaceSettings(intake_channel=INTAKE, wins_channel=f"{WINS}{n}", digest_at="fri 16:00")
            ensure_workspace(session, "slack", f"T{n:04d}", settings, monday)


def test_the_digest_tick_settles_every_workspace_a_batch_at_a_time(db, monkeypatch) -> None:
    """One transaction per batch (one tick never holds every workspace's lock for the whole run), and one tick
    still settles them all."""
    from bot.assembly import registry
    from bot.core.clock import FakeClock
    from bot.tick import Ticker
    from bot.wins import digest

    monkeypatch.setattr(digest, "BATCH", 2)
    digest_workspaces(db, 5)
    batches: list[int] = []
    settle = digest.queue_due
    monkeypatch.setattr(digest, "queue_due", lambda *args: batches.append(settle(*args)) or batches[-1])
    ticker = Ticker(db, FakeClock(FRIDAY_4PM), "slack", None, registry(), None)  # type: ignore[arg-type]

    report = ticker._queue(FRIDAY_4PM)

    assert batches == [2, 2, 1, 0] and report.queued["digests"] == 5
    with transaction(db) as session:
        assert len(session.exec(select(Digest)).all()) == 5


def test_a_digest_tick_skips_the_workspaces_another_tick_is_settling(db) -> None:
    """PostgreSQL: another tick is writing one workspace's announcement (it holds that workspace's advisory lock);
    this one settles the others at once instead of waiting for it (a wait past the lock timeout skipped the whole
    tick)."""

    import pytest

    from bot.wins import digest

    if db.dialect.name == "sqlite":
        pytest.skip("SQLite runs one writer at a time: a second tick's batch waits for the first's")
    digest_workspaces(db, 3)

    def other_tick(session: Session) -> None:
        first = session.exec(select(Workspace).where(Workspace.external_id == "T0000")).one()
        session.exec(select(func.pg_advisory_xact_lock(digest.SETTLING, first.id)))  # settling it

    settled, seconds = while_held(db, other_tick, lambda session: digest.queue_due(session, "slack", FRIDAY_4PM))

    assert settled == 2  # the locked one is the other tick's (or the next run's)
    assert seconds < 5  # it never waited (a wait would time out)


def test_a_tick_queues_each_workspaces_first_checkin_before_any_second(db, monkeypatch) -> None:
    """Three workspaces with three check-ins due each, three queued a batch: the first batch has one of each
    workspace (each workspace's messages go out at its own pace, so one whose check-ins all came in the last batch
    would finish last), then the second of each."""
    from bot.sustain import checkins

    monkeypatch.setattr(checkins, "BATCH", 3)
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with transaction(db) as session:
        for w in range(3):
            ws = ensure_workspace(session, "slack", f"T{w:04d}", WorkspaceSettings(intake_channel=INTAKE), monday)
            for n in range(3):
                improvement = Improvement(workspace_id=ws.id, number=n + 1, status="implemented", problem="p",
                                          area="Sales", frequency="weekly", hours_per_week=1, people=2,
                                          reporter_id="U1", owner_id=f"U{w}{n}", channel_id=INTAKE,
                                          countermeasure="fix", measure="count", created_at=monday, updated_at=monday,
                                          implemented_at=monday)  # fmt: skip
                session.add(improvement)
                session.flush()
                session.add(Checkin(workspace_id=ws.id, improvement_id=improvement.id or 0, owner_id=f"U{w}{n}",
                                    position=1, of=1, after_days=4, tz="UTC", status="scheduled",
                                    due_at=FRIDAY_4PM))  # fmt: skip

    def sent() -> set[str]:
        with Session(db) as session:
            return {c.owner_id for c in session.exec(select(Checkin).where(Checkin.status == "sent"))}

    batches: list[list[str]] = []
    for _ in range(2):
        before = sent()
        with transaction(db) as session:
            assert checkins.queue_due(session, "slack", FRIDAY_4PM) == 3
        batches.append(sorted(sent() - before))

    assert batches == [["U00", "U10", "U20"], ["U01", "U11", "U21"]]  # not the first workspace's three


def test_reminders_are_planned_a_workspace_a_transaction(db) -> None:
    """Improvements from before reminders existed are planned one workspace's a run, each run its own
    transaction: the rows it locks are not held while every other workspace is looked at (with 1,000 workspaces a
    reply to one of them waited past the lock timeout and was refused). A workspace whose waiting improvements need
    no reminder (its settings remind about none, or no why is open) is passed over, and the runs end."""
    from bot.sustain import reminders
    from storage.models import Reminder, Why

    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with transaction(db) as session:
        for n, (nudges, asked) in enumerate(((2, True), (0, True), (2, False), (2, True))):
            settings = WorkspaceSettings(intake_channel=INTAKE, nudge_whys_days=nudges)
            ws = ensure_workspace(session, "slack", f"T{n:04d}", settings, monday)
            improvement = Improvement(workspace_id=ws.id, number=1, status="investigating", problem="p", area="Sales",
                                      frequency="weekly", hours_per_week=1, people=2, reporter_id="U1", owner_id="U1",
                                      channel_id=INTAKE, created_at=monday, updated_at=monday)  # fmt: skip
            session.add(improvement)
            session.flush()
            if asked:
                session.add(Why(improvement_id=improvement.id or 0, position=1, question="Why?"))

    def planned() -> list[str]:
        with Session(db) as session:
            rows = session.exec(select(Workspace.external_id).join(Reminder, Reminder.workspace_id == Workspace.id))
            return sorted(set(rows.all()))

    runs, seen = [], []
    for _ in range(4):
        with transaction(db) as session:
            runs.append(reminders.plan_missing(session, "slack", FRIDAY_4PM))
        seen.append(planned())

    assert runs == [1, 1, 0, 0]
    assert seen[:3] == [["T0000"], ["T0000", "T0003"], ["T0000", "T0003"]]  # never T0001 nor T0002
