"""IMPROVE_DELIVERY=worker: the serving process acknowledges and sends what people wait for; `improvebot worker`
runs the scheduled work and the bulk messages, from the same rows."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from bot.core.messages import Message
from bot.delivery.outbox import Outbox
from handlers.slack.app import build_slack
from handlers.web import run_scheduled
from storage.db import transaction
from storage.models import OutboxMessage, Workspace
from tests.conftest import ALEX, MAYA, make_settings
from tests.support.slack_api import BOT_TOKEN
from tests.support.slack_flows import to_approval
from tests.support.world import SlackWorld


async def until(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    for _ in range(int(seconds / 0.02)):
        if check():
            return True
        await asyncio.sleep(0.02)
    return check()


def pending(engine) -> list[str]:
    with Session(engine) as session:
        return [row.kind for row in session.exec(select(OutboxMessage).where(OutboxMessage.status == "pending"))]


async def test_requests_send_what_people_wait_for_and_leave_bulk_to_the_worker(db, clock, slack_api) -> None:
    settings = make_settings(slack_api, IMPROVE_DELIVERY="worker")
    serving = SlackWorld.build(settings, engine=db, clock=clock, stub=slack_api)
    try:
        card, request = await to_approval(serving)
        await serving.click(request, "approve", MAYA)

        assert "Approved, in progress" in serving.card_now(card)  # the card and the thread went at once
        assert "it's yours" in serving.thread(card)[-1].text_of_blocks
        assert not serving.dms(ALEX)  # the owner's DM is bulk: the worker's
        assert pending(db) == ["dm"]

        worker = build_slack(settings, engine=db, clock=clock)
        async with run_scheduled(worker, poll=0.05):
            assert await until(lambda: len(serving.dms(ALEX)) == 1)
            assert await until(lambda: not pending(db))  # marked sent (bulk rows are marked in batches)
            await asyncio.sleep(0.2)  # polled a few more times: nothing goes twice
        assert len(serving.dms(ALEX)) == 1
    finally:
        await serving.close()


async def test_a_bulk_message_that_holds_up_a_reply_goes_from_the_serving_process(db, clock, slack_api) -> None:
    """The owner's DM at approval comes before the thread messages of the owner's next click: they go in order,
    at once, without waiting for a worker."""
    settings = make_settings(slack_api, IMPROVE_DELIVERY="worker")
    serving = SlackWorld.build(settings, engine=db, clock=clock, stub=slack_api)
    try:
        card, request = await to_approval(serving)
        await serving.click(request, "approve", MAYA)
        assert pending(db) == ["dm"]  # nothing needs it yet: the worker's

        await serving.click_and_submit(serving.thread(card)[-1], "mark_implemented", ALEX, {"metric_now": "3"})

        assert not pending(db)
        assert len(serving.dms(ALEX)) == 1
        assert "Implemented" in serving.card_now(card)
        calls = slack_api.calls
        dm = next(n for n, c in enumerate(calls) if c.method == "chat.postMessage" and c.params["channel"] == ALEX)
        shown = [n for n, c in enumerate(calls) if c.method == "chat.update" and "Implemented" in c.text_of_blocks]
        assert shown and dm < shown[0]  # in the order they were written
    finally:
        await serving.close()


async def test_a_web_app_without_ticks_starts_the_platforms_and_leaves_the_backlog(db, clock, slack_api) -> None:
    from handlers.web import create_web_app

    settings = make_settings(slack_api, IMPROVE_DELIVERY="worker")
    bot = build_slack(settings, engine=db, clock=clock)
    ws = await bot.service.workspace("T0001")
    with transaction(db) as session:
        Outbox(session, ws.id, clock.now()).dm(ALEX, Message(summary="a check-in", blocks=[]))
    web = create_web_app(db, bot, ticks=False)
    async with web.router.lifespan_context(web):
        assert bot.client.session is not None  # started
        await asyncio.sleep(0.3)
        assert not slack_api.of("chat.postMessage")  # no catch-up tick
    assert bot.client.session is None  # stopped
    assert pending(db) == ["dm"]


async def test_a_serving_process_with_a_worker_runs_no_scheduled_work(db, clock, slack_api) -> None:
    settings = make_settings(slack_api, IMPROVE_DELIVERY="worker")
    serving = SlackWorld.build(settings, engine=db, clock=clock, stub=slack_api)
    try:
        ws = await serving.bot.service.workspace("T0001")
        with transaction(db) as session:
            Outbox(session, ws.id, clock.now()).dm(ALEX, Message(summary="a check-in", blocks=[]))
        async with run_scheduled(serving.bot, ticks=False):
            assert serving.bot.client.session is not None  # the platform is started all the same
            await asyncio.sleep(0.3)
            assert not serving.dms(ALEX)  # no catch-up: the worker's
        assert pending(db) == ["dm"]
    finally:
        await serving.close()


async def test_the_worker_delivers_what_is_queued_after_it_started(slack: SlackWorld) -> None:
    ws = await slack.bot.service.workspace("T0001")
    async with run_scheduled(slack.bot, poll=0.05):
        await asyncio.sleep(0.2)  # the catch-up found nothing; no tick is due for a minute
        with transaction(slack.engine) as session:
            Outbox(session, ws.id, slack.clock.now()).dm(ALEX, Message(summary="queued by a click", blocks=[]))
        assert await until(lambda: len(slack.dms(ALEX)) == 1)


def test_worker_without_a_platform_says_so(monkeypatch, tmp_path, capsys) -> None:
    from handlers.cli import main

    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "TEAMS_CLIENT_ID", "TEAMS_CLIENT_SECRET", "TEAMS_TENANT_ID", "TEAMS_DEV_NO_AUTH"):
        monkeypatch.delenv(name, raising=False)
    assert main(["worker"]) == 2
    assert "nothing to deliver to" in capsys.readouterr().err


def test_the_worker_process_delivers_and_stops_cleanly_on_sigterm(db, slack_api, tmp_path) -> None:
    """The real command in its own process: it needs no signing secret, delivers what is pending, answers its
    health check on IMPROVE_PROBE_PORT (a container's), and on SIGTERM releases what it holds and exits 0."""
    import socket
    import urllib.request

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        probe_port = free.getsockname()[1]
    now = datetime.now(UTC)  # the worker runs on the system clock
    with transaction(db) as session:
        ws = Workspace(platform="slack", external_id="T0001", created_at=now)
        session.add(ws)
        session.flush()
        Outbox(session, ws.id or 0, now - timedelta(minutes=1)).dm(ALEX, Message(summary="from a worker", blocks=[]))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IMPROVE_", "TEAMS_"))},
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": slack_api.url,
        "DATABASE_URL": db.url.render_as_string(hide_password=False),
        "IMPROVE_INTAKE_CHANNEL": "C0INTAKE",
        "IMPROVE_SECRET_KEY": "worker-test-secret-key",
        "IMPROVE_PROBE_PORT": str(probe_port),
    }
    worker = subprocess.Popen([sys.executable, "-m", "handlers.cli", "worker"], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        for _ in range(300):
            if slack_api.of("chat.postMessage"):
                break
            time.sleep(0.05)
        answered = None
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{probe_port}/readyz", timeout=2) as response:
                    answered = response.status
                break
            except OSError:
                time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=15)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, output
    assert answered == 200, output
    assert "worker: stopped" in output and "Traceback" not in output
    assert [c.params["channel"] for c in slack_api.of("chat.postMessage")] == [ALEX], output
    assert not pending(db), output
