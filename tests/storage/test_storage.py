"""The schema: migrations build exactly the tables the models describe; numbering is per workspace."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlmodel import SQLModel

from bot.core.workspace import WorkspaceSettings, ensure_workspace
from storage import queries
from storage.db import normalize_url, transaction

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_migrations_match_the_models(db: Engine) -> None:
    with db.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_numbers_are_per_workspace_and_never_repeat(db: Engine) -> None:
    settings = WorkspaceSettings(intake_channel="C0INTAKE")
    with transaction(db) as session:
        acme = ensure_workspace(session, "slack", "T0ACME", settings, NOW)
        other = ensure_workspace(session, "slack", "T0OTHER", settings, NOW)
        teams = ensure_workspace(session, "teams", "T0ACME", settings, NOW)  # same id, other platform
        numbers = [queries.next_number(session, acme.id) for _ in range(3)]
        numbers += [queries.next_number(session, other.id), queries.next_number(session, teams.id)]
    assert numbers == [1, 2, 3, 1, 1]
    assert len({acme.id, other.id, teams.id}) == 3


def test_postgres_urls_use_psycopg() -> None:
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"
