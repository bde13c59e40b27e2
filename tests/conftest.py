"""Shared fixtures: a real database (SQLite in a temp dir, or PostgreSQL via TEST_DATABASE_URL), a fake
clock, the Slack Web API stand-in, and the real app behind signed HTTP requests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import SQLModel

from bot.core.clock import FakeClock
from bot.core.config import Settings, load_settings
from storage.db import make_engine, upgrade
from tests.support import validators
from tests.support.slack_api import BOT_TOKEN, SlackApiStub
from tests.support.slack_requests import SIGNING_SECRET
from tests.support.world import SlackWorld

INTAKE = "C0INTAKE"
WINS = "C0WINS"
MAYA = "U0MAYA"  # an approver
SAM = "U0SAM"  # an approver through the user group
ALEX = "U0ALEX"  # a rep
JO = "U0JO"  # another rep
APPROVER_GROUP = "S0LEADS"


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    else:
        path: Path = tmp_path_factory.mktemp("db") / "test.db"
        engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Engine]:
    """The migrated database, emptied before each test."""
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
    yield engine


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # a Monday


@pytest.fixture
def slack_api(clock: FakeClock) -> Iterator[SlackApiStub]:
    stub = SlackApiStub(groups={APPROVER_GROUP: [SAM]}, users={MAYA: {"is_admin": True}})
    stub.now = lambda: clock.now().timestamp()  # the messages it posts are stamped in the test's time
    stub.start()
    yield stub
    stub.stop()
    problems = [
        f"{call.method}: {problem}"
        for call in stub.calls
        for problem in validators.slack_call(call.method, call.params)
    ]
    assert problems == [], "the bot sent Slack payloads Slack's own models refuse"


TEST_SECRET_KEY = "test-only-secret-key-of-this-suite"


def make_settings(slack_api: SlackApiStub, **overrides: str) -> Settings:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api.url,
        "DATABASE_URL": "sqlite://",
        "IMPROVE_INTAKE_CHANNEL": INTAKE,
        "IMPROVE_WINS_CHANNEL": WINS,
        "IMPROVE_APPROVERS": f"{MAYA},{APPROVER_GROUP}",
        "IMPROVE_HOURLY_RATE": "50",
        "IMPROVE_SECRET_KEY": TEST_SECRET_KEY,
        # Slack's real pacing (1 post a second per channel) would make the suite crawl: tests of pacing set it
        "IMPROVE_SLACK_POSTS_PER_SECOND": "1000",
        "IMPROVE_SLACK_CHANNEL_POSTS_PER_SECOND": "100",
        "IMPROVE_SLACK_CHANNEL_BURST": "100",
        **overrides,
    }
    return load_settings(env)


@pytest.fixture
def settings(slack_api: SlackApiStub) -> Settings:
    return make_settings(slack_api)


@pytest.fixture
async def slack(db: Engine, clock: FakeClock, slack_api: SlackApiStub, settings: Settings) -> AsyncIterator[SlackWorld]:
    world = SlackWorld.build(settings, engine=db, clock=clock, stub=slack_api)
    yield world
    await world.close()


@pytest.fixture(scope="session")
def teams_keys():
    from tests.support.teams_world import KeyServer

    keys = KeyServer()
    yield keys
    keys.close()


@pytest.fixture
def connector():
    from tests.support.teams_connector import ConnectorStub

    stub = ConnectorStub()
    yield stub
    stub.close()
    problems = [problem for call in stub.calls for card in call.cards for problem in validators.adaptive_card(card)]
    assert problems == [], "the bot sent Adaptive Cards Microsoft's schema refuses"


@pytest.fixture
async def teams(db: Engine, clock: FakeClock, connector, teams_keys):
    from tests.support.teams_world import ALEX, JO, MAYA, TeamsWorld, teams_settings

    connector.roster = {p.aad: {"id": p.id, "name": p.name} for p in (ALEX, MAYA, JO)}  # the team's members
    world = TeamsWorld(teams_settings(teams_keys), engine=db, clock=clock, connector=connector, keys=teams_keys)
    yield world
    await world.close()
    answered = [problem for card in world.answered_cards for problem in validators.adaptive_card(card)]
    assert answered == [], "the bot answered invokes with Adaptive Cards Microsoft's schema refuses"
