"""The export: one CSV of the improvements (a row each, with the ledger, the metric and the decisions) and one of
the audit trail, written when delivery sends them (so a large workspace's file is never kept in the outbox).
Cells a spreadsheet would run as a formula (starting with = + - @, a tab or a return) are neutralised with a
leading apostrophe; numbers stay numbers."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.core.domain import Status
from bot.core.identity import stand_in
from bot.core.metrics import target_met
from bot.core.workspace import WorkspaceSettings
from bot.improvements.card import owner_of
from bot.improvements.ledger import ledger_of, metric_of
from storage import queries
from storage.models import AuditEntry, Decision, Improvement, Workspace

IMPROVEMENTS = "improvements"
AUDIT = "audit"
KINDS = (IMPROVEMENTS, AUDIT)
TEAMMATE = "a teammate"  # an anonymous reporter, as every export names them
BATCH = 2000

IMPROVEMENT_COLUMNS = [
    "number", "problem", "reported_at", "approved_at", "implemented_at", "sustained_at", "closed_at", "status", "area",
    "frequency", "hours_per_week", "people", "estimated_hours_per_year", "approved_hours_per_year",
    "approved_hourly_rate", "approved_currency", "approved_figures_locked_at", "confirmed_hours_per_year", "metric",
    "metric_unit", "metric_direction", "baseline", "target", "latest_reading", "target_met", "owner", "reporter",
    "root_cause", "countermeasure", "not_to_do", "decisions",
]  # fmt: skip
AUDIT_COLUMNS = ["at", "number", "actor", "action", "detail"]
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def safe(cell: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe; numbers and dates stay."""
    if isinstance(cell, str) and cell.startswith(_FORMULA):
        return "'" + cell
    return cell


def _when(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _number(value: float | None) -> float | int | str:
    """A number stays a number (a spreadsheet reads it as one, and it is never taken for a formula)."""
    if value is None:
        return ""
    return int(value) if value == int(value) and abs(value) < 1e15 else value


def csv_bytes(columns: list[str], rows: Iterable[list[Any]]) -> bytes:
    """UTF-8 with a byte-order mark, so a double-click opens it in Excel with its accents intact."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe(cell) for cell in row])
    return ("\ufeff" + buffer.getvalue()).encode()


def improvements_csv(session: Session, workspace: Workspace) -> bytes:
    return csv_bytes(IMPROVEMENT_COLUMNS, _improvement_rows(session, workspace))


def _improvement_rows(session: Session, workspace: Workspace) -> Iterator[list[Any]]:
    settings = WorkspaceSettings.from_json(workspace.settings)
    last_id = 0
    while True:  # in batches by id: a 100,000-improvement workspace never sits in memory at once
        batch = session.exec(
            select(Improvement)
            .where(Improvement.workspace_id == workspace.id, col(Improvement.id) > last_id)
            .order_by(col(Improvement.id))
            .limit(BATCH)
        ).all()
        if not batch:
            return
        last_id = batch[-1].id or 0
        ids = [i.id for i in batch]
        roots = _root_causes(session, batch)
        decisions = _decisions(session, ids, {i.id or 0: i.reporter_id for i in batch if i.anonymous})
        for imp in sorted(batch, key=lambda i: i.number):
            yield _improvement_row(imp, settings, roots.get(imp.id or 0, ""), decisions.get(imp.id or 0, ""))


def _improvement_row(imp: Improvement, settings: WorkspaceSettings, root: str, decisions: str) -> list[Any]:
    ledger = ledger_of(imp, settings)
    metric = metric_of(imp)
    met = target_met(metric, imp.metric_now_value) if imp.metric_now_value is not None else None
    return [
        imp.number, imp.problem, _when(imp.created_at), _when(imp.first_approved_at), _when(imp.implemented_at),
        _when(imp.sustained_at), _when(imp.closed_at), imp.status, imp.area, imp.frequency, _number(imp.hours_per_week),
        "" if imp.people is None else imp.people,
        _number(ledger.estimated.hours_per_year if ledger.estimated else None),
        _number(ledger.approved.hours_per_year if ledger.approved else None),
        _number(ledger.approved.rate if ledger.approved else None),
        ledger.approved.currency if ledger.approved else "",
        _when(imp.approved_at),
        _number(ledger.confirmed.hours_per_year if ledger.confirmed else None),
        imp.measure or "", metric.unit, metric.direction.value if metric.direction else "",
        _number(metric.baseline) if metric.baseline is not None else (metric.baseline_text or ""),
        _number(metric.target) if metric.target is not None else (metric.target_text or ""),
        _number(imp.metric_now_value) if imp.metric_now_value is not None else (imp.metric_now or ""),
        "" if met is None else "yes" if met else "no",
        TEAMMATE if imp.anonymous and owner_of(imp) == imp.reporter_id else _person(owner_of(imp)),
        TEAMMATE if imp.anonymous else _person(imp.reporter_id), root, imp.countermeasure or "", imp.not_to_do or "",
        decisions,
    ]  # fmt: skip


def _root_causes(session: Session, batch: Sequence[Improvement]) -> dict[int, str]:
    """The last answered why of each improvement past its 5 Whys."""
    answers = queries.answers_of(session, [i.id for i in batch])
    past = (i.id for i in batch if i.status != Status.INVESTIGATING.value)
    return {id_: answers[id_][-1] for id_ in past if id_ is not None and id_ in answers}


def _decisions(session: Session, ids: list[int | None], anonymous: dict[int, str]) -> dict[int, str]:
    """'2026-11-24 proposed by U1 (round 1); 2026-11-25 approved by U2 (round 1)'; an anonymous reporter's own
    acts (`anonymous`: improvement -> reporter) by "a teammate"."""
    said: dict[int, list[str]] = {}
    for d in session.exec(
        select(Decision).where(col(Decision.improvement_id).in_(ids)).order_by(col(Decision.id))
    ).all():
        text = f": {d.text}" if d.text else ""
        said.setdefault(d.improvement_id, []).append(
            f"{d.created_at:%Y-%m-%d} {d.kind} by "
            f"{_shown(anonymous, d.improvement_id, d.actor_id)} (round {d.round}){text}"
        )
    return {k: "; ".join(v) for k, v in said.items()}


def audit_csv(session: Session, workspace: Workspace) -> bytes:
    return csv_bytes(AUDIT_COLUMNS, _audit_rows(session, workspace))


def _audit_rows(session: Session, workspace: Workspace) -> Iterator[list[Any]]:
    anonymous = dict(
        session.exec(
            select(Improvement.id, Improvement.reporter_id).where(
                Improvement.workspace_id == workspace.id, col(Improvement.anonymous).is_(True)
            )
        ).all()
    )
    last_id = 0
    while True:
        batch = session.exec(
            select(AuditEntry, Improvement.number)
            .outerjoin(Improvement, col(Improvement.id) == col(AuditEntry.improvement_id))
            .where(AuditEntry.workspace_id == workspace.id, col(AuditEntry.id) > last_id)
            .order_by(col(AuditEntry.id))
            .limit(BATCH)
        ).all()
        if not batch:
            return
        last_id = batch[-1][0].id or 0
        for entry, number in batch:
            shown = _shown(anonymous, entry.improvement_id, entry.actor_id)
            yield [_when(entry.at), "" if number is None else number, shown,
                   entry.action, json.dumps(entry.detail, ensure_ascii=False, sort_keys=True)]  # fmt: skip


def _person(user: str) -> str:
    return stand_in(user) or user


def _shown(anonymous: Mapping[Any, str], improvement_id: int | None, actor: str) -> str:
    """Who acted, as an export names them: an anonymous reporter's own act (`anonymous`: improvement ->
    reporter), or any id that names nobody (a pseudonym, an erased person), by what stands for them."""
    return TEAMMATE if anonymous.get(improvement_id) == actor else _person(actor)


def render(session: Session, payload: dict[str, Any]) -> tuple[str, bytes]:
    """(filename, CSV) of an export the outbox holds: its kind and its workspace, as of now."""
    workspace = session.get(Workspace, int(payload["workspace_id"]))
    if workspace is None or payload.get("export") not in KINDS:
        raise LookupError("that export names nothing")
    day = str(payload.get("day", ""))
    if payload["export"] == IMPROVEMENTS:
        return f"improvements-{day}.csv", improvements_csv(session, workspace)
    return f"audit-trail-{day}.csv", audit_csv(session, workspace)
