"""Find and replace one person's id (or a name of theirs) in every text and JSON column of a workspace's rows:
the one place that knows which tables belong to a workspace (directly, or through their improvement)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import JSON, Column, String, Table, Text, cast, or_, select, update
from sqlmodel import Session, SQLModel
from sqlmodel.sql.sqltypes import AutoString

from storage.models import Improvement


def as_id(user: str) -> re.Pattern[str]:
    """`user` as a whole id: U0AL is not found inside U0ALEX, nor @alex inside @alex.b or x@alex."""
    return re.compile(rf"(?<![\w.@-]){re.escape(user)}(?![\w-]|\.\w)")


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


def _text_of(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _swap(value: Any, find: re.Pattern[str], to: str) -> Any:
    if isinstance(value, str):
        return find.sub(to, value)
    return json.loads(find.sub(json.dumps(to)[1:-1], json.dumps(value, ensure_ascii=False)))  # a JSON column


def places(
    session: Session, workspace_id: int, needle: str, find: re.Pattern[str]
) -> Iterator[tuple[Table, Any, dict[str, Any]]]:
    """(table, primary key, {column: value}) of every row of the workspace where `find` matches a text column
    (`needle`: the plain text it finds, to narrow the rows down in the database first)."""
    spelled = {needle, json.dumps(needle)[1:-1]}  # JSON may be stored with non-ASCII escaped
    for table in SQLModel.metadata.sorted_tables:
        scope, columns = _scope(table, workspace_id), _texts(table)
        if scope is None or not columns or "id" not in table.c:
            continue
        like = or_(*(cast(c, Text).contains(s) for c in columns for s in spelled))
        for row in session.execute(select(table.c.id, *columns).where(scope, like)).mappings():
            found = {c.name: row[c.name] for c in columns
                     if row[c.name] is not None and find.search(_text_of(row[c.name]))}  # fmt: skip
            if found:
                yield table, row["id"], found


def replace(session: Session, workspace_id: int, needle: str, find: re.Pattern[str], to: str) -> int:
    """Replace what `find` matches by `to` in every text column of the workspace's rows; how many values changed."""
    changed = 0
    for table, key, values in list(places(session, workspace_id, needle, find)):
        swapped = {name: _swap(value, find, to) for name, value in values.items()}
        session.execute(update(table).where(table.c.id == key).values(swapped))
        changed += len(values)
    return changed
