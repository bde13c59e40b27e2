"""A workspace (Slack team, Teams tenant, the console) and the settings it runs with."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.core.config import DEFAULT_AREAS, Settings
from bot.core.identity import Sealer
from storage.models import Workspace


@dataclass(frozen=True)
class WorkspaceSettings:
    intake_channel: str
    wins_channel: str = ""
    approvers: list[str] = field(default_factory=list)
    fallback_approvers: list[str] = field(default_factory=list)  # empty: the platform's admins (Directory.admins)
    hourly_rate: float = 50.0
    currency: str = "$"
    process_areas: list[str] = field(default_factory=lambda: list(DEFAULT_AREAS))
    checkin_days: list[int] = field(default_factory=lambda: [7, 30, 90])
    digest_at: str = "fri 16:00"
    timezone: str = "UTC"
    digest_when_empty: str = "note"
    # reminders, in working days in `timezone` (0: never)
    remind_approval_days: int = 2  # an approval waiting this long: one reminder to those asked
    escalate_approval_days: int = 2  # ... and this long after the reminder: the fallback approvers are asked too
    nudge_whys_days: int = 3  # a why unanswered this long: one nudge to the reporter
    stall_whys_days: int = 10  # ... and this long after the nudge: the improvement is marked stalled
    anonymous_reports: bool = True  # the report form offers "Report anonymously" (bot/core/identity.py)
    retention_days: int = 30  # handled events and delivered messages are kept this long (bot.rights.retention)

    @classmethod
    def from_settings(cls, settings: Settings, *, intake_channel: str | None = None) -> WorkspaceSettings:
        return cls(
            intake_channel=intake_channel or settings.improve_intake_channel,
            wins_channel=settings.improve_wins_channel,
            approvers=list(settings.improve_approvers),
            fallback_approvers=list(settings.improve_fallback_approvers),
            hourly_rate=settings.improve_hourly_rate,
            currency=settings.improve_currency,
            process_areas=list(settings.improve_process_areas),
            checkin_days=list(settings.improve_checkin_days),
            digest_at=settings.improve_digest_at,
            timezone=settings.improve_timezone,
            digest_when_empty=settings.improve_digest_when_empty,
            remind_approval_days=settings.improve_remind_approval_days,
            escalate_approval_days=settings.improve_escalate_approval_days,
            nudge_whys_days=settings.improve_nudge_whys_days,
            stall_whys_days=settings.improve_stall_whys_days,
            anonymous_reports=settings.improve_anonymous_reports,
            retention_days=settings.improve_retention_days,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkspaceSettings:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WorkspaceRef:
    """What a use case needs to know of the workspace it acts in."""

    id: int
    platform: str
    external_id: str
    settings: WorkspaceSettings
    sealer: Sealer | None = field(default=None, compare=False)  # opens an anonymous reporter's sealed id

    @classmethod
    def of(cls, row: Workspace) -> WorkspaceRef:
        """The workspace as its stored row says (its settings as last saved)."""
        return cls(row.id or 0, row.platform, row.external_id, WorkspaceSettings.from_json(row.settings))

    @property
    def anonymity(self) -> bool:
        """Whether a report may be anonymous here: allowed, and a key to seal the reporter's id with."""
        return self.settings.anonymous_reports and self.sealer is not None


def apply_settings(session: Session, platform: str, settings: WorkspaceSettings, *, only: str | None = None) -> int:
    """Store the configured settings with every workspace of the platform (`only`: with that one) that never saved
    its own in chat (`/improve settings`): the environment gives the defaults; saved settings are the workspace's.
    Returns how many changed."""
    changed = 0
    rows = select(Workspace).where(Workspace.platform == platform, col(Workspace.settings_saved_at).is_(None))
    if only is not None:
        rows = rows.where(Workspace.external_id == only)
    for row in session.exec(rows).all():
        if row.settings != settings.to_json():
            row.settings = settings.to_json()
            session.add(row)
            changed += 1
    return changed


def ensure_workspace(
    session: Session,
    platform: str,
    external_id: str,
    settings: WorkspaceSettings,
    now: datetime,
    sealer: Sealer | None = None,
) -> WorkspaceRef:
    """Find or create the workspace. Until it saves settings of its own in chat, the configured ones are stored
    with it; after, its saved ones are what it runs with."""
    row = session.exec(
        select(Workspace).where(Workspace.platform == platform, Workspace.external_id == external_id)
    ).first()
    if row is None:
        row = Workspace(platform=platform, external_id=external_id, settings=settings.to_json(), created_at=now)
        session.add(row)
        session.flush()
    elif row.settings_saved_at is not None:
        settings = WorkspaceSettings.from_json(row.settings)
    elif row.settings != settings.to_json():
        row.settings = settings.to_json()
        session.add(row)
        session.flush()
    assert row.id is not None
    return WorkspaceRef(id=row.id, platform=platform, external_id=external_id, settings=settings, sealer=sealer)


def mark_installed(session: Session, platform: str, external_ids: list[str], *, installed: bool, now: datetime) -> int:
    """The app was removed from these workspaces (`installed=False`: their data is erased `retention_days` later,
    bot.rights.retention) or installed again (the clock stops). Returns how many workspaces changed."""
    if not external_ids:
        return 0
    rows = select(Workspace).where(Workspace.platform == platform, col(Workspace.external_id).in_(external_ids))
    changed = 0
    for row in session.exec(rows).all():
        if installed != (row.uninstalled_at is None):
            row.uninstalled_at = None if installed else now
            session.add(row)
            changed += 1
    return changed


def first_admin(session: Session, platform: str, external_id: str, user: str, now: datetime) -> bool:
    """A workspace nobody may administer yet (no approvers, no fallback approvers, never saved: a new Teams
    organisation) gets the person who installed the app as its admin, its settings then its own. True if so."""
    row = session.exec(
        select(Workspace).where(Workspace.platform == platform, Workspace.external_id == external_id)
    ).first()
    if row is None or row.settings_saved_at is not None or not user:
        return False
    settings = WorkspaceSettings.from_json(row.settings)
    if settings.approvers or settings.fallback_approvers:
        return False
    row.settings = {**settings.to_json(), "fallback_approvers": [user]}
    row.settings_saved_at = now
    session.add(row)
    return True
