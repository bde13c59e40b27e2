"""The PostgreSQL server the benchmarks create their databases on: whether it can be used, and its admin engine."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, text

from storage.db import normalize_url


def postgres_admin(url: str) -> Engine:
    return create_engine(normalize_url(url), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})


def postgres_problem(url: str) -> str | None:
    """None if the server answers and lets us create databases, else why not."""
    admin = postgres_admin(url)
    try:
        with admin.connect() as connection:
            can = connection.execute(
                text("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")
            ).scalar()
            return None if can else "the role may not create databases"
    except Exception as exc:  # any failure to connect means: skip PostgreSQL, say why
        lines = str(exc).strip().splitlines()
        return f"{type(exc).__name__}: {lines[0] if lines else ''}"
    finally:
        admin.dispose()
