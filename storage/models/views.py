"""What the views keep: exports waiting to be fetched, charts drawn once, who opened their home."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models.base import when


class Download(SQLModel, table=True):
    """A file (an export) waiting to be fetched from the bot's own server through an unguessable link, until it
    expires (where the platform takes no files in a chat: Teams)."""

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=64, unique=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    user_id: str = Field(max_length=200)
    filename: str = Field(max_length=120)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = when()
    expires_at: datetime = when()


class ChartImage(SQLModel, table=True):
    """A chart drawn once for the data it shows (its digest); `ref`: how the platform shows it in a message (a
    Slack file id, the URL of `token` on the bot's own server for Teams), made once."""

    __tablename__ = "chart_image"
    __table_args__ = (UniqueConstraint("workspace_id", "kind", "digest", name="uq_chart_image_digest"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    kind: str = Field(max_length=20)  # team
    digest: str = Field(max_length=64)  # sha256 of the data drawn
    token: str = Field(max_length=64, unique=True)  # its address on the bot's own server
    png: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    ref: str | None = Field(default=None, max_length=500)
    ref_at: datetime | None = when(nullable=True)  # when `ref` was made
    created_at: datetime = when()


class HomeView(SQLModel, table=True):
    """A person who opened the bot's home (Slack's App Home): published again when something on it changes."""

    __tablename__ = "home_view"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id", name="uq_home_view_user"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    user_id: str = Field(max_length=100)
    opened_at: datetime = when()
