"""Acknowledgement latency of the running HTTP server, side by side with a bare Bolt app that only acks.

Slack gives an app 3 seconds to acknowledge a request, and the time a person waits for a button or a
slash command to react starts with that acknowledgement. This measures, from the client's side, how long
`POST /slack/events` takes to answer 200 for two kinds of request:

* `/improve`: the slash command (the bot acks, then opens the report form with views.open);
* `button`: a click on Approve (block_actions, action_id `approve`, value `999999:1`, an improvement that
  does not exist: the bot acks, then tells the clicker privately that it can't find it).

Two servers run as subprocesses in the same run: the bot (`improvebot serve --http`, on a fresh SQLite
database in a temp dir) and `bench/bare_app.py` (the same Bolt, FastAPI and uvicorn stack, listeners that
only ack). Neither reaches Slack: both talk to the local Web API stand-in `tests/support/slack_api.py`,
which runs in a process of its own so it does not compete with the load generator for the GIL.

Requests are real signed Slack requests. For each concurrency level (closed loop: N workers, each sending
the next request when its last one is answered) and each kind, `--requests` requests go to each server in
four chunks, alternating which server goes first (ABBA), so neither gets a systematically warmer machine.
After each chunk it waits until the stub has had no Slack API call for 0.1 s, so the bot's after-ack work
(views.open, chat.postEphemeral) is done before the other server's chunk starts. Latency is
`time.perf_counter()` from send to response, one httpx.AsyncClient per server; non-200s count as errors.

Reading the numbers: Bolt's async listener runner polls for the ack every 10 ms, so about 10 ms is a floor
for both servers, and work before the ack shorter than that is hidden at concurrency 1. At high concurrency
on a small machine the load generator, the stub and both servers share the CPUs: the rows then measure
saturation as much as the servers.

Prints a markdown table of p50 and p99 (ms) per (kind, concurrency) for both servers, the ratio
bot p99 / bare p99, and a final line saying whether the target "bot p99 within 1.5x of the bare app's"
is met for every row. The servers' logs are kept in a temp dir (its path is printed to stderr).
Exits 0 whatever the numbers (it is a measurement, not a test); 1 if a server fails to start.

    .venv/bin/python bench/ack_latency.py
    .venv/bin/python bench/ack_latency.py --concurrency 1,8,32 --requests 1000
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.standin import StandInProcess, StartError, start_process  # noqa: E402
from tests.support.slack_api import BOT_TOKEN, SlackApiStub  # noqa: E402
from tests.support.slack_requests import block_action, sign, slash_command  # noqa: E402

SIGNING_SECRET = "bench-signing-secret"
USER = "U0MAYA"
INTAKE = "C0INTAKE"
TARGET_RATIO = 1.5
CHUNKS = 4  # per (kind, concurrency, server); the order of the servers alternates chunk by chunk
SETTLE_S = 0.1  # between chunks: Slack API calls quiet this long, so one server's after-ack work is done
HEALTH_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 10.0
SERVERS = ("bot", "bare")

Build = Callable[[], tuple[bytes, str]]


# -- the Slack Web API stand-in, in its own process ----------------------------------------------------------


def _serve_stub(conn: Connection) -> None:
    stub = SlackApiStub()
    stub.start()
    conn.send((stub.url, stub.response_url))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            break
        if message == "calls":
            conn.send(Counter(call.method for call in list(stub.calls)))
        else:
            break
    stub.stop()


@dataclass
class Stub(StandInProcess):
    url: str
    response_url: str

    @classmethod
    def start(cls) -> Stub:
        process, conn, (url, response_url) = start_process(_serve_stub, timeout=HEALTH_TIMEOUT_S)
        return cls(process, conn, url, response_url)

    def calls(self) -> Counter[str]:
        calls: Counter[str] = self.ask("calls")
        return calls

    def settled_calls(self, quiet_s: float = 1.0, timeout_s: float = 15.0) -> Counter[str]:
        """The calls so far, once the servers' after-ack work has stopped adding to them."""
        calls: Counter[str] = self.settled(self.calls, quiet_s, timeout_s)
        return calls


# -- the servers -----------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(stub_url: str, workdir: Path) -> dict[str, str]:
    """The process environment minus any real Slack/bot settings, plus the benchmark's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IMPROVE_"))}
    env.pop("DATABASE_URL", None)
    env.pop("PORT", None)
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=stub_url,
        DATABASE_URL=f"sqlite:///{workdir / 'bench.db'}",
        IMPROVE_INTAKE_CHANNEL=INTAKE,
        IMPROVE_APPROVERS=USER,
        IMPROVE_SECRET_KEY="benchmark-only-secret-key",
    )
    return env


def bot_command(port: int) -> list[str]:
    script = Path(sys.executable).with_name("improvebot")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "handlers.cli"]
    return [*launcher, "serve", "--http", "--port", str(port), "--host", "127.0.0.1"]


def bare_command(port: int) -> list[str]:
    return [sys.executable, str(ROOT / "bench" / "bare_app.py"), "--port", str(port), "--host", "127.0.0.1"]


def spawn(name: str, command: Callable[[int], list[str]], env: dict[str, str], workdir: Path) -> Server:
    port = free_port()
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command(port), cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Server(name, port, process, log)


def wait_healthy(server: Server, timeout_s: float = HEALTH_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise StartError(f"{server.name} exited with code {server.process.returncode}; see {server.log}")
        try:
            if httpx.get(f"{server.base}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise StartError(f"{server.name} did not answer GET /healthz with 200 in {timeout_s:.0f} s")


# -- load ------------------------------------------------------------------------------------------------


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    errors: int = 0

    def add(self, other: Sample) -> None:
        self.latencies.extend(other.latencies)
        self.errors += other.errors


def request_kinds(response_url: str) -> dict[str, Build]:
    def improve() -> tuple[bytes, str]:
        return slash_command("", USER, channel="C0GENERAL", response_url=response_url)

    def button() -> tuple[bytes, str]:
        return block_action("approve", "999999:1", USER, channel=INTAKE, message_ts="1700000000.000001")

    return {"/improve": improve, "button": button}


async def send(client: httpx.AsyncClient, build: Build) -> float | None:
    """One signed request; its latency in seconds, or None if it failed or did not answer 200."""
    body, content_type = build()
    headers = {"Content-Type": content_type, **sign(body, secret=SIGNING_SECRET)}
    start = time.perf_counter()
    try:
        response = await client.post("/slack/events", content=body, headers=headers)
    except httpx.HTTPError:
        return None
    elapsed = time.perf_counter() - start
    return elapsed if response.status_code == 200 else None


async def load(client: httpx.AsyncClient, build: Build, requests: int, concurrency: int) -> Sample:
    """`requests` requests, `concurrency` at a time (closed loop)."""
    sample = Sample()
    todo = iter(range(requests))

    async def worker() -> None:
        for _ in todo:
            latency = await send(client, build)
            if latency is None:
                sample.errors += 1
            else:
                sample.latencies.append(latency)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, requests))))
    return sample


def chunk_sizes(total: int, chunks: int) -> list[int]:
    return [total // chunks + (1 if i < total % chunks else 0) for i in range(chunks)]


def client_for(server: Server, concurrency: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(base_url=server.base, limits=limits, timeout=REQUEST_TIMEOUT_S)


Results = dict[tuple[str, int, str], Sample]  # (kind, concurrency, server) -> sample


async def measure(servers: dict[str, Server], stub: Stub, kinds: dict[str, Build], levels: list[int],
                  requests: int, warmup: int) -> Results:  # fmt: skip
    top = max(levels)
    clients = {name: client_for(server, top) for name, server in servers.items()}
    try:
        for name, client in clients.items():  # warm up code paths, caches and the connection pool
            for build in kinds.values():
                await load(client, build, max(warmup, top), top)
            log(f"warmed up {name}")
        results: Results = {}
        for concurrency in levels:
            for kind, build in kinds.items():
                for i, size in enumerate(chunk_sizes(requests, CHUNKS)):
                    order = SERVERS if i % 2 == 0 else SERVERS[::-1]
                    for name in order:
                        sample = await load(clients[name], build, size, concurrency)
                        results.setdefault((kind, concurrency, name), Sample()).add(sample)
                        await asyncio.to_thread(stub.settled_calls, SETTLE_S)
                log(f"measured {kind} at concurrency {concurrency}")
        return results
    finally:
        for client in clients.values():
            await client.aclose()


# -- report ----------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th quantile (0..1), linear between closest ranks; NaN if there are no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Row:
    kind: str
    concurrency: int
    bot: Sample
    bare: Sample

    def p(self, server: str, q: float) -> float:
        return percentile(getattr(self, server).latencies, q) * 1000

    @property
    def ratio(self) -> float:
        bare = self.p("bare", 0.99)
        return self.p("bot", 0.99) / bare if bare > 0 else math.nan

    @property
    def met(self) -> bool:
        return self.bot.errors == 0 and self.ratio <= TARGET_RATIO  # NaN compares False


def rows_of(results: Results, kinds: list[str], levels: list[int]) -> list[Row]:
    return [
        Row(kind, c, results.get((kind, c, "bot"), Sample()), results.get((kind, c, "bare"), Sample()))
        for c in levels
        for kind in kinds
    ]


def table(rows: list[Row]) -> str:
    lines = [
        "| kind | concurrency | bot p50 (ms) | bot p99 (ms) | bare p50 (ms) | bare p99 (ms) "
        "| bot p99 / bare p99 | errors (bot / bare) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.kind} | {r.concurrency} | {r.p('bot', 0.5):.1f} | {r.p('bot', 0.99):.1f} "
            f"| {r.p('bare', 0.5):.1f} | {r.p('bare', 0.99):.1f} | {r.ratio:.2f}x "
            f"| {r.bot.errors} / {r.bare.errors} |"
        )
    return "\n".join(lines)


def verdict(rows: list[Row]) -> str:
    target = f'Target "bot p99 within {TARGET_RATIO}x of the bare app\'s"'
    missed = [r for r in rows if not r.met]
    if not missed:
        return f"{target}: MET for every row."
    names = ", ".join(
        f"{r.kind} @ {r.concurrency} ({r.ratio:.2f}x{f', {r.bot.errors} errors' if r.bot.errors else ''})"
        for r in missed
    )
    return f"{target}: NOT met for {len(missed)} of {len(rows)} rows: {names}."


def scan_log(path: Path) -> str:
    """A one-line summary of what looks wrong in a server's log."""
    text = path.read_text(errors="replace") if path.exists() else ""
    errors = len(re.findall(r"^.*\b(ERROR|CRITICAL)\b", text, re.MULTILINE))
    warnings = len(re.findall(r"^.*\bWARNING\b", text, re.MULTILINE))
    tracebacks = text.count("Traceback (most recent call last)")
    non_200 = len(re.findall(r'HTTP/1\.1" (?!200)\d{3}', text))
    return f"{path}: {errors} ERROR, {warnings} WARNING, {tracebacks} tracebacks, {non_200} non-200 responses"


def tail(path: Path, lines: int = 20) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- main ------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Ack latency of the bot's HTTP server vs a bare Bolt app.")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated levels (default 1,8,32)")
    parser.add_argument("--requests", type=int, default=1000, help="requests per kind, level and server")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up requests per kind and server")
    args = parser.parse_args(argv)
    try:
        args.levels = sorted({int(level) for level in args.concurrency.split(",") if level.strip()})
    except ValueError:
        parser.error(f"--concurrency {args.concurrency!r} is not a comma-separated list of integers")
    if not args.levels or min(args.levels) < 1 or args.requests < 1:
        parser.error("concurrency levels and --requests must be at least 1")
    return args


def start_servers(stub: Stub, workdir: Path, servers: dict[str, Server]) -> None:
    """Start both servers into `servers` (so the caller can stop whatever started) and wait until healthy."""
    env = server_env(stub.url, workdir)
    servers["bot"] = spawn("bot", bot_command, env, workdir)
    servers["bare"] = spawn("bare", bare_command, env, workdir)
    for server in servers.values():
        wait_healthy(server)
        log(f"{server.name} is up on {server.base} (log: {server.log})")


def report(args: argparse.Namespace, results: Results, kinds: list[str], elapsed: float) -> None:
    rows = rows_of(results, kinds, args.levels)
    print(f"Ack latency, POST /slack/events: {args.requests} requests per kind, concurrency and server; "
          f"{os.cpu_count()} CPUs; {elapsed:.0f} s.\n")  # fmt: skip
    print(table(rows))
    print()
    print(verdict(rows))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="ack-latency-"))
    stub = Stub.start()
    servers: dict[str, Server] = {}
    try:
        start_servers(stub, workdir, servers)
        kinds = request_kinds(stub.response_url)
        started = time.monotonic()
        results = asyncio.run(measure(servers, stub, kinds, args.levels, args.requests, args.warmup))
        elapsed = time.monotonic() - started
        calls = stub.settled_calls()
        log("Slack API stub calls: " + ", ".join(f"{m}={n}" for m, n in sorted(calls.items())))
    except StartError as exc:
        log(f"ack_latency: {exc}")
        for server in servers.values():
            log(f"--- last lines of {server.log} ---\n" + tail(server.log))
        return 1
    finally:
        for server in servers.values():
            server.stop()
        stub.stop()
        for server in servers.values():
            log(scan_log(server.log))
    report(args, results, list(kinds), elapsed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
