"""Engine, sessions and migrations. SQLite file by default, PostgreSQL through DATABASE_URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, event
from sqlmodel import Session, create_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def normalize_url(url: str) -> str:
    """Accept the usual spellings of a PostgreSQL URL and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below take effect
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Connection) -> None:
            # Take the write lock up front: read-then-write transactions are serialized instead of failing
            # with "database is locked" when two requests race (PostgreSQL uses row locks for the same).
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class ValueTooLong(ValueError):
    """A value longer than its column: refused the same on SQLite (which would store it) and PostgreSQL."""


@event.listens_for(Session, "before_flush")
def _storable(session: Session, _context: Any, _instances: Any) -> None:
    """The last line of defence behind validation: no NUL in any text (PostgreSQL refuses it), no text longer
    than its column, identically on both databases."""
    for row in (*session.new, *session.dirty):
        table = getattr(row, "__table__", None)
        if table is None:
            continue
        for column in table.columns:
            value = getattr(row, column.key, None)
            if not isinstance(value, str):
                continue
            if "\x00" in value:
                value = value.replace("\x00", "")
                setattr(row, column.key, value)
            limit = getattr(column.type, "length", None)
            if limit is not None and len(value) > limit:
                raise ValueTooLong(f"{table.name}.{column.name} takes at most {limit} characters, not {len(value)}")


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to date (runs on every start; a no-op when it already is)."""
    command.upgrade(alembic_config(engine), revision)
