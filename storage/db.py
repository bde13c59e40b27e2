"""Engine, sessions and migrations. SQLite file by default, PostgreSQL through DATABASE_URL."""

from __future__ import annotations

import asyncio
import functools
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, event, make_url
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, create_engine

MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")


def normalize_url(url: str) -> str:
    """Accept the usual spellings of a PostgreSQL URL and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, timeout: float = 1.0, pool_size: int = 10) -> Engine:
    """`timeout`: how long a statement may wait for a lock (SQLite's busy timeout, PostgreSQL's lock timeout),
    for a connection, and for a pool slot; past it the database is "unavailable" and the person is told so."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": timeout},
                               hide_parameters=True)  # fmt: skip

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below take effect
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Connection) -> None:
            # Take the write lock up front: read-then-write transactions are serialized instead of failing
            # with "database is locked" when two requests race (PostgreSQL uses row locks for the same).
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    own = f"-c lock_timeout={int(timeout * 1000)} -c statement_timeout={STATEMENT_TIMEOUT_MS}"
    given = make_url(url).query.get("options")  # a URL's own options (a search_path, say) are kept
    connect = {
        "connect_timeout": max(2, round(timeout)),
        "options": f"{given} {own}" if isinstance(given, str) else own,
        # a server that stops answering mid-query (frozen, a dropped network) is given up on, not waited for
        "tcp_user_timeout": max(2000, int(timeout * 2000)),
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 2,
    }
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=2 * pool_size,
                         pool_timeout=timeout, connect_args=connect, hide_parameters=True)  # fmt: skip


STATEMENT_TIMEOUT_MS = 30_000  # no query of ours runs this long; one that does is stopped, not waited for


class Unavailable(Exception):
    """The database did not answer in time, or could not (down, locked, disk full): try again in a minute."""


DOWN = (OperationalError, InterfaceError, PoolTimeout)  # down, locked, full or out of connections


class _Dropped(Exception):
    pass


class _Job:
    def __init__(self, fn: Callable[[], Any]) -> None:
        self._fn = fn
        self._lock = threading.Lock()
        self._state = "queued"

    def __call__(self) -> Any:
        with self._lock:
            if self._state == "dropped":
                raise _Dropped
            self._state = "started"
        return self._fn()

    def drop(self) -> bool:
        """True when it had not started, and now never will."""
        with self._lock:
            if self._state == "queued":
                self._state = "dropped"
                return True
            return False


def _observed(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class Runner:
    """Database work on worker threads of its own, off the event loop and apart from anything else's threads. A
    job that has not started within `wait` seconds is dropped (it never runs); one that has started is waited for,
    bounded by the database's own timeouts. So the caller is told "saved" or "not saved" truthfully: never "not
    saved" about something that commits a moment later."""

    def __init__(self, *, workers: int = 8, wait: float = 0.5, name: str = "db") -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self._wait = wait

    async def transaction(self, engine: Engine, fn: Callable[[Session], T]) -> T:
        """`fn(session)` in one transaction (storage.db.transaction), on a worker (see `run`)."""

        def in_transaction() -> T:
            with transaction(engine) as session:
                return fn(session)

        return await self.run(in_transaction)

    async def run(self, fn: Callable[[], T]) -> T:
        job = _Job(fn)
        future = asyncio.wrap_future(self._pool.submit(job))
        try:
            try:
                return await asyncio.wait_for(asyncio.shield(future), self._wait)
            except TimeoutError:
                if job.drop():
                    future.add_done_callback(_observed)  # the dropped job's own exception is expected
                    raise Unavailable("no database worker was free in time") from None
                return await future
            except asyncio.CancelledError:
                job.drop()  # nobody waits for it any more: if it has not started, it never will
                raise
        except DOWN as exc:
            raise Unavailable(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]) from None


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL (PostgreSQL refuses it), lone surrogates (no UTF-8 has them)


class ValueTooLong(Exception):  # not a ValueError: that would read as a stale form
    """A value longer than its column: refused the same on SQLite (which would store it) and PostgreSQL."""


@event.listens_for(Session, "before_flush")
def _storable(session: Session, _context: Any, _instances: Any) -> None:
    """The last line of defence behind validation: no NUL or lone surrogate in any text, no text longer than its
    column, identically on both databases."""
    for row in (*session.new, *session.dirty):
        table = getattr(row, "__table__", None)
        if table is None:
            continue
        for column in table.columns:
            value = getattr(row, column.key, None)
            if not isinstance(value, str):
                continue
            storable = _UNSTORABLE.sub("", value)
            if storable != value:
                value = storable
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


MIGRATIONS_PENDING = "migrations pending"  # what /readyz says of a schema that is not this version's


@functools.cache
def _heads() -> frozenset[str]:
    """This code's migration heads (read from the migration files once)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def pending_migrations(engine: Engine) -> bool:
    """Whether the schema is behind (or ahead of) this code's migrations: an instance of another version."""
    heads = _heads()
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads()) != heads


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to date (runs on every start; a no-op when it already is)."""
    command.upgrade(alembic_config(engine), revision)


class Health:
    """`/healthz`: can the database be written, checked on a connection and a thread of its own, so a busy request
    pool or a long lock elsewhere cannot hold the answer up, and a full disk or read-only database shows."""

    def __init__(self, engine: Engine, *, timeout: float) -> None:
        self._engine = make_engine(engine.url.render_as_string(hide_password=False), timeout=timeout, pool_size=1)
        self._runner = Runner(workers=1, wait=timeout / 2, name="health")

    def _write(self) -> None:
        from storage.models import HealthCheck  # the tables are defined after the engine helpers

        try:
            with transaction(self._engine) as session:
                row = session.get(HealthCheck, 1) or HealthCheck(id=1)
                row.checked_at = datetime.now(UTC)
                session.add(row)
        except IntegrityError:
            pass  # another instance wrote the first row at the same moment: the database writes

    async def ready(self) -> str | None:
        """`/readyz`: None when the database writes and its schema is this code's; otherwise what is wrong."""
        problem = await self.problem()
        if problem is not None:
            return problem
        try:
            behind = await self._runner.run(lambda: pending_migrations(self._engine))
        except (Unavailable, SQLAlchemyError) as exc:
            return type(exc).__name__
        return MIGRATIONS_PENDING if behind else None

    async def problem(self) -> str | None:
        """None when a write went through; otherwise what stopped it, in a few words (for the log only: it can
        name the database's host)."""
        try:
            await self._runner.run(self._write)
        except Unavailable as exc:
            return str(exc)[:200] or "unavailable"
        except SQLAlchemyError as exc:
            return type(exc).__name__
        return None
