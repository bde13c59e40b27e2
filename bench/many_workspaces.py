"""Many workspaces at once, worked by several instances on one PostgreSQL (issue 9's last row).

Seeds `--workspaces` (1,000) Slack workspaces installed through OAuth (each its own bot token in `slack_bots`), each
with `--checkins` (10) implemented improvements whose check-ins fall due at the same moment as its weekly
announcement (a wins channel, the slot just passed): one announcement and ten DMs per workspace. The Slack Web API
stand-in runs in a process of its own and enforces Slack-like limits on chat.postMessage for each workspace
(`--rate` posts a second, 0.05 by default: low enough that the limits, not this machine's CPU, set the pace of
11,000 messages; bursts up to `--burst`) and each channel (`--channel-rate`, `--channel-burst`), answering
429 with Retry-After past them. `--instances` (3) processes each build the real bot (`build_slack`, installed-to-many
mode, its clock running from the due time) on the same database and tick until nothing is left to send; they start
together. Each paces at `--pace` (95 %) of the whole limit (a workspace's bulk goes from one instance at a time;
the 5 % left is where a reply another instance sends into that workspace finds room); `--share` paces each at its
share instead, for comparison.

While the storm runs, instance 0 takes a thread reply (a signed message event answering Why #1 of an improvement of
the first workspace, `--reply-after` seconds in) and its delay is measured: from the request to the stand-in
posting the bot's next question in that thread.

The floor is what the stand-in's limits allow: the busiest workspace's posts after its burst at `--rate` a second
(the workspaces go side by side): the first one's, with the reply's answer, are one more than the others' 11; the
others' time against their own floor is printed beneath, with when the workspaces' first posts came, how long
each took from its first post to its last, and the 429s by Retry-After. At the end every owner must have exactly
one DM and every wins channel one announcement; anything else is reported. Prints one markdown table and notes;
progress goes to stderr.

    .venv/bin/python bench/many_workspaces.py
    .venv/bin/python bench/many_workspaces.py --workspaces 100 --rate 0.2    # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, insert, text

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.postgres import postgres_problem  # noqa: E402
from bench.standin import StandInProcess, StartError, serve, start_process  # noqa: E402
from bench.tick_and_digest import analyze, bulk_insert, fix_sequence, log, postgres_database  # noqa: E402
from bot.core.clock import OffsetClock, SystemClock  # noqa: E402
from bot.core.config import load_settings  # noqa: E402
from bot.core.workspace import WorkspaceSettings  # noqa: E402
from storage.db import Unavailable, make_engine, transaction  # noqa: E402
from storage.models import SLACK_BOTS, Checkin, Improvement, PostedMessage, Why, Workspace  # noqa: E402
from tests.support import slack_requests as rq  # noqa: E402
from tests.support.slack_api import RateLimit, SlackApiStub  # noqa: E402

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
DUE = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)  # a Friday, 16:00 UTC: the check-ins and the announcement slot
CLIENT_ID, CLIENT_SECRET = "1111.2222", "bench-client-secret"
CARD_TS = "1700000000.000100"  # the card whose thread gets the injected reply
REPORTER = "U0REPORTER"


def team(n: int) -> str:
    return f"T{n:05d}"


def owner(ws: int, n: int) -> str:
    return f"U{ws:05d}{n:03d}"


# -- the stand-in --------------------------------------------------------------------------------------------


def _serve_stub(conn: Connection, limit: RateLimit, workspaces: int) -> None:
    stub = SlackApiStub(rate_limit=limit, tokens={f"xoxb-{team(n)}": team(n) for n in range(workspaces)})
    replied: list[float] = []  # when the bot's messages in the watched thread arrived
    post = stub._post

    last = [0.0]  # when the last message was posted
    spans: dict[str, list[float]] = {}  # workspace -> [first post, last post] (its channels and DMs carry its number)

    def timed(params: dict[str, Any]) -> dict[str, Any]:
        answer = post(params)
        if answer.get("ok") and params.get("thread_ts") == CARD_TS:
            replied.append(time.time())  # the injected reply's answer: timed on its own
        elif answer.get("ok"):
            last[0] = at = time.time()
            span = spans.setdefault(str(params.get("channel", ""))[1:6], [at, at])
            span[1] = at
        return answer

    stub._post = timed  # type: ignore[method-assign]
    throttle = stub._throttle
    waits: Counter[int] = Counter()  # Retry-After seconds of the 429s: 1 is a post a moment early

    def counted(method: str, params: dict[str, Any], team: str = "") -> int | None:
        wait = throttle(method, params, team)
        if wait is not None:
            waits[wait] += 1
        return wait

    stub._throttle = counted  # type: ignore[method-assign]

    def stats() -> tuple[Counter[str], int, list[float], float, dict[str, list[float]], Counter[int]]:
        posts = Counter(str(call.get("channel", "")) for call in stub.of("chat.postMessage"))
        return posts, len(stub.rate_limited), replied, last[0], spans, waits

    serve(conn, stub, {"stats": stats})


# -- seeding -------------------------------------------------------------------------------------------------


def seed(engine: Engine, workspaces: int, checkins: int) -> None:
    base = WorkspaceSettings(intake_channel="", wins_channel="", digest_at="fri 16:00", timezone="UTC",
                             anonymous_reports=False)  # fmt: skip
    created = DUE - timedelta(days=60)
    rows = [
        {"id": n + 1, "platform": "slack", "external_id": team(n), "last_number": checkins + 1,
         "settings": {**base.to_json(), "intake_channel": f"C{n:05d}IN", "wins_channel": f"C{n:05d}WIN"},
         "settings_saved_at": created, "created_at": created}
        for n in range(workspaces)
    ]  # fmt: skip
    bulk_insert(engine, Workspace, rows)
    bots = [
        {"client_id": CLIENT_ID, "app_id": "A0BENCH", "team_id": team(n), "team_name": f"Team {n}",
         "bot_token": f"xoxb-{team(n)}", "bot_id": "BBOT", "bot_user_id": "UBOT", "bot_scopes": "chat:write",
         "is_enterprise_install": False, "installed_at": created.replace(tzinfo=None)}
        for n in range(workspaces)
    ]  # fmt: skip
    with transaction(engine) as session:
        session.execute(insert(SLACK_BOTS), bots)
    implemented = DUE - timedelta(days=30)
    improvements, due = [], []
    for n in range(workspaces):
        for k in range(1, checkins + 1):
            ident = n * (checkins + 1) + k
            improvements.append(
                {"id": ident, "workspace_id": n + 1, "number": k, "status": "implemented", "problem": f"Problem {k}",
                 "area": "Sales", "frequency": "weekly", "hours_per_week": 1.5, "people": 3, "customers_notice": False,
                 "reporter_id": owner(n, k), "owner_id": owner(n, k), "channel_id": f"C{n:05d}IN",
                 "countermeasure": "A checklist", "measure": "Duplicates per week", "baseline": "12", "target": "0",
                 "approval_round": 1, "cycle": 0, "anonymous": False, "created_at": implemented - timedelta(days=9),
                 "updated_at": implemented, "implemented_at": implemented}
            )  # fmt: skip
            due.append({"workspace_id": n + 1, "improvement_id": ident, "owner_id": owner(n, k), "cycle": 0,
                        "position": 2, "of": 3, "after_days": 30, "tz": "UTC", "status": "scheduled", "due_at": DUE,
                        "snoozes": 0})  # fmt: skip
    listening = workspaces * (checkins + 1) + 1  # the first workspace's improvement waiting for its Why #1
    improvements.append(
        {"id": listening, "workspace_id": 1, "number": checkins + 1, "status": "investigating",
         "problem": "Leads arrive twice", "area": "Sales", "frequency": "weekly", "hours_per_week": 2.0, "people": 4,
         "customers_notice": False, "reporter_id": REPORTER, "owner_id": REPORTER, "channel_id": "C00000IN",
         "approval_round": 0, "cycle": 0, "anonymous": False, "created_at": DUE - timedelta(hours=1),
         "updated_at": DUE - timedelta(hours=1)}
    )  # fmt: skip
    bulk_insert(engine, Improvement, improvements)
    bulk_insert(engine, Checkin, due)
    bulk_insert(engine, Why, [{"improvement_id": listening, "position": 1, "question": "Leads arrive twice"}])
    bulk_insert(engine, PostedMessage, [{"workspace_id": 1, "improvement_id": listening, "key": "card",
                                         "channel": "C00000IN", "ref": CARD_TS, "created_at": DUE}])  # fmt: skip
    for table in ("workspace", "improvement"):
        fix_sequence(engine, table)
    analyze(engine)


def pending(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(text("SELECT count(*) FROM outbox_message WHERE status = 'pending'")).scalar() or 0
        )


# -- one instance --------------------------------------------------------------------------------------------


def _instance(conn: Connection, index: int, url: str, stub_url: str, pace: float, args: dict[str, Any]) -> None:
    import faulthandler

    from handlers.slack.app import build_slack
    from handlers.web import create_web_app

    faulthandler.enable()  # a crash of the interpreter says where it was

    engine = make_engine(url)
    settings = load_settings({
        "SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET, "SLACK_SIGNING_SECRET": rq.SIGNING_SECRET,
        "SLACK_API_URL": stub_url, "DATABASE_URL": url, "IMPROVE_ANONYMOUS_REPORTS": "false",
        "IMPROVE_SLACK_POSTS_PER_SECOND": str(pace),
        "IMPROVE_SLACK_CHANNEL_POSTS_PER_SECOND": str(args["channel_rate"]),
        "IMPROVE_SLACK_CHANNEL_BURST": str(int(args["channel_burst"])),
        "IMPROVE_DELIVERY_CONCURRENCY": str(args["concurrency"]),
    })  # fmt: skip
    clock = OffsetClock(SystemClock())  # running, as a real one (a clock set only between ticks stood still
    clock.offset = DUE + timedelta(seconds=30) - clock.now()  # through the first, 30 s of sending)
    bot = build_slack(settings, engine=engine, clock=clock)
    conn.send("ready")
    began = conn.recv()  # go, and when: every instance's clock runs from that one moment
    clock.offset = DUE + timedelta(seconds=30) - datetime.fromtimestamp(began, UTC)

    async def inject(started: float) -> float:
        await asyncio.sleep(max(0.0, started + args["reply_after"] - time.monotonic()))
        web = create_web_app(engine, bot, scheduled=False, clock=clock)
        body = rq.message_event("Two web forms feed the CRM", REPORTER, channel="C00000IN", thread_ts=CARD_TS,
                                event_id="Ev0BENCHREPLY", team=team(0), ts=f"{time.time():.6f}")  # fmt: skip
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bot") as http:
            at = time.time()
            answer = await http.post("/slack/events", content=body[0],
                                     headers={"Content-Type": body[1], **rq.sign(body[0])})  # fmt: skip
            if answer.status_code != 200:
                log(f"  instance {index}: the reply was answered {answer.status_code}")
        return at

    async def run() -> dict[str, Any]:
        """As a serving instance with a worker's poll does: the catch-up tick at start and one a minute (delivery
        goes on in the background, claiming what comes due), and every second a nudge to deliver what another
        instance queued, until nothing is left to send."""
        sent = [0]
        bot.service.delivery.observers.append(lambda flushed: sent.__setitem__(0, sent[0] + flushed.sent))
        await bot.start()
        started = time.monotonic()
        injected = asyncio.ensure_future(inject(started)) if index == 0 else None
        ticks = 0
        try:
            while time.monotonic() - started < args["max_seconds"]:
                if ticks == 0 or time.monotonic() - started >= 60 * ticks:  # the catch-up tick, then each minute
                    try:
                        report = await bot.ticker.tick(wait=False)
                        if any(report.queued.values()):
                            queued = report.line().split(";")[0]
                            log(f"  instance {index} at {time.monotonic() - started:.1f} s: {queued}")
                    except Unavailable as exc:  # another instance holds the due work's locks: delivery goes on
                        log(f"  instance {index} at {time.monotonic() - started:.1f} s: a tick was skipped ({exc})")
                    ticks += 1
                bot.ticker.nudge()  # as a worker polls: deliver what another instance queued
                await asyncio.sleep(1.0)
                left = await asyncio.to_thread(pending, engine)
                if not left and (injected is None or injected.done()):
                    break
            done = time.monotonic() - started
            at = await injected if injected is not None else None
        finally:
            await bot.stop()
        return {"index": index, "sent": sent[0], "ticks": ticks, "seconds": done, "injected_at": at}

    result = asyncio.run(run())
    engine.dispose()
    conn.send(result)


# -- the run -------------------------------------------------------------------------------------------------


def measure(args: argparse.Namespace) -> dict[str, Any]:
    limit = RateLimit(rate=args.rate, burst=args.burst, channel_rate=args.channel_rate,
                      channel_burst=args.channel_burst)  # fmt: skip
    process, conn, stub_url = start_process(_serve_stub, limit, args.workspaces, timeout=30)
    stub = StandInProcess(process, conn)
    pace = args.rate * args.pace / (args.instances if args.share else 1)
    with postgres_database(args.postgres, "many") as engine:
        started = time.perf_counter()
        seed(engine, args.workspaces, args.checkins)
        log(f"seeded {args.workspaces} workspaces in {time.perf_counter() - started:.1f} s")
        url = engine.url.render_as_string(hide_password=False)
        context = multiprocessing.get_context("spawn")
        workers = []
        for index in range(args.instances):
            ours, theirs = context.Pipe()
            proc = context.Process(target=_instance, args=(theirs, index, url, stub_url, pace, vars(args)), daemon=True)
            proc.start()
            workers.append((proc, ours))
        for _, pipe in workers:
            if not pipe.poll(120) or pipe.recv() != "ready":
                raise StartError("an instance did not start")
        began = time.time()
        for _, pipe in workers:
            pipe.send(began)
        results = []
        for proc, pipe in workers:
            results.append(pipe.recv() if pipe.poll(args.max_seconds + 120) else {"seconds": float("inf")})
            proc.join(10)
        with engine.connect() as connection:
            statuses = dict(
                connection.execute(text("SELECT status, count(*) FROM outbox_message GROUP BY status")).all()
            )
            retried = connection.execute(
                text("SELECT count(*) FROM outbox_message WHERE attempts > 0 OR unsure_since IS NOT NULL")
            ).scalar()
        statuses["retried or unsure"] = int(retried or 0)
    posts, limited, replies, last, spans, waits = stub.ask("stats")
    stub.stop()
    injected = next((r["injected_at"] for r in results if r.get("injected_at")), None)
    return {"results": results, "posts": posts, "limited": limited, "replies": replies, "injected": injected,
            "began": began, "statuses": statuses, "last": last, "spans": spans, "waits": waits}  # fmt: skip


def where_the_time_went(spans: dict[str, list[float]], began: float) -> str:
    """When the workspaces' first posts came and how long each took from its first post to its last: the wall
    time is the latest first post plus the longest span, at most."""
    if not spans:
        return "no posts"
    firsts = sorted(first - began for first, _ in spans.values())
    lengths = sorted(last - first for first, last in spans.values())

    def spread(values: list[float]) -> str:
        return f"median {values[len(values) // 2]:.1f} s, 99th {values[int(len(values) * 0.99)]:.1f} s, " \
               f"max {values[-1]:.1f} s"  # fmt: skip

    return f"first post of a workspace after the start: {spread(firsts)}; first → last post: {spread(lengths)}"


def problems(args: argparse.Namespace, posts: Counter[str]) -> list[str]:
    found = []
    dms = {owner(n, k) for n in range(args.workspaces) for k in range(1, args.checkins + 1)}
    missing = [user for user in dms if posts.get(user, 0) == 0]  # a DM is posted to the person's id
    twice = [user for user in dms if posts.get(user, 0) > 1]
    wins = {f"C{n:05d}WIN" for n in range(args.workspaces)}
    found += [f"{len(missing)} owners without their DM"] if missing else []
    found += [f"{len(twice)} owners with more than one DM"] if twice else []
    found += [f"{len([c for c in wins if posts.get(c, 0) != 1])} wins channels without exactly one announcement"]
    return [p for p in found if not p.startswith("0 ")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspaces", type=int, default=1000)
    parser.add_argument("--checkins", type=int, default=10)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--rate", type=float, default=0.05, help="stand-in: posts a second per workspace")
    parser.add_argument("--burst", type=float, default=1)
    parser.add_argument("--channel-rate", type=float, default=1.0)
    parser.add_argument("--channel-burst", type=float, default=3)
    parser.add_argument("--pace", type=float, default=0.95, help="the bot paces at this share of --rate (the rest: "
                        "room for a reply another instance sends into a workspace whose bulk one paces)")  # fmt: skip
    parser.add_argument("--share", action="store_true", help="each instance paces at its share of --rate")
    parser.add_argument("--concurrency", type=int, default=512, help="IMPROVE_DELIVERY_CONCURRENCY per instance")
    parser.add_argument("--reply-after", type=float, default=15.0)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    args = parser.parse_args(argv)
    problem = postgres_problem(args.postgres)
    if problem:
        print(f"PostgreSQL cannot be used ({problem}): nothing measured")
        return 0
    measured = measure(args)
    wall = measured["last"] - measured["began"]  # from the start to the last message posted
    per_workspace = args.checkins + 1
    reply = (
        min((ts - measured["injected"] for ts in measured["replies"]), default=None) if measured["injected"] else None
    )
    # the busiest workspace's posts after its burst, at the limit: the first one's, with the reply's answer, has one
    # more than the others (its whole limit is spent on its bulk: the answer takes a bulk post's place)
    floor = max(0.0, per_workspace + (reply is not None) - args.burst) / args.rate
    found = problems(args, measured["posts"])
    sent = sum(r.get("sent", 0) for r in measured["results"])
    mode = "each its share of the limit" if args.share else "each at the whole limit"
    print(f"{args.workspaces:,} workspaces × ({args.checkins} check-ins + 1 announcement), {args.instances} instances "
          f"({mode}), PostgreSQL; stand-in: {args.rate:g} posts/s per workspace (burst {args.burst:g}), "
          f"{args.channel_rate:g}/s per channel (burst {args.channel_burst:g}).\n")  # fmt: skip
    header = ("| messages | instances | start → last message posted | floor | vs floor | sent per instance | 429s | "
              "thread reply: request → posted | duplicates / misses | outbox after |")  # fmt: skip
    print(header)
    print("|--:|--:|--:|--:|--:|---|--:|--:|---|---|")
    shares = " / ".join(str(r.get("sent", "?")) for r in measured["results"])
    reply_s = f"{reply:.2f} s" if reply is not None else "not posted"
    verdict = "✅ 0 / 0" if not found else "❌ " + "; ".join(found)
    statuses = ", ".join(f"{k} {v:,}" for k, v in sorted(measured["statuses"].items()))
    met = "✅" if wall <= 1.1 * floor else "❌"
    print(f"| {args.workspaces * per_workspace:,} | {args.instances} | {wall:.1f} s | {floor:.0f} s | "
          f"{wall / floor:.2f}x {met} | {shares} ({sent:,}) | {measured['limited']:,} | {reply_s} | "
          f"{verdict} | {statuses} |")  # fmt: skip
    others = [last for name, (_, last) in measured["spans"].items() if name != team(0)[1:]]
    if reply is not None and others:
        alone = max(0.0, per_workspace - args.burst) / args.rate
        print(f"\nThe {len(others):,} workspaces without the reply: last post {max(others) - measured['began']:.1f} s, "
              f"{(max(others) - measured['began']) / alone:.2f}x their floor of {alone:.0f} s.")  # fmt: skip
    print(f"\n{where_the_time_went(measured['spans'], measured['began'])}")
    waits = ", ".join(f"{seconds} s: {count}" for seconds, count in sorted(measured["waits"].items()))
    print(f"429s by their Retry-After: {waits or 'none'}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
