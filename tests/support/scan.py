"""Where an id is held: every column of every table scanned as text (tests of anonymity and erasure)."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text


def columns_holding(engine: Engine, *marks: str, leave_out: frozenset[str] = frozenset()) -> list[str]:
    """'table.column' of every value that contains any of `marks` (tables in `leave_out` are not read)."""
    found = set()
    with engine.connect() as connection:
        for table in set(inspect(connection).get_table_names()) - leave_out:
            for row in connection.execute(text(f'SELECT * FROM "{table}"')).mappings():
                found |= {f"{table}.{column}" for column, value in row.items() if any(m in str(value) for m in marks)}
    return sorted(found)
