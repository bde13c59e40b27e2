"""Migrations 0010 and 0012 on an existing database: free-text baselines, targets and readings become numbers where
they parse and keep their text where they do not; approved fixes get their case locked; live cycles are dated; the
first approval is dated from the decisions."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from storage.db import alembic_config, make_engine, upgrade

SCHEMA = "migration_numbers"


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


@pytest.fixture
def old_db(tmp_path: Path) -> Iterator[Engine]:
    """A database at revision 0009 (before numbers), in its own schema on PostgreSQL."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        admin = make_engine(url)
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        engine = make_engine(f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{SCHEMA}")
    else:
        admin, engine = None, make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0009")
    yield engine
    engine.dispose()
    if admin is not None:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        admin.dispose()


T0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)


def _improvement(connection, id_: int, status: str, **values) -> None:
    row = {"id": id_, "workspace_id": 1, "number": id_, "status": status, "problem": "Leads arrive twice",
           "area": "Sales", "frequency": "weekly", "hours_per_week": 2, "people": 10, "customers_notice": False,
           "reporter_id": "U0ALEX", "channel_id": "C0INTAKE", "approval_round": 1, "cycle": 0, "anonymous": False,
           "created_at": T0, "updated_at": T0, **values}  # fmt: skip
    columns = ", ".join(row)
    connection.execute(text(f"INSERT INTO improvement ({columns}) VALUES ({', '.join(':' + c for c in row)})"), row)


def _checkin(connection, id_: int, improvement: int, cycle: int, due: datetime, after: int, **values) -> None:
    row = {"id": id_, "workspace_id": 1, "improvement_id": improvement, "owner_id": "U0ALEX", "cycle": cycle,
           "position": 1, "of": 3, "after_days": after, "tz": "UTC", "status": "answered", "due_at": due,
           "snoozes": 0, **values}  # fmt: skip
    columns = ", ".join(f'"{c}"' for c in row)
    connection.execute(text(f"INSERT INTO checkin ({columns}) VALUES ({', '.join(':' + c for c in row)})"), row)


def test_old_rows_become_numbers_where_they_parse(old_db: Engine) -> None:
    with old_db.begin() as connection:
        connection.execute(text("INSERT INTO workspace (id, platform, external_id, settings, last_number, created_at) "
                                "VALUES (1, 'slack', 'T1', :settings, 3, :at)"),
                           {"settings": '{"hourly_rate": 72.5, "currency": "€"}', "at": T0})  # fmt: skip
        # live: 40/week -> under 5/week, read 3/week at implementation and 2/week at a check-in
        _improvement(connection, 1, "implemented", baseline="40/week", target="under 5/week", metric_now="2/week",
                     approved_by="U0MAYA", implemented_at=datetime(2026, 10, 12, 9, tzinfo=UTC))  # fmt: skip
        _checkin(connection, 1, 1, 0, datetime(2026, 10, 19, 10, tzinfo=UTC), 7, answer="holding", reading="2/week",
                 answered_at=datetime(2026, 10, 19, 11, tzinfo=UTC))  # fmt: skip
        # words that are no number stay text; it slipped once and was fixed again
        _improvement(connection, 2, "implemented", baseline="about half", target="most", metric_now="better",
                     approved_by="U0MAYA", cycle=1, implemented_at=datetime(2026, 11, 2, 9, tzinfo=UTC))  # fmt: skip
        _checkin(connection, 2, 2, 0, datetime(2026, 10, 19, 10, tzinfo=UTC), 7, answer="slipping",
                 answered_at=datetime(2026, 10, 20, 9, tzinfo=UTC))  # fmt: skip
        # never approved: nothing locked
        _improvement(connection, 3, "awaiting_approval", baseline="10%", target="60%")
        approved = {"at": datetime(2026, 10, 6, 9, tzinfo=UTC)}
        connection.execute(text("INSERT INTO decision (improvement_id, round, kind, actor_id, created_at) "
                                "VALUES (1, 1, 'approved', 'U0MAYA', :at)"), approved)  # fmt: skip
        again = {"at": datetime(2026, 11, 9, tzinfo=UTC)}  # approved again after an edit
        connection.execute(text("INSERT INTO decision (improvement_id, round, kind, actor_id, created_at) "
                                "VALUES (1, 2, 'approved', 'U0MAYA', :at)"), again)  # fmt: skip

    upgrade(old_db)

    with old_db.connect() as connection:
        rows = {r.id: r for r in connection.execute(text("SELECT * FROM improvement ORDER BY id"))}
        cycles = connection.execute(text("SELECT improvement_id, cycle, implemented_at, ended_at, ended_because "
                                         "FROM fix_cycle ORDER BY improvement_id, cycle")).all()  # fmt: skip
        readings = connection.execute(text("SELECT improvement_id, source, value, text FROM reading "
                                           "ORDER BY improvement_id, id")).all()  # fmt: skip
    first, words, unapproved = rows[1], rows[2], rows[3]
    assert (first.baseline_value, first.target_value, first.metric_unit) == (40, 5, "/week")
    assert first.metric_direction == "lower"
    assert first.metric_now_value == 2 and first.baseline == "40/week"  # the text stays beside (a downgrade keeps it)
    assert (first.approved_hours_per_year, first.approved_hourly_rate, first.approved_currency) == (1040, 72.5, "€")
    assert str(first.approved_at).startswith("2026-10-06 09:00")
    assert str(first.first_approved_at).startswith("2026-10-06 09:00")  # 0012: its first approval, not a later one
    assert (words.baseline_value, words.target_value, words.metric_now_value) == (None, None, None)
    assert (words.baseline, words.target, words.metric_now) == ("about half", "most", "better")
    assert (unapproved.baseline_value, unapproved.target_value, unapproved.metric_direction) == (10, 60, "higher")
    assert unapproved.approved_hours_per_year is None and unapproved.approved_at is None
    assert unapproved.first_approved_at is None and words.first_approved_at is None
    assert [(c.improvement_id, c.cycle, str(c.implemented_at)[:16], c.ended_because) for c in cycles] == [
        (1, 0, "2026-10-12 09:00", None),
        (2, 0, "2026-10-12 10:00", "slipped"),  # dated from its check-in: due 7 days after it went live
        (2, 1, "2026-11-02 09:00", None),
    ]
    assert [(r.improvement_id, r.source, r.value, r.text) for r in readings] == [
        (1, "checkin", 2, None),  # the check-in's reading (the implemented one was overwritten by it, long ago)
        (2, "implemented", None, "better"),  # no check-in reading: the last reading, as text
    ]


def test_a_downgrade_keeps_numbers_typed_since_as_text(old_db: Engine) -> None:
    with old_db.begin() as connection:
        connection.execute(text("INSERT INTO workspace (id, platform, external_id, settings, last_number, created_at) "
                                "VALUES (1, 'slack', 'T1', '{}', 1, :at)"), {"at": T0})  # fmt: skip
        _improvement(connection, 1, "awaiting_approval")
    upgrade(old_db)
    with old_db.begin() as connection:  # a proposal made after the upgrade: numbers only
        numbers = "baseline_value = 40, target_value = 5.5, metric_unit = '/week', metric_now_value = 12"
        connection.execute(text(f"UPDATE improvement SET {numbers} WHERE id = 1"))

    downgrade(old_db, "0009")

    with old_db.connect() as connection:
        row = connection.execute(text("SELECT baseline, target, metric_now FROM improvement")).one()
    assert tuple(row) == ("40/week", "5.5/week", "12/week")


def test_duplicates_closed_before_voices_become_voices(old_db: Engine) -> None:
    with old_db.begin() as connection:
        connection.execute(text("INSERT INTO workspace (id, platform, external_id, settings, last_number, created_at) "
                                "VALUES (1, 'slack', 'T1', '{}', 4, :at)"), {"at": T0})  # fmt: skip
        _improvement(connection, 1, "investigating", people=11)  # Alex's; Jo's and Sam's duplicates joined it
        closed = {"closed_reason": "duplicate", "duplicate_of": 1, "closed_at": T0, "reopen_status": "investigating"}
        _improvement(connection, 2, "closed", reporter_id="U0JO", **closed)
        _improvement(connection, 3, "closed", reporter_id="U0SAM", **closed)
        _improvement(connection, 4, "closed", **closed)  # Alex's own duplicate: Alex counts already

    upgrade(old_db)

    with old_db.connect() as connection:
        voices = connection.execute(text("SELECT improvement_id, user_id, counted, source FROM me_too "
                                         "ORDER BY user_id")).all()  # fmt: skip
        counts = dict(connection.execute(text("SELECT id, me_too FROM improvement")).all())
    assert [(v.improvement_id, v.user_id, bool(v.counted), v.source) for v in voices] == [
        (1, "U0JO", True, "duplicate"),
        (1, "U0SAM", True, "duplicate"),
    ]
    assert counts == {1: 2, 2: 0, 3: 0, 4: 0}


def test_fixes_reopened_twice_and_loud_problems_are_chronic_after_0014(old_db: Engine) -> None:
    upgrade(old_db, "0013")
    with old_db.begin() as connection:
        connection.execute(text("INSERT INTO workspace (id, platform, external_id, settings, last_number, created_at) "
                                "VALUES (1, 'slack', 'T1', '{}', 4, :at)"), {"at": T0})  # fmt: skip
        _improvement(connection, 1, "approved", cycle=2)
        _improvement(connection, 2, "investigating", me_too=5)
        _improvement(connection, 3, "approved", cycle=1, me_too=4)
        _improvement(connection, 4, "approved", cycle=3, me_too=9)

    upgrade(old_db)

    with old_db.connect() as connection:
        marks = dict(connection.execute(text("SELECT id, chronic FROM improvement")).all())
    assert marks == {1: "reopened", 2: "voices", 3: None, 4: "reopened"}
    downgrade(old_db, "0013")
    with old_db.connect() as connection:
        columns = list(connection.execute(text("SELECT * FROM improvement")).keys())
    assert "chronic" not in columns and "me_too" in columns
