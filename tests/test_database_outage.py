"""A database that stalls or goes away for 20 s: every request is still answered within Slack's 3 s, the person
is told to try again, /healthz says the database is down, a thread reply is handed back to Slack to send again,
nothing is saved while the person is told it failed, and everything works again afterwards without a restart.
SQLite: another process holds the write lock. PostgreSQL: a TCP proxy in front of the shared server is closed and
reopened (the server itself never stops)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url
from sqlmodel import Session, func, select

from bot.core.outcomes import UNAVAILABLE
from storage.db import make_engine
from storage.models import Improvement, Why
from tests.conftest import ALEX
from tests.support import slack_requests as rq
from tests.support.tcp_proxy import TcpProxy
from tests.support.world import REPORT_DEFAULTS, SlackWorld, find_button, settle

OUTAGE = 20.0  # seconds
SLACK_DEADLINE = 3.0


async def timed(request: Any) -> tuple[float, httpx.Response]:
    started = asyncio.get_running_loop().time()
    response = await request
    return asyncio.get_running_loop().time() - started, response


async def walk_through_an_outage(slack: SlackWorld, start: Callable[[], None], end: Callable[[], None]) -> None:
    card = await slack.report(ALEX)
    await slack.reply(card.ts, "Two web forms", ALEX)
    why2 = slack.thread(card)[-1]
    view = await slack.command("", ALEX)  # a form opened before the database went away
    report = rq.view_submission(view, rq.state_for(view, {**REPORT_DEFAULTS, "problem": "Proposals late"}), ALEX)
    answer = rq.message_event("Sales and marketing each built one", ALEX, channel="C0INTAKE", thread_ts=card.ts,
                              event_id="Ev0OUTAGE", ts="1800000000.000777")  # fmt: skip
    click = rq.block_action("root_cause", find_button(why2, "root_cause")["value"], ALEX, channel="C0INTAKE",
                            message_ts=why2.ts, thread_ts=card.ts)  # fmt: skip

    def post(request: tuple[bytes, str]) -> Any:
        body, content_type = request
        return slack.http.post("/slack/events", content=body, headers={"Content-Type": content_type, **rq.sign(body)})

    start()
    began = asyncio.get_running_loop().time()
    try:
        during = await asyncio.gather(
            timed(post(report)), timed(post(answer)), timed(post(click)), timed(slack.http.get("/healthz"))
        )
        await settle()
        (t_report, submitted), (t_answer, answered), (t_click, clicked), (t_health, health) = during
        assert max(t_report, t_answer, t_click, t_health) < SLACK_DEADLINE, during
        assert submitted.json() == {"response_action": "errors", "errors": {"problem": UNAVAILABLE}}
        assert answered.status_code == 503  # Slack sends the event again
        assert clicked.status_code == 200 and slack.ephemerals(ALEX)[-1] == UNAVAILABLE
        assert health.status_code == 503 and health.json()["database"] == "unavailable"
        await asyncio.sleep(max(0.0, OUTAGE - (asyncio.get_running_loop().time() - began)))
    finally:
        end()

    assert (await slack.http.get("/healthz")).status_code == 200
    retried = await slack.send(answer, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"})
    assert retried.status_code == 200
    assert (await post(report)).status_code == 200  # the same form, sent again: saved now, once
    await slack.send(click)  # Why #2's button, now that the retried answer has asked Why #3: refused, not guessed
    await settle()
    assert any("the 5 Whys have moved on" in said for said in slack.ephemerals(ALEX))
    await slack.click(slack.thread(card)[-1], "root_cause", ALEX)  # the latest why's button
    with Session(slack.engine) as session:
        assert session.exec(select(func.count()).select_from(Improvement)).one() == 2
        answers = session.exec(select(Why.answer).where(Why.improvement_id == 1).order_by(Why.position)).all()
        assert answers == ["Two web forms", "Sales and marketing each built one"]
    assert "Root cause of #1" in slack.thread(card)[-1].text_of_blocks


async def test_a_sqlite_lock_held_for_20_seconds(slack: SlackWorld) -> None:
    if slack.engine.dialect.name != "sqlite":
        pytest.skip("a SQLite lock")
    holder = sqlite3.connect(make_url(slack.engine.url).database or "", isolation_level=None, timeout=5)

    def lock() -> None:
        holder.execute("BEGIN IMMEDIATE")  # another process writing for 20 s

    def unlock() -> None:
        holder.execute("ROLLBACK")

    try:
        await walk_through_an_outage(slack, lock, unlock)
    finally:
        holder.close()


async def test_postgresql_unreachable_for_20_seconds(db, clock, slack_api, settings) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL server behind a proxy")
    proxy = TcpProxy((db.url.host or "127.0.0.1", db.url.port or 5432))
    engine = make_engine(db.url.set(port=proxy.port).render_as_string(hide_password=False))
    world = SlackWorld.build(settings, engine=engine, clock=clock, stub=slack_api)
    try:
        await walk_through_an_outage(world, proxy.close, proxy.open)
    finally:
        await world.close()
        proxy.close()
        engine.dispose()
