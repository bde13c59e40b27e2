"""What delivery and the doors keep: inbound events already handled, the outbox, where posted messages live,
Teams' conversation references, the health check's row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.models.base import when


class ProcessedEvent(SQLModel, table=True):
    """Inbound events already handled (Slack event_id, Teams activity id): a retry of one does nothing."""

    __tablename__ = "processed_event"
    __table_args__ = (UniqueConstraint("workspace_id", "event_id", name="uq_processed_event"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    event_id: str = Field(max_length=200)
    at: datetime = when()


class OutboxMessage(SQLModel, table=True):
    """A message to deliver, saved in the same transaction as the change it announces.

    kind: card (post or refresh the improvement's card), thread (reply in its thread), update (edit a posted
    message by key), dm (to a person), channel (a new post in a channel).
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_pending", "status", "next_attempt_at"),
        Index("ix_outbox_workspace_done", "workspace_id", "status", "created_at"),  # retention (bot.rights)
        # the claim's "no older pending row of the same improvement" check (see bot/delivery.py)
        Index(
            "ix_outbox_pending_by_improvement",
            "improvement_id",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        # the workspaces whose bulk another instance sent lately (bot/delivery/claims.py: a sent row keeps its
        # holder KEEPS_PACING)
        Index(
            "ix_outbox_sent_by_flush",
            "status",
            "sent_at",
            postgresql_where=text("claimed_by IS NOT NULL"),
            sqlite_where=text("claimed_by IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    improvement_id: int | None = Field(default=None, foreign_key="improvement.id", index=True)
    kind: str = Field(max_length=10)
    target: str | None = Field(default=None, max_length=100)  # channel or user id, for dm / channel
    key: str | None = Field(default=None, max_length=60)  # remember the posted message under this key
    after_id: int | None = Field(default=None)  # wait until this row has gone out (a chart after its digest)
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    status: str = Field(default="pending", max_length=10)  # pending | sent | dead
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    next_attempt_at: datetime = when()
    claimed_until: datetime | None = when(nullable=True)  # the lease: renewed while its holder is alive
    claimed_by: str | None = Field(default=None, max_length=36)  # holding the lease (sent: that sent it, a while)
    claimed_at: datetime | None = when(nullable=True)  # when it was claimed: a send made by the holder is after it
    # the row may have gone out already (a send whose answer was lost, or a holder that died): it is looked for
    # on the platform, among the messages since this time, before it is ever sent again
    unsure_since: datetime | None = when(nullable=True)
    created_at: datetime = when()
    sent_at: datetime | None = when(nullable=True)


class PostedMessage(SQLModel, table=True):
    """Where a message the bot posted lives, so it can be edited in place or replied under."""

    __tablename__ = "posted_message"
    __table_args__ = (
        UniqueConstraint("improvement_id", "key", name="uq_posted_improvement_key"),
        Index("ix_posted_channel_ref", "channel", "ref"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    improvement_id: int | None = Field(default=None, foreign_key="improvement.id")
    key: str = Field(max_length=60)  # "card", "why:2", "approval:1" …
    channel: str = Field(max_length=200)
    ref: str = Field(max_length=200)  # Slack ts, Teams activity id
    thread: str | None = Field(default=None, max_length=200)
    created_at: datetime = when()


class TeamsReference(SQLModel, table=True):
    """What proactive Teams messages need, learned from every activity and install: the tenant's service URL,
    a person's 29: id, name, time zone and 1:1 conversation, a channel's conversation."""

    __tablename__ = "teams_reference"
    __table_args__ = (UniqueConstraint("workspace_id", "kind", "key", name="uq_teams_reference"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    kind: str = Field(max_length=10)  # tenant | user | channel
    key: str = Field(max_length=200)  # the tenant id, a person's AAD object id, a channel's conversation id
    service_url: str = Field(max_length=300)
    conversation_id: str | None = Field(default=None, max_length=300)  # user: the 1:1 chat; channel: itself
    user_id: str | None = Field(default=None, max_length=200)  # a person's 29: id
    name: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    bot_id: str | None = Field(default=None, max_length=200)
    team_id: str | None = Field(default=None, max_length=300)
    updated_at: datetime = when()


class HealthCheck(SQLModel, table=True):
    """One row `/healthz` writes to: a database that can be read but not written (disk full, read-only) is down."""

    __tablename__ = "health_check"

    id: int | None = Field(default=None, primary_key=True)
    checked_at: datetime = when()
