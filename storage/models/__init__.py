"""SQLModel tables, one module per kind of record; every table is importable from here (and registered on
SQLModel.metadata when this package is imported, as Alembic and create_all need)."""

from storage.models.base import UTCDateTime
from storage.models.delivery import HealthCheck, OutboxMessage, PostedMessage, ProcessedEvent, TeamsReference
from storage.models.installs import SLACK_BOTS, SLACK_INSTALLATIONS, SLACK_OAUTH_STATES, SlackTeam
from storage.models.views import ChartImage, Download, HomeView
from storage.models.work import (
    AuditEntry,
    Checkin,
    Decision,
    Digest,
    FixCycle,
    Improvement,
    MeToo,
    Reading,
    Reminder,
    Why,
    Workspace,
)

__all__ = [
    "SLACK_BOTS",
    "SLACK_INSTALLATIONS",
    "SLACK_OAUTH_STATES",
    "AuditEntry",
    "ChartImage",
    "Checkin",
    "Decision",
    "Digest",
    "Download",
    "FixCycle",
    "HealthCheck",
    "HomeView",
    "Improvement",
    "MeToo",
    "OutboxMessage",
    "PostedMessage",
    "ProcessedEvent",
    "Reading",
    "Reminder",
    "SlackTeam",
    "TeamsReference",
    "UTCDateTime",
    "Why",
    "Workspace",
]
