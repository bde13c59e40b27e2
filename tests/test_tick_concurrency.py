"""Exactly once across processes: several `improvebot tick` processes against one database at the same moment
never send the same check-in or digest twice (PostgreSQL: SKIP LOCKED and a unique digest row)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from datetime import UTC, datetime

from bot.core.workspace import WorkspaceSettings, ensure_workspace
from storage.db import transaction
from storage.models import Checkin, Improvement
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
    import threading

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


def test_the_reminder_tick_skips_an_improvement_a_person_is_changing(db) -> None:
    """PostgreSQL: a person's action locks the improvement, then re-plans its reminders; the reminder tick must
    skip that improvement, not wait for it (waiting in the other order would deadlock or time out)."""
    import threading
    import time

    import pytest
    from sqlmodel import select

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
    held, done = threading.Event(), threading.Event()
    result: dict[str, object] = {}

    def person() -> None:
        with transaction(db) as session:
            first = session.exec(select(Improvement).where(Improvement.number == 1)).one()
            queries.improvement_in(session, first.workspace_id, first.id or 0, for_update=True)  # as a click would
            held.set()
            done.wait(timeout=10)

    def tick() -> None:
        held.wait(timeout=10)
        started = time.monotonic()
        with transaction(db) as session:
            result["handled"] = reminders.queue_due(session, "slack", FRIDAY_4PM)
        result["seconds"] = time.monotonic() - started
        done.set()

    threads = [threading.Thread(target=person), threading.Thread(target=tick)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert result["handled"] == OWNERS - 1  # all but the one being changed, which the next tick takes
    assert isinstance(result["seconds"], float) and result["seconds"] < 1.0  # not after a lock timeout
