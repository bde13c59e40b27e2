"""`improvebot export-user`: everything the product holds about one person in one workspace, as JSON: what they
did and said by kind, the settings that name them, and where else their id is held (table.column: rows). What
they reported anonymously is not in it: it is recorded under a pseudonym, and showing it here would name them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, or_, select

from bot.core.audit import audit
from bot.core.workspace import WorkspaceSettings
from bot.rights import scrub
from storage.models import (
    AuditEntry,
    Checkin,
    Decision,
    HomeView,
    Improvement,
    MeToo,
    TeamsReference,
    Why,
    Workspace,
)

IMPROVEMENT = ("number", "problem", "area", "status", "hours_per_week", "people", "idea", "created_at")


def _row(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: _plain(getattr(row, name)) for name in fields}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def export_person(session: Session, workspace: Workspace, user: str, now: datetime) -> dict[str, Any]:
    """What is held about `user`, by kind (in the caller's transaction: the export is audited)."""
    ws = workspace.id or 0
    mine = select(Improvement.id).where(Improvement.workspace_id == ws)
    numbers = dict(session.exec(select(Improvement.id, Improvement.number).where(Improvement.workspace_id == ws)).all())
    improvements = session.exec(
        select(Improvement)
        .where(
            Improvement.workspace_id == ws,
            or_(
                Improvement.reporter_id == user,
                Improvement.owner_id == user,
                Improvement.raised_by == user,
                Improvement.approved_by == user,
                Improvement.closed_by == user,
            ),
        )
        .order_by(col(Improvement.number))
    ).all()
    held = {
        "person": user,
        "workspace": {"platform": workspace.platform, "id": workspace.external_id},
        "exported_at": now.isoformat(),
        "improvements": [
            {
                **_row(i, IMPROVEMENT),
                "roles": [
                    role
                    for role, who in (
                        ("reporter", i.reporter_id),
                        ("owner", i.owner_id),
                        ("raised_by", i.raised_by),
                        ("approver", i.approved_by),
                        ("closed_by", i.closed_by),
                    )
                    if who == user
                ],
            }
            for i in improvements
        ],
        "why_answers": [
            {
                "improvement": numbers.get(w.improvement_id),
                "why": w.position,
                "answer": w.answer,
                "answered_at": _plain(w.answered_at),
            }
            for w in session.exec(select(Why).where(Why.answered_by == user, col(Why.improvement_id).in_(mine))).all()
        ],
        "decisions": [
            {
                "improvement": numbers.get(d.improvement_id),
                "round": d.round,
                "kind": d.kind,
                "text": d.text,
                "at": _plain(d.created_at),
            }
            for d in session.exec(
                select(Decision).where(Decision.actor_id == user, col(Decision.improvement_id).in_(mine))
            ).all()
        ],
        "checkins": [
            {
                "improvement": numbers.get(c.improvement_id),
                "position": c.position,
                "status": c.status,
                "answer": c.answer,
                "reading": c.reading,
                "note": c.note,
                "due_at": _plain(c.due_at),
            }
            for c in session.exec(select(Checkin).where(Checkin.workspace_id == ws, Checkin.owner_id == user)).all()
        ],
        "me_too": [
            {"improvement": numbers.get(m.improvement_id), "source": m.source, "at": _plain(m.created_at)}
            for m in session.exec(select(MeToo).where(MeToo.workspace_id == ws, MeToo.user_id == user)).all()
        ],
        "activity": [
            {"improvement": numbers.get(a.improvement_id or 0), "action": a.action, "at": _plain(a.at)}
            for a in session.exec(
                select(AuditEntry)
                .where(AuditEntry.workspace_id == ws, AuditEntry.actor_id == user)
                .order_by(col(AuditEntry.id))
            ).all()
        ],
        "home_view": [
            {"opened_at": _plain(h.opened_at)}
            for h in session.exec(select(HomeView).where(HomeView.workspace_id == ws, HomeView.user_id == user)).all()
        ],
        "teams": [
            {"name": r.name, "timezone": r.timezone, "updated_at": _plain(r.updated_at)}
            for r in session.exec(
                select(TeamsReference).where(
                    TeamsReference.workspace_id == ws, TeamsReference.kind == "user", TeamsReference.key == user
                )
            ).all()
        ],
    }
    settings = WorkspaceSettings.from_json(workspace.settings)
    held["settings"] = [name for name in ("approvers", "fallback_approvers") if user in getattr(settings, name)]
    named: dict[str, int] = {}
    for table, _key, values in scrub.places(session, ws, user, scrub.as_id(user)):
        for column in values:
            named[f"{table.name}.{column}"] = named.get(f"{table.name}.{column}", 0) + 1
    held["named_in"] = named  # every row that holds their id (messages kept, who was asked, others' words …)
    audit(session, ws, None, "improvebot", "exported_person", now, person=user)
    return held
