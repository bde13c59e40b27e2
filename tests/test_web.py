"""The HTTP server's own endpoints."""

from __future__ import annotations

from tests.support.world import SlackWorld


async def test_healthz_reports_the_database(slack: SlackWorld) -> None:
    response = await slack.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_unknown_paths_and_methods_are_refused(slack: SlackWorld) -> None:
    assert (await slack.http.get("/slack/events")).status_code == 405
    assert (await slack.http.get("/nope")).status_code == 404
