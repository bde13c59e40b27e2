"""Where the app is installed in Slack (OAuth: `/slack/install`): the installation, bot and state tables of
slack-sdk's SQLAlchemy stores, declared as the library declares them (tests/slack/test_install.py holds them to
it) so Alembic migrates them like every other table (0018); and which Enterprise Grid organisation each
workspace belongs to (a token of an org-wide install is found through it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table
from sqlmodel import Field, SQLModel

from storage.models.base import when


def _bot_columns() -> list[Column[object]]:
    return [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("client_id", String(32), nullable=False),
        Column("app_id", String(32), nullable=False),
        Column("enterprise_id", String(32)),
        Column("enterprise_name", String(200)),
        Column("team_id", String(32)),
        Column("team_name", String(200)),
        Column("bot_token", String(200)),
        Column("bot_id", String(32)),
        Column("bot_user_id", String(32)),
        Column("bot_scopes", String(1000)),
        Column("bot_refresh_token", String(200)),
        Column("bot_token_expires_at", DateTime),
    ]


SLACK_BOTS = Table(
    "slack_bots",
    SQLModel.metadata,
    *_bot_columns(),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("installed_at", DateTime, nullable=False),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)
SLACK_INSTALLATIONS = Table(
    "slack_installations",
    SQLModel.metadata,
    *_bot_columns()[:3],
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(200)),
    *_bot_columns()[5:],
    Column("user_id", String(32), nullable=False),
    Column("user_token", String(200)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", String(200)),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False),
    Index("slack_installations_idx", "client_id", "enterprise_id", "team_id", "user_id", "installed_at"),
)
SLACK_OAUTH_STATES = Table(
    "slack_oauth_states",
    SQLModel.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)


class SlackTeam(SQLModel, table=True):
    """A Slack workspace, and the Enterprise Grid organisation it belongs to ("" when none)."""

    __tablename__ = "slack_team"

    team_id: str = Field(primary_key=True, max_length=32)
    enterprise_id: str = Field(default="", max_length=32)
    seen_at: datetime = when()
