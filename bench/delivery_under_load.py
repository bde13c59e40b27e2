"""Delivery under load: start-up with a backlog, ack latency while 10,000 DMs drain, and the server's memory.

A bot that was down comes back to a backlog (check-ins, a digest's DMs); it must answer people at once and
as fast as ever while it works the backlog off at the pace Slack allows. This measures that on the real
server, `improvebot serve --http` as a subprocess, against the Slack Web API stand-in
`tests/support/slack_api.py` (in a process of its own, so it does not share the load generator's GIL) with
real signed requests (`tests/support/slack_requests.py`). The stand-in enforces Slack-like limits on
chat.postMessage (token buckets: 100/s workspace-wide, bursts of 100; 1/s per channel, bursts of 5; 429 with
`Retry-After` past them) and the bot is told to pace just under it (IMPROVE_SLACK_POSTS_PER_SECOND=95,
IMPROVE_SLACK_CHANNEL_POSTS_PER_SECOND=1, IMPROVE_SLACK_CHANNEL_BURST=5), so it paces instead of bouncing.
Each database (a fresh SQLite file in a temp dir; a fresh PostgreSQL database created on `--database-url`'s
server and dropped afterwards, skipped with a note when unreachable) runs the three measurements below, each
on a fresh, migrated database with one Slack workspace (the stand-in's team), seeded with bulk inserts and no
`ANALYZE`, as the bot finds its database (`--analyze` runs it: with statistics of an outbox whose rows have
no improvement, SQLite plans the delivery's claim as a quadratic scan, about 1.8 s a claim at 10,000 rows,
holding the write lock):

1. Start-up with a backlog: `--backlog` (2000) pending outbox DMs, one per person, due now. From spawning the
   server: the time to the first 200 on `GET /healthz`, and to the first 200 on a signed `/improve help`
   (both polled every 20 ms, concurrently), and how many of the DMs had gone out by then (the catch-up tick
   runs in the background). Target: both under 2 s. The server is stopped right after.
2. Ack latency, p50/p99 in ms, of `/improve` (the bot acks, then opens the form with views.open) and a click
   on Approve (of an improvement that does not exist: it acks, then answers with chat.postEphemeral), closed
   loop at each `--concurrency` level (1,16,64), `--requests` per kind, level and server, for
   (a) `idle`: the bot with an empty outbox, and (c) `bare`: `bench/bare_app.py` (Bolt, FastAPI and uvicorn,
   listeners that only ack), in four chunks alternating which goes first (ABBA) as bench/ack_latency.py does;
   then (b) `drain`: a bot started on `--dms` (10,000) pending DMs, measured while its catch-up tick delivers
   them. Between chunks the load generator waits until the stand-in has had no after-ack call (anything but
   delivery's own methods) for 0.1 s. Targets: p99 drain/idle ≤ 1.2 and p99 drain/bare ≤ 1.2 on every row,
   with no errors and no apologies. The table says, per row, how many DMs the stand-in had taken before and
   after it (and at what rate): a row during which the drain ended or stalled is flagged. An ack is a 200
   whatever happens next, so the stand-in also counts the answers after the ack that apologize instead of
   serving ("can't save anything right now": no database worker or lock in time; "something went wrong";
   "the form did not open"): "apologies" per row, and per phase (warm-up included) in the notes.
   The drain: how long it took (from the first DM to 99 % of them and to the last: a DM that failed waits for
   its backoff and a later minute tick; and from spawn), its floor (`--dms` / 100 s; the burst of 100 lets it
   be about 1 s shorter), its rate while the latency rows ran and after them, the 429s the stand-in answered,
   the bot's CPU time, and whether every person got exactly one DM (the stand-in's record, after the server
   has stopped) and every outbox row ended `sent`.
3. Memory: the server process's VmHWM (peak resident set since it started) and VmRSS from /proc/<pid>/status,
   sampled every 0.2 s. Idle: the idle bot after start and 5 requests of each kind (and again after its whole
   latency run, for information); peak: the draining bot from spawn until its last DM. Targets: idle under
   150 MB (both VmHWM and VmRSS), peak VmHWM under 250 MB. The draining bot's CPU time is noted too.

Reading the numbers: Bolt polls for the ack every 10 ms, so about 10 ms is a floor for every server. On a
small machine the load generator, the stand-in and the servers share the CPUs, so high-concurrency rows
measure saturation as much as the servers; during the drain the bot's own delivery work competes for the same
CPUs, which is what the drain/idle ratio shows. p99 of a few hundred requests is the 2nd-5th slowest: expect
noise of 10-20 % between runs. Start-up includes Python's imports and the migration check; the first spawn of
a run may read cold files.

Prints which code it measured (commit, uncommitted changes, newest source file; a note if one changed during
the run), markdown tables (start-up, ack latency, drain, memory) and notes (targets met or missed, what looked
wrong in the servers' logs and at the stand-in); progress goes to stderr, and the logs stay in a temp dir whose
path is printed.
Exits 0 whatever the numbers (it is a measurement, not a test); 1 if a server fails to start. The full run
takes about 3 minutes per database on 2 CPUs (the drain's floor is 100 s); `--quick` is a smaller look.

    .venv/bin/python bench/delivery_under_load.py
    .venv/bin/python bench/delivery_under_load.py --quick
    .venv/bin/python bench/delivery_under_load.py --databases sqlite --dms 5000 --requests 300
    .venv/bin/python bench/delivery_under_load.py --database-url postgresql://postgres@db:5432/postgres
    .venv/bin/python bench/delivery_under_load.py --databases sqlite --analyze   # the slow claim plan
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, insert, make_url, text
from sqlmodel import Session, col, select

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ack_latency import (  # noqa: E402
    INTAKE,
    SIGNING_SECRET,
    USER,
    Build,
    Sample,
    Server,
    StartError,
    bare_command,
    bot_command,
    chunk_sizes,
    client_for,
    load,
    percentile,
    request_kinds,
    scan_log,
    server_env,
    spawn,
    tail,
    wait_healthy,
)
from bench.postgres import postgres_admin, postgres_problem  # noqa: E402
from bench.standin import StandInProcess, start_process  # noqa: E402
from bot.core.config import Settings  # noqa: E402
from bot.core.messages import Message  # noqa: E402
from bot.core.workspace import WorkspaceSettings, ensure_workspace  # noqa: E402
from storage.db import make_engine, normalize_url, transaction, upgrade  # noqa: E402
from storage.models import OutboxMessage  # noqa: E402
from tests.support.slack_api import RateLimit, SlackApiStub  # noqa: E402
from tests.support.slack_requests import sign, slash_command  # noqa: E402

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
PACE = 0.95  # the bot paces a little under the stand-in's workspace limit, as the README asks of a real one
TEAM = "T0001"  # the stand-in's team (auth.test): the bot serves this workspace only
RECIPIENT_PREFIX = "UDM"  # the seeded DMs' recipients: UDM0000001 …; nobody else is sent a DM
RATE, BURST, CHANNEL_RATE, CHANNEL_BURST = 100.0, 100.0, 1.0, 5  # chat.postMessage, stand-in and bot alike
TARGET_START_S = 2.0
TARGET_RATIO = 1.2
TARGET_IDLE_MB = 150.0
TARGET_PEAK_MB = 250.0
CHUNKS = 4  # per (kind, concurrency, server), the servers' order alternating chunk by chunk (ABBA)
SETTLE_S = 0.1  # between chunks: the stand-in has had no after-ack call for this long
POLL_S = 0.02  # start-up: how often /healthz and `/improve help` are tried
MEMORY_EVERY_S = 0.2
FEW_REQUESTS = 5  # per kind, before the idle memory is read
START_TIMEOUT_S = 30.0
INSERT_CHUNK = 5000
DELIVERY_METHODS = ("chat.postMessage", "chat.update", "conversations.open", "conversations.history",
                    "conversations.replies")  # fmt: skip
ANSWER_METHODS = ("chat.postEphemeral", "response_url", "chat.postMessage")  # how the bot answers after the ack
APOLOGIES = {  # what an answer after the ack says when the request could not be served (bot/core/outcomes.py …)
    "unavailable": "nothing you did was lost",  # UNAVAILABLE: no database worker or lock in time
    "sorry": "something went wrong on my side",  # SORRY: an exception
    "form": "the form did not open",  # views.open failed (trigger expired)
}
QUICK = {"dms": 2000, "backlog": 500, "requests": 100, "warmup": 10}
FULL = {"dms": 10_000, "backlog": 2000, "requests": 500, "warmup": 20}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


SOURCES = ("bot", "handlers", "storage", "tests/support", "bench/ack_latency.py", "bench/bare_app.py",
           "bench/delivery_under_load.py")  # fmt: skip


def newest_source() -> tuple[float, str]:
    """(mtime, path) of the most recently changed source file the servers and this benchmark run."""
    files = [path for source in SOURCES for path in [ROOT / source, *(ROOT / source).rglob("*.py")] if path.is_file()]
    newest = max(files, key=lambda path: path.stat().st_mtime)
    return newest.stat().st_mtime, str(newest.relative_to(ROOT))


def code_under_test() -> str:
    """The commit, whether the work tree has changes, and its newest source file: what these numbers are of."""

    def git(*command: str) -> str:
        try:
            done = subprocess.run(["git", "-C", str(ROOT), *command], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip()

    changed = len(git("status", "--porcelain", "--", *SOURCES).splitlines())
    mtime, path = newest_source()
    when = datetime.fromtimestamp(mtime, UTC)
    return (f"git {git('rev-parse', '--short', 'HEAD') or '?'} with {changed} changed or new files among "
            f"{', '.join(SOURCES)}; the newest is {path} ({when:%Y-%m-%d %H:%M:%S} UTC)")  # fmt: skip


def recipient(n: int) -> str:
    return f"{RECIPIENT_PREFIX}{n:07d}"


# -- the Slack Web API stand-in, rate limited, in its own process ----------------------------------------------


class _RecordingStub(SlackApiStub):
    """The stand-in, also noting when each chat.postMessage went through (the drain's timeline)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.post_times: list[float] = []

    def _post(self, params: dict[str, Any]) -> dict[str, Any]:
        answer = super()._post(params)
        if answer.get("ok"):
            self.post_times.append(time.time())
        return answer


def _serve_stub(conn: Connection, limit: RateLimit) -> None:
    stub = _RecordingStub(team_id=TEAM, rate_limit=limit)
    stub.start()
    errors: Counter[str] = Counter()  # connections the stand-in could not serve, by exception (counted, not printed)

    def handle_error(_request: Any, _address: Any) -> None:
        errors[type(sys.exc_info()[1]).__name__] += 1

    assert stub._server is not None
    stub._server.handle_error = handle_error  # type: ignore[method-assign,assignment]
    conn.send((stub.url, stub.response_url))
    seen = 0
    methods: Counter[str] = Counter()
    posts: Counter[str] = Counter()  # chat.postMessage that went through, by the channel it was sent to
    apologies: Counter[str] = Counter()  # answers after the ack that say the request could not be served
    while True:
        try:
            message = conn.recv()
        except EOFError:
            break
        if message == "reset":
            stub.reset()
            stub.post_times.clear()
            seen = 0
            methods.clear()
            posts.clear()
            errors.clear()
            apologies.clear()
            conn.send(True)
            continue
        if message == "errors":
            conn.send(Counter(errors))
            continue
        if message == "times":
            conn.send(list(stub.post_times))
            continue
        if message not in ("calls", "progress", "posts", "apologies"):
            break
        new = stub.calls[seen:]
        seen += len(new)
        for call in new:
            methods[call.method] += 1
            if call.method == "chat.postMessage":
                posts[str(call.get("channel", ""))] += 1
            if call.method in ANSWER_METHODS:
                said = call.text_of_blocks
                apologies.update(label for label, marker in APOLOGIES.items() if marker in said)
        if message == "calls":
            conn.send(Counter(methods))
        elif message == "progress":
            times = stub.post_times
            reached = sum(1 for channel in posts if channel.startswith(RECIPIENT_PREFIX))
            conn.send((sum(posts.values()), reached, times[0] if times else None, times[-1] if times else None,
                       len(stub.rate_limited), sum(apologies.values())))  # fmt: skip
        elif message == "apologies":
            conn.send(Counter(apologies))
        else:
            conn.send(Counter(posts))
    stub.stop()


@dataclass(frozen=True)
class Progress:
    posts: int = 0  # chat.postMessage calls that went through
    reached: int = 0  # distinct recipients of the seeded DMs among them
    first: float | None = None  # time.time() of the first and the last
    last: float | None = None
    limited: int = 0  # calls the stand-in answered 429
    apologies: int = 0  # answers after the ack that say the request could not be served (APOLOGIES)


@dataclass
class Stub(StandInProcess):
    url: str
    response_url: str

    @classmethod
    def start(cls) -> Stub:
        limit = RateLimit(rate=RATE, burst=BURST, channel_rate=CHANNEL_RATE, channel_burst=CHANNEL_BURST)
        process, conn, (url, response_url) = start_process(_serve_stub, limit, timeout=START_TIMEOUT_S)
        return cls(process, conn, url, response_url)

    def calls(self) -> Counter[str]:
        calls: Counter[str] = self.ask("calls")
        return calls

    def progress(self) -> Progress:
        return Progress(*self.ask("progress"))

    def posts(self) -> Counter[str]:
        posts: Counter[str] = self.ask("posts")
        return posts

    def reset(self) -> None:
        self.ask("reset")

    def post_times(self) -> list[float]:
        """time.time() of every chat.postMessage that went through, in order."""
        times: list[float] = self.ask("times")
        return times

    def apologies(self) -> Counter[str]:
        apologies: Counter[str] = self.ask("apologies")
        return apologies

    def errors(self) -> Counter[str]:
        """Connections the stand-in could not serve since the last reset, by exception."""
        errors: Counter[str] = self.ask("errors")
        return errors

    def after_ack_calls(self) -> Counter[str]:
        return Counter({m: n for m, n in self.calls().items() if m not in DELIVERY_METHODS})

    def quiet(self, quiet_s: float = SETTLE_S, timeout_s: float = 15.0) -> None:
        """Until no after-ack call (views.open, chat.postEphemeral, …) came for `quiet_s`; delivery's own
        calls (the drain) do not count."""
        self.settled(self.after_ack_calls, quiet_s, timeout_s)


# -- databases -------------------------------------------------------------------------------------------


@dataclass
class Database:
    name: str  # sqlite | postgresql
    server_url: str = ""  # postgresql: the server our databases are created on

    @contextlib.contextmanager
    def fresh(self, workdir: Path, label: str) -> Iterator[tuple[str, Engine]]:
        """A fresh, migrated database: (its URL for the server, an engine for seeding and checking)."""
        if self.name == "sqlite":
            path = workdir / f"{label}.db"
            url = f"sqlite:///{path}"
            engine = make_engine(url)
            try:
                upgrade(engine)
                yield url, engine
            finally:
                engine.dispose()
                for suffix in ("", "-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        Path(f"{path}{suffix}").unlink()
            return
        name = f"improvebot_bench_{os.getpid()}_{label}"
        admin = postgres_admin(self.server_url)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(normalize_url(self.server_url)).set(database=name).render_as_string(hide_password=False)
        engine = make_engine(url)
        try:
            upgrade(engine)
            yield url, engine
        finally:
            engine.dispose()
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def seed(engine: Engine, dms: int, *, analyze: bool = False) -> None:
    """The workspace, and `dms` pending outbox DMs due now, each to someone else; ANALYZE if asked."""
    now = datetime.now(UTC)
    with transaction(engine) as session:
        ws = ensure_workspace(session, "slack", TEAM, WorkspaceSettings(intake_channel=INTAKE), now)
    rows = [
        {"workspace_id": ws.id, "improvement_id": None, "kind": "dm", "target": recipient(n),
         "payload": Message(summary=f"check-in {n}", blocks=[]).model_dump(mode="json"), "status": "pending",
         "attempts": 0, "next_attempt_at": now, "created_at": now}
        for n in range(1, dms + 1)
    ]  # fmt: skip
    with transaction(engine) as session:
        for start in range(0, len(rows), INSERT_CHUNK):
            session.execute(insert(OutboxMessage), rows[start : start + INSERT_CHUNK])
    if analyze:
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()


def outbox_statuses(engine: Engine) -> Counter[str]:
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status))).all()
        return Counter({str(status): int(count) for status, count in rows})


# -- the server process: memory and CPU ------------------------------------------------------------------


def _status_kb(pid: int) -> tuple[int, int] | None:
    """(VmHWM, VmRSS) in kB, None once the process is gone."""
    try:
        text_ = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    values = dict(re.findall(r"^(VmHWM|VmRSS):\s+(\d+) kB", text_, re.MULTILINE))
    if "VmHWM" not in values or "VmRSS" not in values:
        return None
    return int(values["VmHWM"]), int(values["VmRSS"])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far (NaN once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class MemorySampler(threading.Thread):
    """VmHWM and VmRSS of `pid` every `every` seconds, keeping the highest seen."""

    def __init__(self, pid: int, every: float = MEMORY_EVERY_S) -> None:
        super().__init__(daemon=True, name=f"memory-{pid}")
        self.pid = pid
        self.every = every
        self.hwm_kb = 0
        self.rss_kb = 0  # the latest
        self.peak_rss_kb = 0
        self.samples = 0
        self._done = threading.Event()
        self._lock = threading.Lock()

    def sample(self) -> None:
        values = _status_kb(self.pid)
        if values is None:
            return
        with self._lock:
            self.hwm_kb = max(self.hwm_kb, values[0])
            self.rss_kb = values[1]
            self.peak_rss_kb = max(self.peak_rss_kb, values[1])
            self.samples += 1

    def run(self) -> None:
        while not self._done.wait(self.every):
            self.sample()

    def now_mb(self) -> tuple[float, float]:
        """(VmHWM, VmRSS) in MB, read now."""
        self.sample()
        with self._lock:
            return self.hwm_kb / 1024, self.rss_kb / 1024

    def peak_mb(self) -> tuple[float, float]:
        """(highest VmHWM, highest sampled VmRSS) in MB."""
        self.sample()
        with self._lock:
            return self.hwm_kb / 1024, self.peak_rss_kb / 1024

    def stop(self) -> None:
        self._done.set()


# -- load ------------------------------------------------------------------------------------------------

Results = dict[tuple[str, int, str], Sample]  # (kind, concurrency, server) -> sample


@dataclass
class Window:
    """What the stand-in had taken before and after one (kind, concurrency) row, and when."""

    before: Progress
    after: Progress
    seconds: float


async def few_requests(server: Server, kinds: dict[str, Build], count: int = FEW_REQUESTS) -> int:
    """`count` requests of each kind, one at a time; how many failed."""
    async with client_for(server, 1) as client:
        errors = 0
        for build in kinds.values():
            errors += (await load(client, build, count, 1)).errors
        return errors


async def measure(servers: dict[str, Server], stub: Stub, kinds: dict[str, Build], levels: list[int],
                  requests: int, warmup: int) -> tuple[Results, dict[tuple[str, int], Window]]:  # fmt: skip
    """Each (level, kind): `requests` per server in CHUNKS chunks, the servers' order alternating (ABBA)."""
    top = max(levels)
    names = list(servers)
    clients = {name: client_for(server, top) for name, server in servers.items()}
    results: Results = {}
    windows: dict[tuple[str, int], Window] = {}
    try:
        for client in clients.values():  # warm up code paths, caches and the connection pool
            for build in kinds.values():
                await load(client, build, max(warmup, top), top)
        await asyncio.to_thread(stub.quiet)
        for concurrency in levels:
            for kind, build in kinds.items():
                before, started = stub.progress(), time.monotonic()
                for i, size in enumerate(chunk_sizes(requests, CHUNKS)):
                    for name in names if i % 2 == 0 else names[::-1]:
                        sample = await load(clients[name], build, size, concurrency)
                        results.setdefault((kind, concurrency, name), Sample()).add(sample)
                        await asyncio.to_thread(stub.quiet)
                windows[(kind, concurrency)] = Window(before, stub.progress(), time.monotonic() - started)
                log(f"  measured {kind} at concurrency {concurrency} ({', '.join(names)})")
        return results, windows
    finally:
        for client in clients.values():
            await client.aclose()


@dataclass
class FirstAnswer:
    """One start-up poller: when its first 200 came (seconds from spawn), how long that request itself took,
    and what the earlier answers were (refused connections are not counted)."""

    at_s: float = math.nan
    took_s: float = math.nan
    before: Counter[int] = field(default_factory=Counter)

    def shown(self) -> str:
        earlier = ", ".join(f"{n}× {status}" for status, n in sorted(self.before.items()))
        return f"{self.at_s:.2f} s ({self.took_s * 1000:.0f} ms{f'; before it {earlier}' if earlier else ''})"


async def first_answers(server: Server, response_url: str, spawned: float) -> tuple[FirstAnswer, FirstAnswer]:
    """The first 200 on GET /healthz and on a signed `/improve help`, both polled every POLL_S, concurrently,
    timed from `spawned` (perf_counter)."""

    async def first(client: httpx.AsyncClient, request: Any) -> FirstAnswer:
        answer = FirstAnswer()
        while True:
            if server.process.poll() is not None:
                raise StartError(f"{server.name} exited with code {server.process.returncode}; see {server.log}")
            sent = time.perf_counter()
            try:
                status = (await request(client)).status_code
            except httpx.HTTPError:
                status = 0
            if status == 200:
                answer.at_s, answer.took_s = time.perf_counter() - spawned, time.perf_counter() - sent
                return answer
            if status:
                answer.before[status] += 1
            await asyncio.sleep(POLL_S)

    async def health(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/healthz")

    async def command(client: httpx.AsyncClient) -> httpx.Response:
        body, content_type = slash_command("help", USER, channel="C0GENERAL", response_url=response_url)
        headers = {"Content-Type": content_type, **sign(body, secret=SIGNING_SECRET)}
        return await client.post("/slack/events", content=body, headers=headers)

    async with (
        httpx.AsyncClient(base_url=server.base, timeout=5.0) as one,
        httpx.AsyncClient(base_url=server.base, timeout=5.0) as other,
    ):
        try:
            healthy, answered = await asyncio.wait_for(
                asyncio.gather(first(one, health), first(other, command)), START_TIMEOUT_S
            )
        except TimeoutError:
            raise StartError(f"{server.name} did not answer within {START_TIMEOUT_S:.0f} s; see {server.log}") from None
    return healthy, answered


# -- one database ----------------------------------------------------------------------------------------


@dataclass
class Startup:
    backlog: int
    healthy: FirstAnswer
    answered: FirstAnswer
    sent_by_then: int
    resets: int = 0  # connections to the stand-in cut before a request (the server stopped mid-backlog)

    @property
    def worst_s(self) -> float:
        return max(self.healthy.at_s, self.answered.at_s)


@dataclass
class Drain:
    dms: int
    spawned: float = 0.0  # time.time()
    progress: Progress = field(default_factory=Progress)
    finished: bool = False
    problems: list[str] = field(default_factory=list)
    others: int = 0  # chat.postMessage to anyone but the recipients (the bot's own fallbacks)
    statuses: Counter[str] = field(default_factory=Counter)
    cpu_s: float = math.nan
    worker_cpu_s: float = math.nan  # with IMPROVE_DELIVERY=worker: the worker process's
    wall_s: float = math.nan
    most_s: float = math.nan  # first DM to the one that made 99 % of them
    measured: Progress = field(default_factory=Progress)  # when the latency rows were done
    measured_at: float = math.nan  # time.time()

    @property
    def took(self) -> float:
        p = self.progress
        return p.last - p.first if p.first is not None and p.last is not None else math.nan

    @property
    def from_spawn(self) -> float:
        return self.progress.last - self.spawned if self.progress.last is not None else math.nan

    @property
    def floor(self) -> float:
        return self.dms / RATE

    def rates(self) -> tuple[float, float]:
        """DMs per second while the latency rows ran (from the first DM), and after them (to the last)."""
        p, m = self.progress, self.measured
        if p.first is None or p.last is None or m.last is None:
            return math.nan, math.nan
        during = m.reached / (self.measured_at - p.first) if self.measured_at > p.first else math.nan
        after = (p.reached - m.reached) / (p.last - self.measured_at) if p.last > self.measured_at else math.nan
        return during, after


@dataclass
class DbResult:
    database: str
    worker: bool = False  # IMPROVE_DELIVERY=worker, with an `improvebot worker` process beside the server
    worker_peak_mb: float = math.nan  # the worker's VmHWM while it drained
    startup: Startup | None = None
    results: Results = field(default_factory=dict)
    windows: dict[tuple[str, int], Window] = field(default_factory=dict)  # the drain's rows
    idle_windows: dict[tuple[str, int], Window] = field(default_factory=dict)  # the idle (and bare) rows
    drain: Drain | None = None
    idle_mb: tuple[float, float] = (math.nan, math.nan)  # (VmHWM, VmRSS) after start and a few requests
    idle_after_mb: tuple[float, float] = (math.nan, math.nan)  # after the idle latency run
    peak_mb: tuple[float, float] = (math.nan, math.nan)  # draining bot: (VmHWM, highest sampled VmRSS)
    logs: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.database.replace(" + ", "-")

    def idle_from(self, other: DbResult) -> None:
        """The idle bot and the bare app are the same whoever delivers: measured once, shown in both rows."""
        self.results.update({key: sample for key, sample in other.results.items() if key[2] in ("idle", "bare")})
        self.idle_windows = other.idle_windows
        self.idle_mb, self.idle_after_mb = other.idle_mb, other.idle_after_mb


PIN: dict[str, set[int]] = {}  # --pin: "server" (the bot and the bare app) and "rest" (everything else) CPUs


def pinned(server: Server, *, server_side: bool = True) -> Server:
    """With --pin: the server (or the bare app) on CPUs of its own, a worker with the stand-in and the load."""
    if PIN:
        os.sched_setaffinity(server.process.pid, PIN["server" if server_side else "rest"])
    return server


def worker_command(_port: int) -> list[str]:
    return [*bot_command(0)[:-6], "worker"]  # the same launcher as the server's, without `serve --http …`


def bot_env(stub: Stub, workdir: Path, database_url: str, *, worker: bool = False) -> dict[str, str]:
    env = server_env(stub.url, workdir)
    if worker:
        env["IMPROVE_DELIVERY"] = "worker"
    env.update(
        DATABASE_URL=database_url,
        IMPROVE_SLACK_POSTS_PER_SECOND=f"{RATE * PACE:g}",
        IMPROVE_SLACK_CHANNEL_POSTS_PER_SECOND=f"{CHANNEL_RATE:g}",
        IMPROVE_SLACK_CHANNEL_BURST=str(CHANNEL_BURST),
    )
    return env


def stop_all(servers: list[Server]) -> None:
    for server in servers:
        server.stop()


def spawn_worker(result: DbResult, phase: str, env: dict[str, str], workdir: Path) -> Server | None:
    """With IMPROVE_DELIVERY=worker: the `improvebot worker` beside the server (spawned at the same moment)."""
    if not result.worker:
        return None
    worker = pinned(spawn(f"{result.label}-{phase}-worker", worker_command, env, workdir), server_side=False)
    result.logs.append(worker.log)
    return worker


def bench_startup(db: Database, stub: Stub, args: argparse.Namespace, workdir: Path, result: DbResult) -> None:
    log(f"{result.database}: 1. start-up with {args.backlog} pending DMs")
    with db.fresh(workdir, f"{result.label}-startup") as (url, engine):
        seed(engine, args.backlog, analyze=args.analyze)
        stub.reset()
        env = bot_env(stub, workdir, url, worker=result.worker)
        spawned = time.perf_counter()
        server = pinned(spawn(f"{result.label}-startup", bot_command, env, workdir))
        worker = spawn_worker(result, "startup", env, workdir)
        result.logs.append(server.log)
        try:
            healthy, answered = asyncio.run(first_answers(server, stub.response_url, spawned))
            sent = stub.progress().reached
        finally:
            stop_all([s for s in (server, worker) if s is not None])
        time.sleep(0.5)
        result.startup = Startup(args.backlog, healthy, answered, sent, sum(stub.errors().values()))
        stub_errors(stub, f"{result.database}, start-up (server stopped mid-backlog)", result)
        log(f"  /healthz {healthy.shown()}, /improve help {answered.shown()}, {sent} DMs out by then")


def stub_errors(stub: Stub, phase: str, result: DbResult) -> None:
    """Notes on what went wrong at the stand-in since its last reset: broken connections, apologies."""
    apologies = stub.apologies()
    if apologies:
        shown = ", ".join(f"{n}× {label!r}" for label, n in apologies.most_common())
        result.notes.append(f"{phase}: {sum(apologies.values())} answers after the ack apologized, warm-up included "
                            f"({shown}; see APOLOGIES).")  # fmt: skip
    errors = stub.errors()
    if errors:
        shown = ", ".join(f"{n}× {name}" for name, n in errors.most_common())
        result.notes.append(f"{phase}: the stand-in saw {sum(errors.values())} broken connections ({shown}).")


def bench_idle(db: Database, stub: Stub, args: argparse.Namespace, workdir: Path, result: DbResult) -> None:
    log(f"{result.database}: 2a/2c. idle bot and bare Bolt app, 3. idle memory")
    kinds = request_kinds(stub.response_url)
    with db.fresh(workdir, f"{db.name}-idle") as (url, engine):
        seed(engine, 0, analyze=args.analyze)
        stub.reset()
        env = bot_env(stub, workdir, url)
        servers: list[Server] = []
        try:
            bot = pinned(spawn(f"{db.name}-idle", bot_command, env, workdir))
            servers.append(bot)
            memory = MemorySampler(bot.process.pid)
            memory.start()
            bare = pinned(spawn(f"{db.name}-bare", bare_command, env, workdir))
            servers.append(bare)
            result.logs += [bot.log, bare.log]
            for server in servers:
                wait_healthy(server)
            errors = asyncio.run(few_requests(bot, kinds))
            time.sleep(0.5)  # the after-ack work of those requests
            result.idle_mb = memory.now_mb()
            if errors:
                result.notes.append(f"{db.name}: {errors} of the idle bot's first {2 * FEW_REQUESTS} requests failed.")
            log(f"  idle memory: VmHWM {result.idle_mb[0]:.0f} MB, VmRSS {result.idle_mb[1]:.0f} MB")
            results, result.idle_windows = asyncio.run(
                measure({"idle": bot, "bare": bare}, stub, kinds, args.levels, args.requests, args.warmup)
            )
            result.results.update(results)
            result.idle_after_mb = memory.peak_mb()
            memory.stop()
        finally:
            stop_all(servers)
        stub_errors(stub, f"{db.name}, idle and bare", result)


def wait_drained(stub: Stub, dms: int, deadline_s: float, stall_s: float) -> bool:
    """Until every recipient has had a DM (True), or nothing went out for `stall_s`, or `deadline_s` passed."""
    deadline = time.monotonic() + deadline_s
    last, changed = -1, time.monotonic()
    while True:
        progress = stub.progress()
        if progress.reached >= dms:
            return True
        if progress.posts != last:
            last, changed = progress.posts, time.monotonic()
        elif time.monotonic() - changed > stall_s:
            return False
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)


def check_dms(posts: Counter[str], dms: int) -> tuple[list[str], int]:
    """(what is wrong with who got a DM, empty when each recipient got exactly one; posts to anyone else)."""
    expected = {recipient(n) for n in range(1, dms + 1)}
    missing = expected - set(posts)
    twice = {channel: n for channel, n in posts.items() if channel in expected and n > 1}
    problems = []
    if missing:
        problems.append(f"{len(missing)} recipients got no DM (e.g. {', '.join(sorted(missing)[:3])})")
    if twice:
        problems.append(f"{len(twice)} recipients got more than one ({sum(twice.values()) - len(twice)} duplicates)")
    others = sum(n for channel, n in posts.items() if channel not in expected)
    return problems, others


def bench_drain(db: Database, stub: Stub, args: argparse.Namespace, workdir: Path, result: DbResult) -> None:
    log(f"{result.database}: 2b. ack latency during a {args.dms}-DM drain, 3. peak memory")
    kinds = request_kinds(stub.response_url)
    drain = result.drain = Drain(args.dms)
    with db.fresh(workdir, f"{result.label}-drain") as (url, engine):
        started = time.perf_counter()
        seed(engine, args.dms, analyze=args.analyze)
        log(f"  seeded {args.dms} pending DMs in {time.perf_counter() - started:.1f} s")
        stub.reset()
        env = bot_env(stub, workdir, url, worker=result.worker)
        drain.spawned = time.time()
        bot = pinned(spawn(f"{result.label}-drain", bot_command, env, workdir))
        worker = spawn_worker(result, "drain", env, workdir)
        result.logs.append(bot.log)
        try:
            memory = MemorySampler(bot.process.pid)
            memory.start()
            worker_memory = MemorySampler(worker.process.pid) if worker is not None else None
            if worker_memory is not None:
                worker_memory.start()
            wait_healthy(bot)
            asyncio.run(few_requests(bot, kinds))
            results, result.windows = asyncio.run(
                measure({"drain": bot}, stub, kinds, args.levels, args.requests, args.warmup)
            )
            result.results.update(results)
            drain.measured = stub.progress()
            drain.measured_at = time.time()
            log(f"  measured with {drain.measured.reached} of {args.dms} DMs out; waiting for the rest")
            drain.finished = wait_drained(stub, args.dms, deadline_s=3 * drain.floor + 180, stall_s=100)
            drain.wall_s = time.time() - drain.spawned
            drain.cpu_s = cpu_seconds(bot.process.pid)
            result.peak_mb = memory.peak_mb()
            memory.stop()
            if worker is not None and worker_memory is not None:
                drain.worker_cpu_s = cpu_seconds(worker.process.pid)
                result.worker_peak_mb = worker_memory.peak_mb()[0]
                worker_memory.stop()
            time.sleep(1.0)  # anything sent twice right after the last one
        finally:
            stop_all([s for s in (bot, worker) if s is not None])
        drain.progress = stub.progress()
        times = sorted(stub.post_times())
        if len(times) >= math.ceil(0.99 * args.dms):
            drain.most_s = times[math.ceil(0.99 * args.dms) - 1] - times[0]
        drain.problems, drain.others = check_dms(stub.posts(), args.dms)
        drain.statuses = outbox_statuses(engine)
        stub_errors(stub, f"{result.database}, drain", result)
        log(f"  drained in {drain.took:.1f} s (first to last DM), {drain.progress.limited} HTTP 429; "
            f"outbox: {dict(drain.statuses)}")  # fmt: skip


# -- report ----------------------------------------------------------------------------------------------


def p(sample: Sample | None, q: float) -> float:
    return percentile(sample.latencies, q) * 1000 if sample else math.nan


def ratio(a: float, b: float) -> float:
    return a / b if b > 0 and not math.isnan(a) else math.nan


def mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def num(value: float, fmt: str = ".1f", unit: str = "") -> str:
    return "-" if math.isnan(value) else f"{value:{fmt}}{unit}"


def startup_table(dbs: list[DbResult]) -> list[str]:
    lines = [
        "| database | pending DMs at start | spawn → GET /healthz 200 (that request's own time; earlier answers) "
        "| spawn → `/improve help` 200 (the same) | DMs out by then | target < 2 s |",
        "|---|--:|--:|--:|--:|---|",
    ]
    for r in dbs:
        s = r.startup
        if s is None:
            continue
        lines.append(f"| {r.database} | {s.backlog:,} | {s.healthy.shown()} | {s.answered.shown()} "
                     f"| {s.sent_by_then:,} | {mark(s.worst_s < TARGET_START_S)} |")  # fmt: skip
    return lines


def latency_table(dbs: list[DbResult], kinds: list[str], levels: list[int], dms: int) -> tuple[list[str], list[str]]:
    """The table, and the rows that miss a target."""
    lines = [
        "| database | kind | conc. | idle p50 | idle p99 | drain p50 | drain p99 | bare p50 | bare p99 "
        "| drain/idle p99 | drain/bare p99 | DMs out before → after the drain row (rate, duration) "
        "| errors idle/drain/bare "
        "| apologies after the ack idle/drain |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|",
    ]
    missed = []
    for r in dbs:
        for level in levels:
            for kind in kinds:
                idle, drain, bare = (r.results.get((kind, level, s)) for s in ("idle", "drain", "bare"))
                vs_idle, vs_bare = ratio(p(drain, 0.99), p(idle, 0.99)), ratio(p(drain, 0.99), p(bare, 0.99))
                errors = [s.errors if s else 0 for s in (idle, drain, bare)]
                window, idle_window = r.windows.get((kind, level)), r.idle_windows.get((kind, level))
                where = "-"
                if window is not None:
                    sent = window.after.reached - window.before.reached
                    flag = (" ⚠ the drain ended during the row" if window.after.reached >= dms
                            else " ⚠ the drain stalled: no DM went out" if sent == 0 else "")  # fmt: skip
                    where = (
                        f"{window.before.reached:,} → {window.after.reached:,} ({sent / window.seconds:.0f}/s over "
                        f"{window.seconds:.1f} s){flag}"
                    )
                sorry = [w.after.apologies - w.before.apologies if w else 0 for w in (idle_window, window)]
                ok_idle = vs_idle <= TARGET_RATIO and errors[1] == 0 and sorry[1] == 0
                ok_bare = vs_bare <= TARGET_RATIO and errors[1] == 0 and sorry[1] == 0
                if not (ok_idle and ok_bare):
                    failures = f", {errors[1]} errors" if errors[1] else ""
                    failures += f", {sorry[1]} apologies" if sorry[1] else ""
                    missed.append(
                        f"{r.database} {kind} @ {level} (drain/idle {num(vs_idle, '.2f')}x, "
                        f"drain/bare {num(vs_bare, '.2f')}x{failures})"
                    )
                lines.append(
                    f"| {r.database} | {kind} | {level} | {num(p(idle, 0.5))} | {num(p(idle, 0.99))} "
                    f"| {num(p(drain, 0.5))} | {num(p(drain, 0.99))} | {num(p(bare, 0.5))} | {num(p(bare, 0.99))} "
                    f"| {num(vs_idle, '.2f', 'x')} {mark(ok_idle)} | {num(vs_bare, '.2f', 'x')} {mark(ok_bare)} "
                    f"| {where} | {' / '.join(map(str, errors))} | {sorry[0]} / {sorry[1]} |"
                )
    return lines, missed


def drain_table(dbs: list[DbResult]) -> list[str]:
    lines = [
        "| database | DMs | first DM → 99 % of them / → the last | spawn → last DM | floor (DMs / 100 s) | vs floor "
        "| DMs/s while measured / after | HTTP 429 | bot CPU | exactly one DM each | outbox after |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for r in dbs:
        d = r.drain
        if d is None:
            continue
        check = "✅ 0 duplicates, 0 missing" if not d.problems else "❌ " + "; ".join(d.problems)
        if d.others:
            check += f" ({d.others} chat.postMessage to others)"
        if not d.finished:
            check += " ⚠ the drain did not finish"
        if d.statuses.get("pending"):
            check += f" ⚠ {d.statuses['pending']:,} rows still pending"
        statuses = ", ".join(f"{status} {count:,}" for status, count in sorted(d.statuses.items()))
        cpu = f"{d.cpu_s:.0f} s ({d.cpu_s / d.wall_s:.0%} of a CPU)" if not math.isnan(d.cpu_s) else "-"
        if not math.isnan(d.worker_cpu_s):
            cpu = f"server {cpu}, worker {d.worker_cpu_s:.0f} s ({d.worker_cpu_s / d.wall_s:.0%})"
        lines.append(
            f"| {r.database} | {d.dms:,} | {num(d.most_s, '.1f', ' s')} / {num(d.took, '.1f', ' s')} "
            f"| {num(d.from_spawn, '.1f', ' s')} "
            f"| {d.floor:.0f} s | {num(ratio(d.took, d.floor), '.2f', 'x')} "
            f"| {num(d.rates()[0], '.0f')} / {num(d.rates()[1], '.0f')} | {d.progress.limited:,} | {cpu} "
            f"| {check} | {statuses} |"
        )
    return lines


def memory_table(dbs: list[DbResult]) -> list[str]:
    lines = [
        "| database | idle VmHWM | idle VmRSS | idle, after its latency run: VmHWM / VmRSS peak "
        "| draining: peak VmHWM | draining: peak VmRSS | idle < 150 MB | peak < 250 MB |",
        "|---|--:|--:|--:|--:|--:|---|---|",
    ]
    for r in dbs:
        idle_ok = max(r.idle_mb) < TARGET_IDLE_MB
        peak_ok = r.peak_mb[0] < TARGET_PEAK_MB
        lines.append(
            f"| {r.database} | {num(r.idle_mb[0], '.0f', ' MB')} | {num(r.idle_mb[1], '.0f', ' MB')} "
            f"| {num(r.idle_after_mb[0], '.0f')} / {num(r.idle_after_mb[1], '.0f', ' MB')} "
            f"| {num(r.peak_mb[0], '.0f', ' MB')}"
            + (f" (the worker: {num(r.worker_peak_mb, '.0f', ' MB')})" if r.worker else "")
            + f" | {num(r.peak_mb[1], '.0f', ' MB')} | {mark(idle_ok)} "
            f"| {mark(peak_ok)} |"
        )
    return lines


def log_findings(path: Path, top: int = 4) -> str:
    """scan_log's summary, and the most frequent WARNING/ERROR messages (digits folded)."""
    summary = scan_log(path)
    content = path.read_text(errors="replace") if path.exists() else ""
    found: Counter[str] = Counter()
    for line in content.splitlines():
        match = re.match(r"^\S+ \S+ (WARNING|ERROR|CRITICAL) (.*)$", line)
        if match:
            found[f"{match.group(1)} {re.sub(r'[0-9]+', '#', match.group(2))[:200]}"] += 1
    if not found:
        return summary
    shown = "; ".join(f"{n}× `{message}`" for message, n in found.most_common(top))
    return f"{summary}. Most frequent: {shown}"


def print_report(args: argparse.Namespace, dbs: list[DbResult], kinds: list[str], notes: list[str],
                 elapsed: float) -> None:  # fmt: skip
    print(
        f"Delivery under load, `improvebot serve --http`: {args.backlog:,} DMs pending at start-up; {args.dms:,} "
        f"DMs drained while measuring; {args.requests} requests per kind, concurrency and server; "
        f"{os.cpu_count()} CPUs; {elapsed:.0f} s in all."
    )
    print(
        f"Slack stand-in: chat.postMessage limited to {RATE:g}/s workspace-wide (burst {BURST:g}) and "
        f"{CHANNEL_RATE:g}/s per channel (burst {CHANNEL_BURST}), 429 + Retry-After; the bot is told the same "
        f"(IMPROVE_SLACK_POSTS_PER_SECOND={RATE * PACE:g}, IMPROVE_SLACK_CHANNEL_POSTS_PER_SECOND={CHANNEL_RATE:g}, "
        f"IMPROVE_SLACK_CHANNEL_BURST={CHANNEL_BURST}; at their defaults: IMPROVE_DELIVERY_CONCURRENCY="
        f"{Settings.model_fields['improve_delivery_concurrency'].default}, IMPROVE_SEND_TIMEOUT="
        f"{Settings.model_fields['improve_send_timeout'].default:g})."
    )
    if "worker" in args.modes:
        print("Rows marked `+ worker`: the server with IMPROVE_DELIVERY=worker (it acks and sends only what people "
              "wait for) and `improvebot worker` beside it (scheduled work and bulk delivery), both spawned at "
              "once; their idle and bare rows are the server's own (the same whoever delivers).")  # fmt: skip
    if PIN:
        print(f"Pinned (--pin): the bot and the bare app on CPU {sorted(PIN['server'])}, the stand-in, the load "
              f"generator and any worker on CPU {sorted(PIN['rest'])}.")  # fmt: skip
    print(f"Code under test: {args.code}.")
    print("\n**1. Start-up with a backlog**\n")
    print("\n".join(startup_table(dbs)))
    lines, missed = latency_table(dbs, kinds, args.levels, args.dms)
    print("\n**2. Ack latency (ms), POST /slack/events: idle bot, bot draining the DMs, bare Bolt app**\n")
    print("\n".join(lines))
    print("\n**2. The drain**\n")
    print("\n".join(drain_table(dbs)))
    print("\n**3. Memory of the server process (/proc/<pid>/status, sampled every 0.2 s)**\n")
    print("\n".join(memory_table(dbs)))

    verdicts = []
    starts = [r for r in dbs if r.startup is not None]
    slow = [r.database for r in starts if r.startup is not None and not r.startup.worst_s < TARGET_START_S]
    verdicts.append(
        f"Start-up under {TARGET_START_S:g} s: " + ("MET." if not slow else f"NOT met on {', '.join(slow)}.")
    )
    rows = "MET for every row." if not missed else f"NOT met for {len(missed)} rows: {'; '.join(missed)}."
    verdicts.append(f"Ack p99 drain/idle and drain/bare ≤ {TARGET_RATIO}x: {rows}")
    idle_bad = [r.database for r in dbs if not max(r.idle_mb) < TARGET_IDLE_MB]
    peak_bad = [r.database for r in dbs if not r.peak_mb[0] < TARGET_PEAK_MB]
    verdicts.append(
        f"Idle memory under {TARGET_IDLE_MB:g} MB: "
        + ("MET." if not idle_bad else f"NOT met on {', '.join(idle_bad)}.")
    )
    verdicts.append(
        f"Peak memory under {TARGET_PEAK_MB:g} MB: "
        + ("MET." if not peak_bad else f"NOT met on {', '.join(peak_bad)}.")
    )
    dm_bad = [r.database for r in dbs if r.drain is not None and (r.drain.problems or not r.drain.finished)]
    verdicts.append("Every recipient exactly one DM: " + ("yes." if not dm_bad else f"**NO** on {', '.join(dm_bad)}."))
    print("\n" + "\n".join(f"- {v}" for v in verdicts))

    print("\nNotes:\n")
    for r in dbs:
        for window_note in r.notes:
            print(f"- {window_note}")
    for note in notes:
        print(f"- {note}")
    for r in dbs:
        for path in r.logs:
            print(f"- {log_findings(path)}")


# -- main ------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Start-up, ack latency and memory while the bot drains a backlog.")
    parser.add_argument("--dms", type=int, help=f"DMs pending when the draining bot starts ({FULL['dms']})")
    parser.add_argument("--backlog", type=int, help=f"DMs pending at the start-up measurement ({FULL['backlog']})")
    parser.add_argument("--requests", type=int, help=f"requests per kind, level and server ({FULL['requests']})")
    parser.add_argument("--warmup", type=int, help=f"warm-up requests per kind and server ({FULL['warmup']})")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated levels (1,16,64)")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated (sqlite,postgresql)")
    parser.add_argument("--database-url", default=DEFAULT_POSTGRES,
                        help=f"PostgreSQL server our databases are created on ({DEFAULT_POSTGRES})")  # fmt: skip
    parser.add_argument("--delivery", default="serve,worker",
                        help="comma-separated: serve (the server delivers) and/or worker (IMPROVE_DELIVERY=worker "
                             "and an `improvebot worker` beside it) (serve,worker)")  # fmt: skip
    parser.add_argument("--pin", action="store_true",
                        help="the servers on the last CPU; the stand-in, the load generator and any worker on "
                             "the others (a deployment: Slack is elsewhere, a worker has CPUs of its own)")  # fmt: skip
    parser.add_argument("--analyze", action="store_true",
                        help="ANALYZE after seeding (statistics of an outbox of DMs with no improvement)")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="small numbers: " + ", ".join(f"--{k} {v}" for k, v in QUICK.items()))  # fmt: skip
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    try:
        args.levels = sorted({int(level) for level in args.concurrency.split(",") if level.strip()})
    except ValueError:
        parser.error(f"--concurrency {args.concurrency!r} is not a comma-separated list of integers")
    args.dbs = [d.strip() for d in args.databases.split(",") if d.strip()]
    args.modes = [m.strip() for m in args.delivery.split(",") if m.strip()]
    if not args.modes or not set(args.modes) <= {"serve", "worker"}:
        parser.error("--delivery takes serve and/or worker")
    if not args.dbs or not set(args.dbs) <= {"sqlite", "postgresql"}:
        parser.error("--databases takes sqlite and/or postgresql")
    if not args.levels or min(args.levels) < 1 or args.requests < 1 or args.dms < 1 or args.backlog < 0:
        parser.error("concurrency levels, --requests and --dms must be at least 1, --backlog at least 0")
    return args


def databases(args: argparse.Namespace, notes: list[str]) -> list[Database]:
    found = []
    if "sqlite" in args.dbs:
        found.append(Database("sqlite"))
    if "postgresql" in args.dbs:
        why = postgres_problem(args.database_url)
        if why is None:
            found.append(Database("postgresql", args.database_url))
        else:
            shown = make_url(normalize_url(args.database_url)).render_as_string(hide_password=True)
            notes.append(f"**PostgreSQL skipped**: {shown} is not usable ({why}).")
            log(f"PostgreSQL skipped: {why}")
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.code = code_under_test()
    code_mtime, _ = newest_source()
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="delivery-under-load-"))
    log(f"logs in {workdir}")
    notes: list[str] = []
    results: list[DbResult] = []
    kinds: list[str] = []
    failed = False
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            log("--pin needs two CPUs at least: not pinned")
        else:
            PIN.update(server={cpus[-1]}, rest=set(cpus[:-1]))
            os.sched_setaffinity(0, PIN["rest"])  # this process and the stand-in it starts
    stub = Stub.start()
    try:
        kinds = list(request_kinds(stub.response_url))
        for db in databases(args, notes):
            idle: DbResult | None = None
            try:
                for mode in args.modes:
                    result = DbResult(db.name if mode == "serve" else f"{db.name} + worker", worker=mode == "worker")
                    results.append(result)
                    bench_startup(db, stub, args, workdir, result)
                    if idle is None:
                        bench_idle(db, stub, args, workdir, result)
                        idle = result
                    else:
                        result.idle_from(idle)
                    bench_drain(db, stub, args, workdir, result)
            except StartError as exc:
                log(f"delivery_under_load: {exc}")
                for path in result.logs[-2:]:
                    log(f"--- last lines of {path} ---\n" + tail(path))
                notes.append(f"**{db.name}: a server failed to start**: {exc}")
                failed = True
                break
    finally:
        calls = stub.calls()
        stub.stop()
    mtime, newest = newest_source()
    if mtime > code_mtime:
        when = datetime.fromtimestamp(mtime, UTC)
        notes.append(f"**The code changed during the run** ({newest} at {when:%H:%M:%S} UTC): some rows may be of "
                     "another version.")  # fmt: skip
    log("Slack API stand-in calls (last phase): " + ", ".join(f"{m}={n}" for m, n in sorted(calls.items())))
    print_report(args, results, kinds, notes, time.monotonic() - started)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
