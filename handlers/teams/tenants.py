"""Which Microsoft 365 organisations (tenants) the bot serves, each one a workspace with its own settings.

TEAMS_TENANT_ID is an allow-list (empty: every organisation the app is installed in). The first organisation it
names starts from the configuration (its channels and approvers); any other starts from the same defaults without
them, its installer becoming its first admin, who picks its channels and approvers in `improve settings`. Removing
the app from the organisation's last team forgets where to reach it and starts its retention clock (its data is
erased `IMPROVE_RETENTION_DAYS` later, bot.rights.retention)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, delete, select

from bot.core.workspace import WorkspaceSettings, first_admin, mark_installed
from storage.db import transaction
from storage.models import TeamsReference, Workspace

log = logging.getLogger("improvebot.teams")


class Tenants:
    def __init__(self, engine: Engine, allowed: list[str], defaults: WorkspaceSettings) -> None:
        self._engine = engine
        self.allowed = [tenant.lower() for tenant in allowed]
        self.primary = self.allowed[0] if self.allowed else ""
        self.defaults = defaults

    def serves(self, tenant: str) -> bool:
        return bool(tenant) and (not self.allowed or tenant.lower() in self.allowed)

    def settings_for(self, tenant: str) -> WorkspaceSettings:
        if tenant.lower() == self.primary:
            return self.defaults
        return replace(self.defaults, intake_channel="", wins_channel="", approvers=[], fallback_approvers=[])

    def installed(self, tenant: str, user: str, now: datetime) -> bool:
        """The app was added in the organisation: its retention clock stops; a new organisation's installer
        becomes its admin (True)."""
        with transaction(self._engine) as session:
            mark_installed(session, "teams", [tenant], installed=True, now=now)
            return first_admin(session, "teams", tenant, user, now)

    def removed(self, tenant: str, activity: dict[str, Any], now: datetime) -> bool:
        """The app was removed from a team (its channels are forgotten) or from a person's chat (that chat is);
        from a group chat, nothing is kept to forget. Removed from the organisation's last team, where to reach
        the organisation is forgotten and its retention clock starts (True): any activity from it later stops
        the clock (a person still using the app in their chat keeps the organisation's data)."""
        conversation = activity.get("conversation") or {}
        kind = conversation.get("conversationType")
        team = str(((activity.get("channelData") or {}).get("team") or {}).get("id") or "")
        user = str((activity.get("from") or {}).get("aadObjectId") or "").lower()
        with transaction(self._engine) as session:
            workspace = session.exec(
                select(Workspace).where(Workspace.platform == "teams", Workspace.external_id == tenant)
            ).first()
            if workspace is None or kind not in ("personal", "channel"):
                return False
            refs = select(TeamsReference).where(TeamsReference.workspace_id == workspace.id)
            if kind == "personal":
                for row in session.exec(refs.where(TeamsReference.kind == "user", TeamsReference.key == user)).all():
                    row.conversation_id = None
                    session.add(row)
                return False
            gone = delete(TeamsReference).where(col(TeamsReference.workspace_id) == workspace.id,
                                                col(TeamsReference.kind) == "channel")  # fmt: skip
            session.execute(gone.where(col(TeamsReference.team_id) == team) if team else gone)
            if session.exec(refs.where(TeamsReference.kind == "channel")).first() is not None:
                return False  # another team of the organisation still has it
            session.execute(delete(TeamsReference).where(col(TeamsReference.workspace_id) == workspace.id,
                                                         col(TeamsReference.kind) == "tenant"))  # fmt: skip
            mark_installed(session, "teams", [tenant], installed=False, now=now)
        log.info("the app was removed from a Teams organisation's last team: its retention clock started")
        return True
