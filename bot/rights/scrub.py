"""Find and replace one person's id in every text and JSON column of a workspace's rows: the one place that
knows which tables belong to a workspace (directly, or through their improvement)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import JSON, Column, String, Table, Text, cast, or_, select, update
from sqlmodel import Session, SQLModel
from sqlmodel.sql.sqltypes import AutoString

from storage.models import Improvement

Replace = Callable[[str], str]


def pattern(user: str) -> re.Pattern[str]:
    """`user` as a whole id (U0AL is not found inside U0ALEX)."""
    return re.compile(rf"(?<![\w-]){re.escape(user)}(?![\w-])")


def _texts(table: Table) -> list[Column[Any]]:
    return [c for c in table.columns if isinstance(c.type, String | Text | JSON | AutoString) and not c.primary_key]


def _scope(table: Table, workspace_id: int) -> Any:
    """The condition that keeps `table`'s rows to the workspace's; None for a table that belongs to none."""
    if table.name == "workspace":
        return table.c.id == workspace_id
    if "workspace_id" in table.c:
        return table.c.workspace_id == workspace_id
    if "improvement_id" in table.c:
        mine = select(Improvement.id).where(Improvement.workspace_id == workspace_id)  # type: ignore[call-overload]
        return table.c.improvement_id.in_(mine)
    return None


def _swap(value: Any, find: re.Pattern[str], to: str) -> Any:
    if isinstance(value, str):
        return find.sub(to, value)
    if value is None:
        return None
    return json.loads(find.sub(to, json.dumps(value, ensure_ascii=False)))  # a JSON column's structure


def places(session: Session, workspace_id: int, user: str) -> Iterator[tuple[Table, Any, dict[str, Any]]]:
    """(table, primary key, {column: value}) of every row of the workspace that holds `user` in a text column."""
    find = pattern(user)
    for table in SQLModel.metadata.sorted_tables:
        scope, columns = _scope(table, workspace_id), _texts(table)
        if scope is None or not columns or "id" not in table.c:
            continue
        like = or_(*(cast(c, Text).contains(user) for c in columns))
        for row in session.execute(select(table.c.id, *columns).where(scope, like)).mappings():
            found = {
                c.name: row[c.name]
                for c in columns
                if row[c.name] is not None
                and find.search(
                    str(
                        json.dumps(row[c.name], ensure_ascii=False) if not isinstance(row[c.name], str) else row[c.name]
                    )
                )
            }
            if found:
                yield table, row["id"], found


def replace(session: Session, workspace_id: int, user: str, to: str) -> int:
    """Replace `user` by `to` in every text column of the workspace's rows; returns how many values changed."""
    find, changed = pattern(user), 0
    for table, key, values in list(places(session, workspace_id, user)):
        session.execute(
            update(table).where(table.c.id == key).values({k: _swap(v, find, to) for k, v in values.items()})
        )
        changed += len(values)
    return changed
