"""Running it like a service (issue 13, #5): /readyz says whether this instance can take traffic (the database
writes, its schema is this version's), /metrics speaks Prometheus' text format, ticks are counted, and
IMPROVE_LOG_FORMAT=json writes one JSON object a line."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from handlers.logs import configure_logging
from handlers.web import create_web_app, run_scheduled
from storage.db import make_engine, upgrade
from tests.conftest import ALEX
from tests.support.world import REPORT_DEFAULTS, SlackWorld


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page, by name and labels (parsed by prometheus-client's own parser)."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip


async def test_readyz_is_ready_on_a_current_schema(slack: SlackWorld) -> None:
    response = await slack.http.get("/readyz")
    assert response.status_code == 200 and response.json()["migrations"] == "current"


async def test_readyz_refuses_traffic_while_migrations_are_pending(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0014")  # a database one release behind this code
    web = create_web_app(engine, scheduled=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bot.test") as http:
        behind = await http.get("/readyz")
        assert behind.status_code == 503 and behind.json() == {"status": "error", "database": "migrations pending"}
        assert (await http.get("/healthz")).status_code == 200  # alive all the same: not a reason to restart it
        upgrade(engine)
        assert (await http.get("/readyz")).status_code == 200
    engine.dispose()


async def test_metrics_count_requests_by_kind_and_show_the_outbox(slack: SlackWorld) -> None:
    slack.stub.fail("chat.postMessage", times=20, status=500)  # Slack is down: the card waits in the outbox
    view = await slack.command("", ALEX)
    await slack.submit(view, {**REPORT_DEFAULTS, "problem": "Leads arrive in the CRM twice"}, ALEX)
    await slack.http.get("/healthz")

    response = await slack.http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    assert samples[("improvebot_request_seconds_count", (("kind", "slack"),))] >= 2  # the command and the form
    assert samples[("improvebot_request_seconds_count", (("kind", "healthz"),))] == 1
    assert samples[("improvebot_outbox_backlog", ())] >= 1
    assert samples[("improvebot_outbox_oldest_pending_seconds", ())] > 0
    assert samples[("improvebot_database_up", ())] == 1
    assert samples[("improvebot_deliveries_total", (("result", "failed"),))] >= 1  # the card Slack refused
    assert ("improvebot_due_rows", (("kind", "checkin"),)) in samples


async def test_metrics_still_answer_when_the_database_cannot_be_read(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gone' / 'nowhere.db'}")  # a directory that does not exist
    web = create_web_app(engine, scheduled=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bot.test") as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    samples = _samples(response.text)
    assert samples[("improvebot_database_up", ())] == 0 and ("improvebot_outbox_backlog", ()) not in samples


async def test_ticks_are_counted_by_result(slack: SlackWorld) -> None:
    results: list[str] = []
    async with run_scheduled(slack.bot, on_tick=results.append):
        for _ in range(100):
            if results:
                break
            await asyncio.sleep(0.05)
    assert results == ["ok"]  # the catch-up tick at start


def test_json_logs_are_one_object_a_line(tmp_path: Path) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    path = tmp_path / "bot.log"
    try:
        configure_logging("info", file=str(path), fmt="json")
        logging.getLogger("improvebot.test").warning("line one\nforged line %s", "x" * 3000)
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("improvebot.test").exception("it failed")
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.level = handlers, level
    lines = path.read_text().splitlines()
    first, second = (json.loads(line) for line in lines)  # two records, two lines: nothing forged
    assert first["level"] == "WARNING" and first["logger"] == "improvebot.test" and "time" in first
    assert first["message"].startswith("line one\nforged line") and "more characters" in first["message"]
    assert second["message"] == "it failed" and "ValueError: boom" in second["exc_info"]


async def test_a_client_that_leaves_mid_body_is_no_error_and_is_not_timed_as_an_answer(slack: SlackWorld) -> None:
    app = slack.http._transport.app  # type: ignore[attr-defined]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/slack/events", "raw_path": b"/slack/events", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"bot.test"), (b"content-type", b"application/json"), (b"content-length", b"1000")],
             "client": ("127.0.0.1", 5000), "server": ("bot.test", 80)}  # fmt: skip
    arrivals = iter([{"type": "http.request", "body": b'{"a": ', "more_body": True}, {"type": "http.disconnect"}])
    sent: list[dict] = []

    async def receive() -> dict:
        return next(arrivals, {"type": "http.disconnect"})

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)  # raises nothing

    assert not [m for m in sent if m["type"] == "http.response.start" and m["status"] >= 500]
    page = _samples((await slack.http.get("/metrics")).text)
    assert ("improvebot_request_seconds_count", (("kind", "slack"),)) not in page or page[
        ("improvebot_request_seconds_count", (("kind", "slack"),))] == 0  # fmt: skip
