"""One person's home view with `--improvements` (100,000) improvements in the workspace, on SQLite and PostgreSQL.

The workspace is seeded like the digest benchmark's (bench/tick_and_digest.py: about 30 % implemented or
sustained over the last year, the rest in the earlier stages, 500 people each reporting and owning some), plus
what the home view reads: approval dates and approved figures for the fixes, and one answered check-in for half
of the fixes implemented in the last 120 days. Then `ANALYZE` (PostgreSQL: `VACUUM ANALYZE`, as autovacuum would
after the seeding), and the real `bot.insights.home.Homes.render` (the code Slack's App Home, Teams' refresh and
`/improve home` run) is timed for `--renders` people picked at random (one in ten an approver, who sees every
approval waiting):

- *home view, chart cached*: what a person waits for once the team chart of the current data exists: the
  waiting work, their improvements, the team's figures, the render. Target: p99 under 300 ms.
- *first view after a change (figures again)*: a new report changes the team's data a second after the last
  view; the next view computes the team's figures again (the chart waits: it was drawn less than 10 minutes ago).
  Target: p99 under 300 ms.
- *first view after a change (draws the chart)*: the next view draws the chart (matplotlib)
  and stores it, once; every view after it is a cached one again. Timed `--changes` times.
- *team figures alone*: the aggregate queries every view runs (counts by stage, the quarter, Pareto, cycle
  times, participation, sustain rate).

The platform is a stand-in that takes the image and answers a reference (an upload is Slack's time, not ours);
the directory says who the approvers are. Prints one markdown table; progress goes to stderr.

    .venv/bin/python bench/home_view.py
    .venv/bin/python bench/home_view.py --improvements 20000 --databases sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, text  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from bench.postgres import postgres_problem  # noqa: E402
from bench.tick_and_digest import (  # noqa: E402
    DEFAULT_POSTGRES,
    INTAKE,
    analyze,
    bulk_insert,
    log,
    postgres_database,
    seed_improvements,
    sqlite_database,
)
from bot.assembly import registry  # noqa: E402
from bot.core.clock import FakeClock  # noqa: E402
from bot.core.domain import WEEKS_PER_YEAR  # noqa: E402
from bot.core.workspace import WorkspaceRef, WorkspaceSettings  # noqa: E402
from bot.insights import team  # noqa: E402
from bot.insights.home import Homes  # noqa: E402
from storage.db import Runner, transaction  # noqa: E402
from storage.models import Checkin, Improvement  # noqa: E402

NOW = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
APPROVER = "U00007"
TARGET_MS = 300.0


class Platform:
    """What the home view asks of a platform: who approves, and an image made showable (its reference)."""

    def __init__(self) -> None:
        self.images = 0

    async def is_approver(self, user: str, approvers: list[str]) -> bool:
        return user in approvers

    async def image(self, filename: str, title: str, content: bytes, *, key: str) -> str | None:
        self.images += 1
        return f"F{key[:10]}"

    async def forget_image(self, ref: str) -> None:
        pass


def enrich(engine: Engine, workspace_id: int) -> None:
    """Approval dates and approved figures for the fixes; an answered check-in for half the recent ones."""
    rng = random.Random(7)
    checkins: list[dict[str, Any]] = []
    with transaction(engine) as session:
        fixes = session.exec(
            select(Improvement).where(
                Improvement.workspace_id == workspace_id,
                Improvement.implemented_at != None,  # noqa: E711
            )
        ).all()
        for fix in fixes:
            assert fix.implemented_at is not None
            fix.approved_at = max(fix.created_at, fix.implemented_at - timedelta(days=rng.uniform(1, 20)))
            fix.first_approved_at = fix.approved_at
            fix.approved_hours_per_year = (fix.hours_per_week or 0) * (fix.people or 0) * WEEKS_PER_YEAR
            fix.approved_hourly_rate, fix.approved_currency = 50.0, "$"
            if NOW - fix.implemented_at < timedelta(days=120) and rng.random() < 0.5:
                answered = fix.implemented_at + timedelta(days=7)
                checkins.append({"workspace_id": workspace_id, "improvement_id": fix.id, "owner_id": fix.owner_id,
                                 "cycle": 0, "position": 1, "of": 3, "after_days": 7, "tz": "UTC",
                                 "status": "answered", "due_at": answered, "sent_at": answered,
                                 "answer": "holding" if rng.random() < 0.8 else "slipping",
                                 "answered_at": answered, "snoozes": 0})  # fmt: skip
    bulk_insert(engine, Checkin, checkins)
    analyze(engine)
    if engine.dialect.name == "postgresql":  # as autovacuum leaves a table after 100,000 inserts: the visibility
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:  # map set, so the
            connection.execute(text("VACUUM ANALYZE"))  # covering indexes are read without the table


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def row(name: str, database: str, values: list[float], target: str = "") -> str:
    ms = [v * 1000 for v in values]
    p50, p99 = statistics.median(ms), percentile(ms, 0.99)
    return f"| {name} | {database} | {len(ms)} | {p50:.1f} | {p99:.1f} | {max(ms):.1f} | {target} |"


async def measure(engine: Engine, database: str, args: argparse.Namespace) -> list[str]:
    log(f"{database}: seeding {args.improvements:,} improvements")
    started = time.monotonic()
    workspace = seed_improvements(engine, args.improvements, NOW)
    assert workspace.id is not None
    enrich(engine, workspace.id)
    log(f"{database}: seeded in {time.monotonic() - started:.0f} s")
    settings = WorkspaceSettings(intake_channel=INTAKE, approvers=[APPROVER])
    ws = WorkspaceRef(workspace.id, "slack", workspace.external_id, settings)
    clock = FakeClock(NOW)
    platform = Platform()
    homes = Homes(engine, Runner(wait=5, name="bench-db"), clock, platform, platform,  # type: ignore[arg-type]
                  draw=registry().draw, word="/improve")  # fmt: skip
    rng = random.Random(11)
    people = [APPROVER if rng.random() < 0.1 else f"U{rng.randrange(500):05d}" for _ in range(args.renders)]

    await homes.render(ws, people[0])  # the first view draws the chart of the current data
    cached: list[float] = []
    for person in people:
        began = time.perf_counter()
        await homes.render(ws, person)
        cached.append(time.perf_counter() - began)
    drawn_before = platform.images

    first: list[float] = []
    for n in range(args.changes):
        with transaction(engine) as session:  # a new report: the team's data changes
            number = args.improvements + n + 1
            session.add(Improvement(workspace_id=ws.id, number=number, status="investigating", problem="New",
                                    area="Sales", frequency="weekly", hours_per_week=2, people=3,
                                    reporter_id="U00001", channel_id=INTAKE, created_at=clock.now(),
                                    updated_at=clock.now()))  # fmt: skip
        clock.advance(minutes=11)  # past the chart's pacing: the next view draws it
        began = time.perf_counter()
        await homes.render(ws, people[n % len(people)])
        first.append(time.perf_counter() - began)
    drawn = platform.images - drawn_before

    changed: list[float] = []  # a change within the chart's pacing: the figures again, the picture as it was
    for n in range(args.renders):
        with transaction(engine) as session:
            number = args.improvements + args.changes + n + 1
            session.add(Improvement(workspace_id=ws.id, number=number, status="investigating", problem="New",
                                    area="Marketing", frequency="weekly", hours_per_week=1, people=2,
                                    reporter_id=people[n], channel_id=INTAKE, created_at=clock.now(),
                                    updated_at=clock.now()))  # fmt: skip
        clock.advance(seconds=1)
        began = time.perf_counter()
        await homes.render(ws, people[n])
        changed.append(time.perf_counter() - began)

    figures: list[float] = []
    for _ in range(args.renders):
        began = time.perf_counter()
        with Session(engine) as session:
            team.team_figures(session, ws.id, clock.now(), "UTC")
        figures.append(time.perf_counter() - began)
    ok = percentile([c * 1000 for c in cached], 0.99) < TARGET_MS
    fresh = percentile([c * 1000 for c in changed], 0.99) < TARGET_MS
    return [
        row("home view, chart cached", database, cached, f"p99 < {TARGET_MS:.0f} ms: {'✅' if ok else '❌'}"),
        row(
            "first view after a change (figures again)",
            database,
            changed,
            f"p99 < {TARGET_MS:.0f} ms: {'✅' if fresh else '❌'}",
        ),
        row("first view after a change (draws the chart)", database, first, f"charts drawn: {drawn}"),
        row("team figures alone", database, figures),
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--improvements", type=int, default=100_000)
    parser.add_argument("--renders", type=int, default=200)
    parser.add_argument("--changes", type=int, default=5)
    parser.add_argument("--databases", dest="dbs", nargs="+", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"])  # fmt: skip
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows: list[str] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as workdir:
        targets: list[tuple[str, Callable[[], AbstractContextManager[Engine]]]] = []
        if "sqlite" in args.dbs:
            targets.append(("sqlite", lambda: sqlite_database(Path(workdir), "home")))
        if "postgresql" in args.dbs:
            why = postgres_problem(args.postgres)
            if why is None:
                targets.append(("postgresql", lambda: postgres_database(args.postgres, "home")))
            else:
                notes.append(f"PostgreSQL skipped: {why}")
        for database, open_database in targets:
            with open_database() as engine:
                rows += asyncio.run(measure(engine, database, args))
    print(f"Home view: {args.improvements:,} improvements in the workspace; {args.renders} views of people picked at "
          f"random (1 in 10 an approver); {args.changes} changes.\n")  # fmt: skip
    print("| measurement | database | runs | p50 (ms) | p99 (ms) | max (ms) | note |")
    print("|---|---|--:|--:|--:|--:|---|")
    print("\n".join(rows))
    for note in notes:
        print(f"\n{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
