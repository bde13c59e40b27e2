"""Saving the settings form: the workspace's own settings from now on (the environment no longer overwrites
them), audited, and announced in one line in the intake channel."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from bot.core.audit import audit
from bot.core.calendar import weekly
from bot.core.outcomes import Actor, Invalid, Refused
from bot.core.workspace import WorkspaceRef, WorkspaceSettings
from bot.delivery.outbox import Outbox
from bot.settings import views
from bot.settings.forms import areas_of, days_of, groups_of
from storage.models import Workspace

ONLY_ADMINS = "Only the workspace's admins and owners (or its fallback approvers) can change the settings."
LOCKED_OUT = (
    "Keep yourself among the fallback approvers: you are not one of the platform's admins, so without it "
    "you could not open these settings again."
)
NO_KEY = "Anonymous reports need IMPROVE_SECRET_KEY on the server: ask whoever runs the bot to set it first."
LABELS = {  # what the announcement calls each setting, in the form's order
    "intake_channel": "intake channel", "wins_channel": "wins channel", "approvers": "approvers",
    "fallback_approvers": "fallback approvers", "hourly_rate": "hourly rate", "currency": "currency",
    "process_areas": "process areas", "checkin_days": "check-in days", "digest_at": "announcement time",
    "timezone": "time zone", "digest_when_empty": "quiet weeks", "nudge_whys_days": "why nudges",
    "stall_whys_days": "stalled whys", "remind_approval_days": "approval reminders",
    "escalate_approval_days": "escalations", "anonymous_reports": "anonymous reports",
    "retention_days": "retention",
}  # fmt: skip


def new_settings(current: WorkspaceSettings, values: dict[str, Any]) -> WorkspaceSettings:
    """The settings the form's clean answers say (what the form does not show stays as it was)."""
    return replace(
        current,
        intake_channel=values["intake_channel"],
        wins_channel=values.get("wins_channel") or "",
        approvers=_kept_order(
            current.approvers, [*(values.get("approvers") or []), *groups_of(values.get("approver_groups"))]
        ),
        fallback_approvers=_kept_order(
            current.fallback_approvers,
            [*(values.get("fallback_approvers") or []), *groups_of(values.get("fallback_groups"))],
        ),
        hourly_rate=float(values["hourly_rate"]),
        currency=str(values["currency"]).strip(),
        process_areas=areas_of(values["process_areas"]),
        checkin_days=days_of(values["checkin_days"]),
        digest_at=weekly(str(values["digest_at"])),
        timezone=str(values["timezone"]).strip(),
        digest_when_empty=values["digest_when_empty"],
        nudge_whys_days=int(values["nudge_whys_days"]),
        stall_whys_days=int(values["stall_whys_days"]),
        remind_approval_days=int(values["remind_approval_days"]),
        escalate_approval_days=int(values["escalate_approval_days"]),
        anonymous_reports=bool(values.get("anonymous_reports")),
        retention_days=int(values["retention_days"]),
    )


def _kept_order(current: list[str], chosen: list[str]) -> list[str]:
    """The same people and groups as before stay as they were listed (a form read back is no change)."""
    return list(current) if set(current) == set(chosen) else list(dict.fromkeys(chosen))


def save(session: Session, ws: WorkspaceRef, actor: Actor, values: dict[str, Any], now: datetime) -> str:
    """Save the answers; returns what to tell the person."""
    if not actor.is_admin:
        raise Refused(ONLY_ADMINS)
    row = session.exec(select(Workspace).where(Workspace.id == ws.id).with_for_update()).one()
    current = WorkspaceSettings.from_json(row.settings)
    new = new_settings(current, values)
    if new.anonymous_reports and not current.anonymous_reports and ws.sealer is None:
        raise Invalid({"anonymous_reports": NO_KEY})
    changed = [name for name in LABELS if getattr(current, name) != getattr(new, name)]
    if not changed:
        return "Nothing changed."
    row.settings, row.settings_saved_at = new.to_json(), now
    session.add(row)
    audit(session, ws.id, None, actor.user, "settings_changed", now, fields=changed)
    said = [LABELS[name] for name in changed]
    Outbox(session, ws.id, now).post(new.intake_channel, views.changed(actor.user, said))
    return f"Saved ({', '.join(said)}). It applies now."
