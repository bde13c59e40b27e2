"""What reaches the database is storable, the same on SQLite and PostgreSQL: no NUL, nothing over its column."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from storage.db import ValueTooLong, transaction
from storage.models import Workspace


def test_nul_is_dropped_from_every_text_before_it_is_written(db: Engine) -> None:
    with transaction(db) as session:
        session.add(Workspace(platform="slack", external_id="T\x0001", settings={}, created_at=datetime.now(UTC)))
    with Session(db) as session:
        assert session.exec(select(Workspace.external_id)).one() == "T01"


def test_a_text_longer_than_its_column_is_refused_on_every_database(db: Engine) -> None:
    too_long = Workspace(platform="slack", external_id="T" * 101, settings={}, created_at=datetime.now(UTC))
    with pytest.raises(ValueTooLong, match=r"workspace\.external_id takes at most 100 characters, not 101"):  # noqa: SIM117
        with transaction(db) as session:
            session.add(too_long)
    with Session(db) as session:
        assert session.exec(select(Workspace)).all() == []
