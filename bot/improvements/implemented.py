"""Implemented: the owner (or an approver) marks the approved fix done with a fresh reading of its metric.
Capabilities that follow a fix from here (the sustain check-ins) listen for the `Implemented` event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.core.audit import audit
from bot.core.domain import Status
from bot.core.messages import Form
from bot.core.outcomes import Actor, Refused
from bot.core.workspace import WorkspaceRef
from bot.delivery.outbox import Outbox
from bot.improvements import forms, readings, views
from bot.improvements.card import owner_of
from bot.improvements.ledger import lock_approved, metric_of
from bot.improvements.records import load, owner_key, touch
from storage.models import Improvement


@dataclass(frozen=True)
class Implemented:
    """Published in the transaction that marked the fix implemented."""

    improvement: Improvement
    owner_tz: str | None  # the owner's time zone as the platform knows it


def _check_implementer(improvement: Improvement, actor: Actor) -> None:
    if actor.user != owner_of(improvement) and not actor.is_approver:
        raise Refused("Only the owner or an approver can mark this implemented.")
    if improvement.status != Status.APPROVED.value:
        status = Status(improvement.status)
        raise Refused(
            f"#{improvement.number} is {status.label.lower()}; only an approved fix can be marked implemented."
        )


def implemented_form(session: Session, ws: WorkspaceRef, actor: Actor, improvement_id: int) -> Form:
    improvement = load(session, ws, improvement_id)
    _check_implementer(improvement, actor)
    return forms.implemented_form(
        improvement.number, improvement.measure, metric_of(improvement), {"improvement": str(improvement.id)}
    )


def mark_implemented(
    session: Session,
    ws: WorkspaceRef,
    actor: Actor,
    improvement_id: int,
    values: dict[str, Any],
    now: datetime,
) -> Improvement:
    improvement = load(session, ws, improvement_id)
    _check_implementer(improvement, actor)
    improvement.implemented_note = values.get("note")
    improvement.implemented_at = now
    lock_approved(improvement, ws.settings, now)  # approved without an estimate, estimated since: locked now
    readings.record(session, improvement, float(values["metric_now"]), "implemented", now)
    readings.went_live(session, improvement, now)
    improvement.overdue_at = None
    touch(session, improvement, Status.IMPLEMENTED, now)
    outbox = Outbox(session, ws.id, now)
    outbox.edit(improvement, owner_key(improvement), views.owner_done(improvement, actor.user))
    outbox.reply(improvement, views.marked_implemented(improvement, actor.user, values.get("note")))
    outbox.refresh_card(improvement)
    audit(session, ws.id, improvement, actor.user, "implemented", now, reading=improvement.metric_now_value)
    return improvement  # the caller publishes `Implemented` in the same transaction
