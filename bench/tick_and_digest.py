"""The tick under a big backlog, and the weekly digest's queries on a big workspace, on SQLite and PostgreSQL.

Two measurements, each on a fresh SQLite file in a temp dir and on a fresh PostgreSQL database that the
benchmark creates (and drops) on the server given by `--postgres` (skipped, with a note, when unreachable):

1. One tick that finds `--checkins` (10,000) check-ins due at once: one Slack workspace (no wins channel, so no
   digest interferes), that many implemented improvements, each with one check-in due at the same moment and a
   different owner, then `ANALYZE` (so PostgreSQL plans from statistics taken before the burst, when the outbox
   was empty, as a real database's would be until it is analyzed again). The bot is the real one
   (`handlers.slack.app.build_slack`, a `FakeClock` at the due time, the shared HTTP session a serving bot uses),
   pointed at the Slack Web API stand-in `tests/support/slack_api.py` running in a process of its own (so it does
   not share the GIL). The stand-in enforces Slack-like limits on chat.postMessage with token buckets: `--rate`
   per second workspace-wide (bursts up to `--burst`) and `--channel-rate` per second per channel (bursts up to
   `--channel-burst`), answering 429 with an integer `Retry-After` like Slack. Slack documents about 1 message
   per second per channel and does not publish the workspace-wide limit ("several hundred per minute"); the
   defaults are an assumption and are printed above the table. `await bot.ticker.tick()` is timed, split into
   queueing (claiming the due check-ins and writing their DMs to the outbox) and delivering. The bot waits out
   a 429's `Retry-After` on that channel only, up to 8 times; what still fails waits for a later tick (backoff),
   so while DMs are pending the fake clock is moved past their backoff and the tick runs again, up to
   `--max-ticks`. At the end the stand-in's record must show exactly one DM per owner; anything else is reported
   loudly. The delivery's steps (claim, renew the lease, send, mark sent) are timed per call, to show where the
   time goes; `--profile` adds a cProfile of the database side (top functions to stderr).

2. The digest with `--improvements` (100,000) improvements in one workspace: bulk-inserted (about 30 %
   implemented or sustained, implemented over the last year, hours/week and people set; the rest in the
   earlier statuses), with last week's digest already posted, then `ANALYZE`. Timed `--repeat` times each
   (median and max): `bot.wins.digest.gather` for the week (since last week's slot), `gather` with `since=None`
   (everything ever implemented: the worst case), and `bot.wins.digest.queue_due` for the slot, in a transaction
   that is rolled back (the note says how many blocks the announcement has; Slack takes at most 50).

Reading the numbers: the bot paces itself just under the stand-in's limits (IMPROVE_SLACK_POSTS_PER_SECOND at
`--pace` × `--rate`, the channel settings at the stand-in's) and sends up to `--concurrency` messages side by
side; the floor is the check-ins divided by the stand-in's workspace rate, and "× the floor" is tick 1's whole
time against it. Each `--reject` share runs the tick again with that share of posts answered 429 (Retry-After
1 s) at random: only the channel of such a post waits, the others go on. On PostgreSQL the claim's plan depends
on the statistics, and whether autovacuum refreshes them during the tick is noted (it is off on the development
server). The default run takes about 12 minutes on 2 CPUs; `--checkins 2000` is a quick look.

Migrations are applied with `storage.db.upgrade` before seeding. Prints one markdown table (rows per
measurement and database) and notes below it; progress goes to stderr. Exits 0 whatever the numbers (it is a
measurement, not a test), also when the DM check fails (the table says so); 1 if the stand-in fails to start.

    .venv/bin/python bench/tick_and_digest.py
    .venv/bin/python bench/tick_and_digest.py --checkins 2000 --improvements 20000 --databases sqlite
    .venv/bin/python bench/tick_and_digest.py --rate 0 --profile     # no rate limit: the bot's own speed
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import io
import logging
import math
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, make_url, text
from sqlmodel import Session, col, select

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.postgres import postgres_admin, postgres_problem  # noqa: E402
from bench.standin import StandInProcess, StartError, serve, start_process  # noqa: E402
from bot.core.calendar import iso_week, zone  # noqa: E402
from bot.core.clock import FakeClock  # noqa: E402
from bot.core.config import load_settings  # noqa: E402
from bot.core.messages import Message  # noqa: E402
from bot.core.workspace import WorkspaceSettings, ensure_workspace  # noqa: E402
from bot.wins import digest  # noqa: E402
from handlers.slack import render  # noqa: E402
from handlers.slack.app import SlackBot, build_slack  # noqa: E402
from storage.db import make_engine, normalize_url, transaction, upgrade  # noqa: E402
from storage.models import Checkin, Digest, Improvement, OutboxMessage, Workspace  # noqa: E402
from tests.support.slack_api import BOT_TOKEN, RateLimit, SlackApiStub  # noqa: E402

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
TEAM = "T0BENCH"
INTAKE = "C0INTAKE"
WINS = "C0WINS"
SIGNING_SECRET = "bench-signing-secret"
DUE = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)  # a Friday, 16:00 UTC: the check-ins' time and the digest slot
IMPLEMENTED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SLACK_BLOCK_LIMIT = 50  # chat.postMessage refuses a message with more blocks (invalid_blocks)
INSERT_CHUNK = 5000
START_TIMEOUT_S = 30.0
LIVE_STATUSES = ("implemented", "sustained")
EARLIER_STATUSES = ("investigating", "root_cause_found", "awaiting_approval", "question_asked", "approved",
                    "declined")  # fmt: skip


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the Slack Web API stand-in, in its own process ----------------------------------------------------------


def _serve_stub(conn: Connection, limit: RateLimit | None) -> None:
    stub = SlackApiStub(rate_limit=limit)

    def stats() -> tuple[Counter[str], int]:
        return Counter(str(call.get("channel", "")) for call in stub.of("chat.postMessage")), len(stub.rate_limited)

    def reset() -> bool:
        stub.reset()
        return True

    serve(conn, stub, {"stats": stats, "reset": reset})


@dataclass
class Stub(StandInProcess):
    url: str

    @classmethod
    def start(cls, limit: RateLimit | None) -> Stub:
        process, conn, url = start_process(_serve_stub, limit, timeout=START_TIMEOUT_S)
        return cls(process, conn, url)

    def stats(self) -> tuple[Counter[str], int]:
        """(chat.postMessage calls that went through, per channel; calls answered 429 by the rate limit)."""
        posts, limited = self.ask("stats")
        return posts, limited

    def reset(self) -> None:
        self.ask("reset")


# -- databases -------------------------------------------------------------------------------------------


@dataclass
class Database:
    name: str  # sqlite | postgresql
    fresh: Callable[[str], contextlib.AbstractContextManager[Engine]]  # a fresh, migrated database per label


@contextlib.contextmanager
def sqlite_database(workdir: Path, label: str) -> Iterator[Engine]:
    path = workdir / f"{label}.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{path}{suffix}").unlink()


@contextlib.contextmanager
def postgres_database(url: str, label: str) -> Iterator[Engine]:
    """A database of our own (improvebot_bench_<pid>_<label>), migrated; dropped afterwards."""
    name = f"improvebot_bench_{os.getpid()}_{label}"
    admin = postgres_admin(url)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(normalize_url(url)).set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def analyze(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))
        connection.commit()


def bulk_insert(engine: Engine, model: Any, rows: list[dict[str, Any]]) -> None:
    with transaction(engine) as session:
        for start in range(0, len(rows), INSERT_CHUNK):
            session.execute(insert(model), rows[start : start + INSERT_CHUNK])


def fix_sequence(engine: Engine, table: str) -> None:
    """Rows inserted with explicit ids: move PostgreSQL's sequence past them."""
    if engine.dialect.name == "postgresql":
        with transaction(engine) as session:
            session.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            )


# -- timing ----------------------------------------------------------------------------------------------


@dataclass
class Phases:
    """The wall time of every call, per named step."""

    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.samples.setdefault(name, []).append(seconds)

    def total(self, name: str) -> float:
        return sum(self.samples.get(name, []))

    def calls(self, name: str) -> int:
        return len(self.samples.get(name, []))

    def snapshot(self) -> Phases:
        return Phases({name: list(values) for name, values in self.samples.items()})


def timed(phases: Phases, name: str, fn: Callable[..., Any], profiler: cProfile.Profile | None = None) -> Any:
    """`fn` (run in a worker thread by the bot), adding its wall time to `phases`; under cProfile if given."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return profiler.runcall(fn, *args, **kwargs) if profiler else fn(*args, **kwargs)
        finally:
            phases.add(name, time.perf_counter() - start)

    return wrapper


def timed_async(phases: Phases, name: str, fn: Callable[..., Any]) -> Any:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            phases.add(name, time.perf_counter() - start)

    return wrapper


def instrument(bot: SlackBot, phases: Phases, profiler: cProfile.Profile | None) -> None:
    """Time the tick's steps by wrapping the bot's objects' methods (the bot's code is untouched)."""
    ticker: Any = bot.ticker
    delivery: Any = ticker._delivery
    ticker._queue = timed(phases, "queue", ticker._queue, profiler)
    delivery.flush = timed_async(phases, "flush", delivery.flush)
    claims = delivery._claims
    for step in ("claim", "renew", "mark_sent", "failed", "release"):
        setattr(claims, step, timed(phases, step, getattr(claims, step), profiler))
    delivery._send = timed_async(phases, "send", delivery._send)


def profile_report(profiler: cProfile.Profile, top: int = 25) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    return out.getvalue()


# -- 1. one tick with a big backlog ----------------------------------------------------------------------


def owner(n: int) -> str:
    return f"U{n:07d}"


def seed_checkins(engine: Engine, count: int) -> None:
    """`count` implemented improvements, each with one check-in due at DUE, each owned by someone else."""
    with transaction(engine) as session:
        ws = ensure_workspace(session, "slack", TEAM, WorkspaceSettings(intake_channel=INTAKE, wins_channel=""),
                              IMPLEMENTED - timedelta(days=30))  # fmt: skip
        session.get_one(Workspace, ws.id).last_number = count
    improvements = [
        {"id": n, "workspace_id": ws.id, "number": n, "status": "implemented", "problem": f"Problem number {n}",
         "area": "Sales", "frequency": "weekly", "hours_per_week": 1.5, "people": 3, "customers_notice": False,
         "reporter_id": owner(n), "owner_id": owner(n), "channel_id": INTAKE, "countermeasure": "A checklist",
         "measure": "Duplicates per week", "baseline": "12", "target": "0", "approval_round": 1, "cycle": 0,
         "anonymous": False, "created_at": IMPLEMENTED - timedelta(days=14), "updated_at": IMPLEMENTED,
         "implemented_at": IMPLEMENTED}
        for n in range(1, count + 1)
    ]  # fmt: skip
    bulk_insert(engine, Improvement, improvements)
    checkins = [
        {"workspace_id": ws.id, "improvement_id": n, "owner_id": owner(n), "cycle": 0, "position": 1, "of": 1,
         "after_days": 4, "tz": "UTC", "status": "scheduled", "due_at": DUE, "snoozes": 0}
        for n in range(1, count + 1)
    ]  # fmt: skip
    bulk_insert(engine, Checkin, checkins)
    fix_sequence(engine, "improvement")
    analyze(engine)


def pending_outbox(engine: Engine) -> tuple[int, datetime | None]:
    """(pending outbox rows, the latest time one of them may be retried)."""
    with Session(engine) as session:
        count, latest = session.exec(
            select(func.count(), func.max(OutboxMessage.next_attempt_at)).where(OutboxMessage.status == "pending")
        ).one()
        return int(count), latest


@dataclass
class TickResult:
    database: str
    checkins: int
    queued: int = 0
    queue_s: float = 0.0
    deliver_s: float = 0.0
    tick1_s: float = 0.0
    tick1_sent: int = 0
    tick1_failed: int = 0
    ticks: int = 0
    all_s: float = 0.0
    sent: int = 0
    dead: int = 0
    pending: int = 0
    rate_limited: int = 0
    dm_problems: list[str] = field(default_factory=list)
    phases: Phases = field(default_factory=Phases)
    tick1: Phases = field(default_factory=Phases)  # the first tick's steps
    stats_note: str = ""  # PostgreSQL: whether autovacuum keeps the planner's statistics fresh
    reject: float = 0.0  # the share of posts the stand-in answered 429 at random
    floor_s: float = 0.0  # the least time the stand-in's workspace limit allows for the DMs


async def run_ticks(bot: SlackBot, clock: FakeClock, engine: Engine, result: TickResult, max_ticks: int) -> None:
    phases = result.phases
    await bot.start()
    try:
        started = time.perf_counter()
        report = await bot.ticker.tick()
        result.tick1_s = time.perf_counter() - started
        result.queue_s, result.deliver_s = phases.total("queue"), phases.total("flush")
        result.tick1 = phases.snapshot()
        result.queued = report.queued["check-ins"]
        result.tick1_sent, result.tick1_failed = report.delivery.sent, report.delivery.failed
        result.sent, result.dead, result.ticks = report.delivery.sent, report.delivery.dead, 1
        log(f"  tick 1: {report.line()} in {result.tick1_s:.1f} s")
        pending, latest = await asyncio.to_thread(pending_outbox, engine)
        while pending and result.ticks < max_ticks:
            if latest is not None and latest > clock.now():
                clock.set(latest)  # past every pending row's backoff
            report = await bot.ticker.tick()
            result.ticks += 1
            result.sent += report.delivery.sent
            result.dead += report.delivery.dead
            log(f"  tick {result.ticks} (clock {clock.now():%H:%M:%S}): {report.line()}")
            pending, latest = await asyncio.to_thread(pending_outbox, engine)
        result.all_s = time.perf_counter() - started
        result.pending = pending
    finally:
        await bot.stop()


def check_dms(posts: Counter[str], count: int) -> list[str]:
    """Every owner exactly one DM, nobody else any: what is wrong, empty when all is right."""
    expected = {owner(n) for n in range(1, count + 1)}
    missing = expected - set(posts)
    twice = {channel: n for channel, n in posts.items() if channel in expected and n > 1}
    strangers = set(posts) - expected
    problems = []
    if missing:
        problems.append(f"{len(missing)} owners got no DM (e.g. {', '.join(sorted(missing)[:3])})")
    if twice:
        problems.append(f"{len(twice)} owners got more than one DM ({sum(twice.values()) - len(twice)} extra)")
    if strangers:
        problems.append(f"{sum(posts[c] for c in strangers)} messages to unexpected channels")
    return problems


def statistics_note(engine: Engine) -> str:
    """PostgreSQL plans the outbox queries from the statistics of the last ANALYZE (here: after seeding, with
    the outbox empty); say whether autovacuum may refresh them during the tick."""
    if engine.dialect.name != "postgresql":
        return ""
    with engine.connect() as connection:
        autovacuum = connection.execute(text("SHOW autovacuum")).scalar()
    if autovacuum == "off":
        return ("(autovacuum is off on this server: the planner used the statistics of the ANALYZE after seeding, "
                "when the outbox was empty, for the whole tick.)")  # fmt: skip
    return "(autovacuum is on: it may re-analyze outbox_message during the tick and change the claim's plan.)"


def bench_tick(db: Database, stub: Stub, args: argparse.Namespace) -> TickResult:
    result = TickResult(db.name, args.checkins)
    profiler = cProfile.Profile() if args.profile else None
    with db.fresh("tick") as engine:
        started = time.perf_counter()
        seed_checkins(engine, args.checkins)
        log(f"{db.name}: seeded {args.checkins} due check-ins in {time.perf_counter() - started:.1f} s")
        result.stats_note = statistics_note(engine)
        stub.reset()
        paced = (
            {
                "IMPROVE_SLACK_POSTS_PER_SECOND": str(args.rate * args.pace),
                "IMPROVE_SLACK_CHANNEL_BURST": str(int(args.channel_burst)),
                "IMPROVE_SLACK_CHANNEL_POSTS_PER_SECOND": str(args.channel_rate),
            }
            if args.rate > 0
            else {"IMPROVE_SLACK_POSTS_PER_SECOND": "1000", "IMPROVE_SLACK_CHANNEL_POSTS_PER_SECOND": "100"}
        )
        settings = load_settings({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                  "SLACK_API_URL": stub.url, "DATABASE_URL": "sqlite://",
                                  "IMPROVE_INTAKE_CHANNEL": INTAKE, "IMPROVE_ANONYMOUS_REPORTS": "false", **paced,
                                  "IMPROVE_DELIVERY_CONCURRENCY": str(args.concurrency)})  # fmt: skip
        clock = FakeClock(DUE)
        bot = build_slack(settings, engine=engine, clock=clock, socket_mode=False)
        instrument(bot, result.phases, profiler)
        asyncio.run(run_ticks(bot, clock, engine, result, args.max_ticks))
        posts, result.rate_limited = stub.stats()
        result.dm_problems = check_dms(posts, args.checkins)
        if result.dm_problems:
            log(f"{db.name}: DM CHECK FAILED: " + "; ".join(result.dm_problems))
    if profiler is not None:
        log(f"--- {db.name}: cProfile of the tick's database side (queue, claim, renew, mark sent), by own time ---")
        log(profile_report(profiler))
    return result


# -- 2. the digest on a big workspace --------------------------------------------------------------------


def improvement_rows(workspace_id: int, count: int, until: datetime) -> list[dict[str, Any]]:
    """About 20 % implemented, 10 % sustained or on the way (implemented over the last year), the rest earlier."""
    rng = random.Random(42)
    rows = []
    for n in range(1, count + 1):
        created = until - timedelta(days=rng.uniform(0, 400))
        roll = rng.random()
        implemented = sustained = None
        if roll < 0.3:
            implemented = until - timedelta(days=rng.uniform(0, 365))
            created = min(created, implemented - timedelta(days=rng.uniform(1, 30)))
            status = "implemented"
            if roll < 0.1 and implemented + timedelta(days=90) <= until:
                status, sustained = "sustained", implemented + timedelta(days=90)
        else:
            status = EARLIER_STATUSES[int((roll - 0.3) / 0.7 * len(EARLIER_STATUSES))]
        user = f"U{rng.randrange(500):05d}"
        rows.append(
            {"workspace_id": workspace_id, "number": n, "status": status, "problem": f"Problem number {n}",
             "area": rng.choice(("Sales", "Marketing", "Sales ops", "Customer success")),
             "frequency": rng.choice(("daily", "weekly", "monthly")),
             "hours_per_week": rng.choice((0.5, 1.0, 2.0, 3.0, 5.0, 8.0)), "people": rng.randint(1, 20),
             "customers_notice": rng.random() < 0.2, "reporter_id": user, "owner_id": user, "channel_id": INTAKE,
             "countermeasure": "A fix" if implemented else None, "approval_round": 1 if implemented else 0,
             "cycle": 0, "anonymous": False, "created_at": created, "updated_at": sustained or implemented or created,
             "implemented_at": implemented, "sustained_at": sustained}
        )  # fmt: skip
    return rows


def seed_improvements(engine: Engine, count: int, slot: datetime) -> Workspace:
    settings = WorkspaceSettings(intake_channel=INTAKE, wins_channel=WINS)
    with transaction(engine) as session:
        ws = ensure_workspace(session, "slack", TEAM, settings, slot - timedelta(days=730))
        session.get_one(Workspace, ws.id).last_number = count
        previous = slot - timedelta(days=7)
        session.add(Digest(workspace_id=ws.id, week=iso_week(previous, zone("UTC")), slot_at=previous,
                           status="posted", covers_from=previous - timedelta(days=7), covers_until=previous,
                           wins=0, created_at=previous))  # fmt: skip
    bulk_insert(engine, Improvement, improvement_rows(ws.id, count, slot))
    analyze(engine)
    with Session(engine) as session:
        return session.get_one(Workspace, ws.id)


@dataclass
class Timing:
    runs: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else math.nan

    @property
    def max(self) -> float:
        return max(self.runs) if self.runs else math.nan


@dataclass
class DigestResult:
    database: str
    improvements: int
    live: int = 0
    seed_s: float = 0.0
    gather_week: Timing = field(default_factory=Timing)
    gather_all: Timing = field(default_factory=Timing)
    queue_due: Timing = field(default_factory=Timing)


def time_gather(engine: Engine, workspace: Workspace, since: datetime | None, until: datetime, repeat: int) -> Timing:
    settings = WorkspaceSettings.from_json(workspace.settings)
    timing = Timing()
    for _ in range(repeat):
        with Session(engine) as session:  # a fresh session: nothing cached from the run before
            started = time.perf_counter()
            content = digest.gather(session, workspace, settings, since, until)
            timing.runs.append(time.perf_counter() - started)
            session.rollback()
    timing.note = (f"{len(content.wins):,} wins, year to date {content.year_implemented.wins:,}, "
                   f"{sum(w.total for w in content.waiting):,} waiting at some stage")  # fmt: skip
    return timing


def time_queue_due(engine: Engine, now: datetime, repeat: int) -> Timing:
    timing = Timing()
    for _ in range(repeat):
        with Session(engine) as session:
            started = time.perf_counter()
            queued = digest.queue_due(session, "slack", now)
            session.flush()
            timing.runs.append(time.perf_counter() - started)
            rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
            kinds = [row.kind for row in rows]
            post = next((row for row in rows if row.kind == "channel"), None)
            blocks = len(render.message(Message.model_validate(post.payload))["blocks"]) if post else 0
            session.rollback()
    over = f" (Slack takes at most {SLACK_BLOCK_LIMIT}: it would be refused)" if blocks > SLACK_BLOCK_LIMIT else ""
    timing.note = (f"queued {queued} digest (outbox: {', '.join(kinds)}); "
                   f"the announcement has {blocks} blocks{over}; rolled back")  # fmt: skip
    return timing


def bench_digest(db: Database, args: argparse.Namespace) -> DigestResult:
    result = DigestResult(db.name, args.improvements)
    slot = DUE
    with db.fresh("digest") as engine:
        started = time.perf_counter()
        workspace = seed_improvements(engine, args.improvements, slot)
        result.seed_s = time.perf_counter() - started
        with Session(engine) as session:
            result.live = session.exec(select(func.count()).where(col(Improvement.status).in_(LIVE_STATUSES))).one()
        log(f"{db.name}: inserted {args.improvements} improvements ({result.live} live) in {result.seed_s:.1f} s")
        result.gather_week = time_gather(engine, workspace, slot - timedelta(days=7), slot, args.repeat)
        log(f"{db.name}: gather (the week) median {result.gather_week.median * 1000:.0f} ms")
        result.gather_all = time_gather(engine, workspace, None, slot, args.repeat)
        log(f"{db.name}: gather (since=None) median {result.gather_all.median * 1000:.0f} ms")
        result.queue_due = time_queue_due(engine, slot + timedelta(minutes=1), args.repeat)
        log(f"{db.name}: queue_due median {result.queue_due.median * 1000:.0f} ms")
    return result


# -- report ----------------------------------------------------------------------------------------------


def seconds(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


def tick_rows(r: TickResult) -> list[str]:
    t = r.tick1
    messages = max(1, t.calls("send"))
    claims = t.samples.get("claim", [0.0])
    per_message = (f"per message (in parallel, so these add up to more than the wall time): send incl. pacing "
                   f"{ms(t.total('send') / messages)}, mark sent {ms(t.total('mark_sent') / messages)}; "
                   f"{len(claims)} claims: median {ms(statistics.median(claims))}, max {ms(max(claims))}")  # fmt: skip
    dm = ("✅ every owner got exactly one DM" if not r.dm_problems
          else "❌ **DM CHECK FAILED**: " + "; ".join(r.dm_problems))  # fmt: skip
    n = f"{r.checkins:,}"
    floor = f"; floor {r.floor_s:.0f} s, **{r.tick1_s / r.floor_s:.2f}× the floor**" if r.floor_s else ""
    shown = f"{r.database}, {r.reject:.0%} 429" if r.reject else r.database
    return [
        f"| tick 1: queue {n} due check-ins | {shown} | {seconds(r.queue_s)} "
        f"| {r.queued / r.queue_s:,.0f} check-ins/s | {r.queued:,} queued (outbox rows written) |",
        f"| tick 1: deliver | {shown} | {seconds(r.deliver_s)} | {r.tick1_sent / r.deliver_s:,.0f} msg/s "
        f"| {r.tick1_sent:,} sent, {r.tick1_failed:,} failed (left for a later tick); {per_message} |",
        f"| tick 1: total | {shown} | {seconds(r.tick1_s)} | {r.tick1_sent / r.tick1_s:,.0f} msg/s "
        f"| {r.rate_limited:,} HTTP 429 from the stand-in{floor} |",
        f"| all ticks until delivered | {shown} | {seconds(r.all_s)} | {r.sent / r.all_s:,.0f} msg/s "
        f"| {r.ticks} tick(s); {r.sent:,} sent, {r.dead} given up, {r.pending} still pending; "
        f"{r.rate_limited:,} HTTP 429 from the stand-in; {dm} |",
    ]


def where_the_time_went(r: TickResult) -> str:
    """Tick 1's wall time by step, largest first."""
    t = r.tick1
    steps = {  # the database side runs in worker threads one call at a time per step, sends run side by side
        "queueing the check-ins": t.total("queue"),
        "claiming outbox rows": t.total("claim"),
        "renewing leases": t.total("renew"),
        "marking sent": t.total("mark_sent"),
        "failed / release": t.total("failed") + t.total("release"),
    }
    parts = [f"{name} {value:.1f} s ({value / r.tick1_s:.0%})" for name, value in
             sorted(steps.items(), key=lambda item: -item[1]) if value >= 0.05]  # fmt: skip
    note = f" {r.stats_note}" if r.stats_note else ""
    shown = f"{r.database} with {r.reject:.0%} 429" if r.reject else r.database
    return (f"Tick 1's {r.tick1_s:.1f} s on {shown}: the sends wait for the pacing most of the time; the database "
            f"side took " + ", ".join(parts) + "." + note)  # fmt: skip


def digest_rows(r: DigestResult, repeat: int) -> list[str]:
    def row(name: str, timing: Timing) -> str:
        return (f"| {name} | {r.database} | {seconds(timing.median)} | max {seconds(timing.max)} "
                f"| {repeat} runs; {timing.note} |")  # fmt: skip

    n = f"{r.improvements:,}"
    return [
        f"| digest: insert {n} improvements (+ ANALYZE) | {r.database} | {seconds(r.seed_s)} "
        f"| {r.improvements / r.seed_s:,.0f} rows/s | {r.live:,} implemented or sustained |",
        row("digest: `gather` for the week", r.gather_week),
        row("digest: `gather`, since=None (first digest)", r.gather_all),
        row("digest: `queue_due`, one slot", r.queue_due),
    ]


def print_report(args: argparse.Namespace, ticks: list[TickResult], digests: list[DigestResult],
                 notes: list[str], elapsed: float) -> None:  # fmt: skip
    limits = (f"chat.postMessage limited to {args.rate:g}/s workspace-wide (burst {args.burst:g}) and "
              f"{args.channel_rate:g}/s per channel (burst {args.channel_burst:g}), 429 + integer Retry-After"
              if args.rate > 0 else "no rate limit in the Slack stand-in")  # fmt: skip
    print(
        f"Tick and digest: {args.checkins:,} due check-ins, {args.improvements:,} improvements; "
        f"{os.cpu_count()} CPUs; {elapsed:.0f} s in all."
    )
    print(f"Assumed Slack limits: {limits}. Time is the median where a row says so (digest), else one run.\n")
    print("| measurement | database | time | rate / max | details |")
    print("|---|---|--:|--:|---|")
    for result in ticks:
        for line in tick_rows(result):
            print(line)
    for result in digests:
        for line in digest_rows(result, args.repeat):
            print(line)
    for result in ticks:
        print(f"\n{where_the_time_went(result)}")
    for note in notes:
        print(f"\n{note}")


# -- main ------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A tick with a big backlog of check-ins, and the digest's queries.")
    parser.add_argument("--checkins", type=int, default=10_000, help="check-ins due in the one tick (10000)")
    parser.add_argument("--improvements", type=int, default=100_000, help="improvements for the digest (100000)")
    parser.add_argument(
        "--rate",
        type=float,
        default=100.0,
        help="chat.postMessage per second, workspace-wide (100; 0 turns the limits off)",
    )
    parser.add_argument("--burst", type=float, default=100.0, help="workspace-wide burst (100)")
    parser.add_argument("--channel-rate", type=float, default=1.0, help="chat.postMessage per second per channel (1)")
    parser.add_argument("--channel-burst", type=float, default=5.0, help="per-channel burst (5)")
    parser.add_argument("--reject", default="0,0.3",
                        help="shares of posts answered 429 at random, one tick run each (0,0.3)")  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=128, help="IMPROVE_DELIVERY_CONCURRENCY (128)")
    parser.add_argument("--pace", type=float, default=0.95,
                        help="the bot's workspace rate as a share of the stand-in's (0.95: just under it)")  # fmt: skip
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help=f"PostgreSQL server URL ({DEFAULT_POSTGRES})")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated (sqlite,postgresql)")
    parser.add_argument("--parts", default="tick,digest", help="comma-separated (tick,digest)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each digest query (5)")
    parser.add_argument("--max-ticks", type=int, default=20, help="ticks at most until every DM is out (20)")
    parser.add_argument("--profile", action="store_true", help="cProfile the tick's database side (to stderr)")
    args = parser.parse_args(argv)
    args.dbs = [d.strip() for d in args.databases.split(",") if d.strip()]
    args.rejects = [float(r) for r in args.reject.split(",") if r.strip()]
    args.part_list = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not set(args.dbs) <= {"sqlite", "postgresql"} or not args.dbs:
        parser.error("--databases takes sqlite and/or postgresql")
    if not set(args.part_list) <= {"tick", "digest"} or not args.part_list:
        parser.error("--parts takes tick and/or digest")
    if args.checkins < 1 or args.improvements < 1 or args.repeat < 1 or args.max_ticks < 1:
        parser.error("--checkins, --improvements, --repeat and --max-ticks must be at least 1")
    if args.rate > 0 and (args.burst < 1 or args.channel_rate <= 0 or args.channel_burst < 1):
        parser.error("--burst and --channel-burst must be at least 1, --channel-rate above 0")
    return args


def databases(args: argparse.Namespace, workdir: Path, notes: list[str]) -> list[Database]:
    found = []
    if "sqlite" in args.dbs:
        found.append(Database("sqlite", lambda label: sqlite_database(workdir, label)))
    if "postgresql" in args.dbs:
        why = postgres_problem(args.postgres)
        if why is None:
            found.append(Database("postgresql", lambda label: postgres_database(args.postgres, label)))
        else:
            shown = make_url(normalize_url(args.postgres)).render_as_string(hide_password=True)
            notes.append(f"**PostgreSQL skipped**: {shown} is not usable ({why}).")
            log(f"PostgreSQL skipped: {why}")
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)  # the bot's per-message warnings stay quiet
    started = time.monotonic()
    notes: list[str] = []
    ticks: list[TickResult] = []
    digests: list[DigestResult] = []
    limit = (RateLimit(rate=args.rate, burst=args.burst, channel_rate=args.channel_rate,
                       channel_burst=args.channel_burst) if args.rate > 0 else None)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="tick-digest-") as tmp:
        dbs = databases(args, Path(tmp), notes)
        for reject in args.rejects if "tick" in args.part_list else []:
            try:
                stub = Stub.start(replace(limit, reject=reject) if limit else None)
            except StartError as exc:
                log(f"tick_and_digest: {exc}")
                return 1
            try:
                for db in dbs:
                    result = bench_tick(db, stub, args)
                    result.reject = reject if limit else 0.0
                    result.floor_s = args.checkins / args.rate if limit else 0.0
                    ticks.append(result)
            finally:
                stub.stop()
        if "digest" in args.part_list:
            for db in dbs:
                digests.append(bench_digest(db, args))
    if any(r.dm_problems for r in ticks):
        notes.append("❌ **DM CHECK FAILED** on " + ", ".join(r.database for r in ticks if r.dm_problems) + ".")
    print_report(args, ticks, digests, notes, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
