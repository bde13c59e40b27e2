"""What Teams needs to reach people and channels weeks later, remembered from every activity and install."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.core.workspace import mark_installed
from storage.db import transaction
from storage.models import TeamsReference


def seen_in(activity: dict[str, Any]) -> dict[str, Any]:
    """What an activity tells us about where it came from (for proactive messages later)."""
    channel_data = activity.get("channelData") or {}
    conversation = activity.get("conversation") or {}
    sender = activity.get("from") or {}
    timezone = next((e.get("timezone") for e in activity.get("entities") or [] if e.get("type") == "clientInfo"), None)
    personal = conversation.get("conversationType") == "personal"
    channel = (channel_data.get("channel") or {}).get("id")
    return {
        "service_url": activity.get("serviceUrl", ""),
        "tenant_id": conversation.get("tenantId") or (channel_data.get("tenant") or {}).get("id") or "",
        "bot_id": (activity.get("recipient") or {}).get("id"),
        "team_id": (channel_data.get("team") or {}).get("id"),
        "channel": channel,
        "user": {
            "aad": (sender.get("aadObjectId") or "").lower(),
            "user_id": sender.get("id"),
            "name": (sender.get("name") or "")[:200] or None,  # what the database keeps
            "timezone": timezone if isinstance(timezone, str) and len(timezone) <= 64 else None,
            "personal_conversation": conversation.get("id") if personal else None,
        },
    }


def _upsert(session: Session, workspace_id: int, kind: str, key: str, now: datetime, **fields: Any) -> None:
    row = session.exec(
        select(TeamsReference).where(
            TeamsReference.workspace_id == workspace_id, TeamsReference.kind == kind, TeamsReference.key == key
        )
    ).first()
    if row is None:
        row = TeamsReference(workspace_id=workspace_id, kind=kind, key=key, updated_at=now, **fields)
    else:
        for name, value in fields.items():
            if value is not None:
                setattr(row, name, value)
        row.updated_at = now
    session.add(row)


class References:
    def __init__(self, engine: Engine, *, one_tenant: bool = True) -> None:
        self._engine = engine
        self._one_tenant = one_tenant  # serving one organisation: its reference is the one there is

    def remember(self, workspace_id: int, seen: dict[str, Any], now: datetime, *, in_use: bool = False) -> None:
        """`seen`: service_url, bot_id, tenant_id, team_id, user (aad, user_id, name, timezone), channel. `in_use`:
        someone used the app (a message, a click): an organisation on its retention clock is not removed after all."""
        with transaction(self._engine) as session:
            service_url = seen["service_url"]
            if in_use:
                mark_installed(session, "teams", [seen["tenant_id"].lower()], installed=True, now=now)
            _upsert(session, workspace_id, "tenant", seen["tenant_id"].lower(), now, service_url=service_url,
                    bot_id=seen.get("bot_id"), team_id=seen.get("team_id"))  # fmt: skip
            user = seen.get("user")
            if user and user.get("aad"):  # a person: their 29: id, name, zone and 1:1 chat
                _upsert(session, workspace_id, "user", user["aad"], now, service_url=service_url,
                        user_id=user.get("user_id"), name=user.get("name"), timezone=user.get("timezone"),
                        conversation_id=user.get("personal_conversation"))  # fmt: skip
            channel = seen.get("channel")
            if channel:
                _upsert(session, workspace_id, "channel", channel, now, service_url=service_url,
                        conversation_id=channel, team_id=seen.get("team_id"))  # fmt: skip

    def find(self, kind: str, key: str) -> TeamsReference | None:
        with Session(self._engine) as session:
            return session.exec(
                select(TeamsReference)
                .where(TeamsReference.kind == kind, TeamsReference.key == key)
                .order_by(col(TeamsReference.updated_at).desc())
            ).first()

    def tenant(self, key: str) -> TeamsReference | None:
        """Where the organisation `key` is reached ("": the one served alone; none when several are)."""
        if key:
            return self.find("tenant", key.lower())
        return self.any_tenant() if self._one_tenant else None

    def any_tenant(self) -> TeamsReference | None:
        with Session(self._engine) as session:
            return session.exec(
                select(TeamsReference)
                .where(TeamsReference.kind == "tenant")
                .order_by(col(TeamsReference.updated_at).desc())
            ).first()

    def names(self, users: Iterable[str]) -> dict[str, str]:
        wanted = list(set(users))
        if not wanted:
            return {}
        with Session(self._engine) as session:
            rows = session.exec(
                select(TeamsReference).where(TeamsReference.kind == "user", col(TeamsReference.key).in_(wanted))
            ).all()
            return {row.key: row.name for row in rows if row.name}

    def set_personal_conversation(self, aad: str, conversation_id: str, now: datetime) -> None:
        with transaction(self._engine) as session:
            for row in session.exec(
                select(TeamsReference).where(TeamsReference.kind == "user", TeamsReference.key == aad)
            ).all():
                row.conversation_id = conversation_id
                row.updated_at = now
                session.add(row)
