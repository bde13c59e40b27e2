"""SQLModel tables. One workspace (a Slack team, a Teams tenant, the console) owns everything below it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, Text, TypeDecorator, UniqueConstraint, text
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored in UTC and always read back timezone-aware (SQLite alone would drop the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def _when(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class Workspace(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_workspace_platform_external"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)  # slack | teams | console
    external_id: str = Field(max_length=100)  # Slack team id, Teams tenant id
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    last_number: int = 0  # per-workspace improvement numbering: #1, #2 …
    created_at: datetime = _when()


class Improvement(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    number: int
    status: str = Field(max_length=30, index=True)
    # the report
    problem: str = Field(sa_column=Column(Text, nullable=False))
    area: str = Field(max_length=60)
    frequency: str = Field(max_length=10)
    hours_per_week: float | None = None
    people: int | None = None
    customers_notice: bool = False
    idea: str | None = Field(default=None, sa_column=Column(Text))
    reporter_id: str = Field(max_length=100)
    channel_id: str = Field(max_length=100)  # where it lives
    # the proposal
    countermeasure: str | None = Field(default=None, sa_column=Column(Text))
    measure: str | None = Field(default=None, sa_column=Column(Text))
    baseline: str | None = Field(default=None, max_length=200)
    target: str | None = Field(default=None, max_length=200)
    not_to_do: str | None = Field(default=None, sa_column=Column(Text))
    owner_id: str | None = Field(default=None, max_length=100)
    due_date: date | None = None
    approval_round: int = 0  # bumps with every approval request; stale buttons are refused
    cycle: int = 0  # bumps each time a slipping fix is reopened
    # the metric as numbers (bot.core.metrics); baseline/target above keep the text of what did not parse
    metric_unit: str | None = Field(default=None, max_length=40)  # "%", "duplicates/week"
    metric_direction: str | None = Field(default=None, max_length=6)  # lower | higher (is better)
    baseline_value: float | None = None
    target_value: float | None = None
    # the savings ledger (bot.improvements.ledger): the case as it was approved, locked with that day's rate
    approved_hours_per_year: float | None = None
    approved_hourly_rate: float | None = None
    approved_currency: str | None = Field(default=None, max_length=8)
    approved_at: datetime | None = _when(nullable=True)
    # the result: the latest reading (every reading is a Reading row); metric_now keeps an old text reading
    metric_now: str | None = Field(default=None, max_length=200)
    metric_now_value: float | None = None
    implemented_note: str | None = Field(default=None, sa_column=Column(Text))
    approved_by: str | None = Field(default=None, max_length=100)
    anonymous: bool = False  # the reporter's name is never shown (credited as "a teammate")
    stalled_at: datetime | None = _when(nullable=True)  # the 5 Whys went unanswered (bot.sustain.reminders)
    overdue_at: datetime | None = _when(nullable=True)  # the fix passed its due date before it was implemented
    unverified_at: datetime | None = _when(nullable=True)  # a check-in was missed; the next answer verifies it
    # closed (bot.improvements.closing): why, by whom, and the status a reopen returns to
    closed_reason: str | None = Field(default=None, max_length=20)
    closed_note: str | None = Field(default=None, sa_column=Column(Text))
    duplicate_of: int | None = None  # the number of the improvement it duplicates
    closed_by: str | None = Field(default=None, max_length=100)
    closed_at: datetime | None = _when(nullable=True)
    reopen_status: str | None = Field(default=None, max_length=30)
    created_at: datetime = _when()
    updated_at: datetime = _when()
    implemented_at: datetime | None = _when(nullable=True)
    sustained_at: datetime | None = _when(nullable=True)

    __table_args__ = (
        UniqueConstraint("workspace_id", "number", name="uq_improvement_workspace_number"),
        Index("ix_improvement_workspace_implemented", "workspace_id", "implemented_at"),
        Index("ix_improvement_workspace_sustained", "workspace_id", "sustained_at"),
        Index("ix_improvement_workspace_status", "workspace_id", "status", "area", "hours_per_week", "people"),  # home
        Index("ix_improvement_workspace_created", "workspace_id", "created_at", "reporter_id"),  # who reported
        Index("ix_improvement_workspace_approved", "workspace_id", "approved_at", "created_at"),  # cycle times
        Index("ix_improvement_workspace_reporter", "workspace_id", "reporter_id"),  # … one person's improvements
        Index("ix_improvement_workspace_owner", "workspace_id", "owner_id"),
    )


class Why(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("improvement_id", "position", name="uq_why_improvement_position"),)

    id: int | None = Field(default=None, primary_key=True)
    improvement_id: int = Field(foreign_key="improvement.id", index=True)
    position: int  # 1..5
    question: str = Field(sa_column=Column(Text, nullable=False))
    answer: str | None = Field(default=None, sa_column=Column(Text))
    answered_by: str | None = Field(default=None, max_length=100)
    answered_at: datetime | None = _when(nullable=True)
    answer_ref: str | None = Field(default=None, max_length=200, index=True)  # the answer's own message id
    message_key: str | None = Field(default=None, max_length=60)  # the question's message, when asked again


class Decision(SQLModel, table=True):
    """Approve / decline / question / resubmit, in order: the approval history of one improvement."""

    id: int | None = Field(default=None, primary_key=True)
    improvement_id: int = Field(foreign_key="improvement.id", index=True)
    round: int
    kind: str = Field(max_length=20)
    actor_id: str = Field(max_length=100)
    text: str | None = Field(default=None, sa_column=Column(Text))
    asked: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))  # "proposed": who may decide it
    created_at: datetime = _when()


class Reminder(SQLModel, table=True):
    """A reminder, escalation or deadline the tick acts on once (bot.sustain.reminders). `subject`: what it chases
    ("round:2", "why:3", "due:2026-12-15"), so each is sent at most once per improvement."""

    __table_args__ = (
        UniqueConstraint("improvement_id", "kind", "subject", name="uq_reminder_subject"),
        Index("ix_reminder_status_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    improvement_id: int = Field(foreign_key="improvement.id", index=True)
    kind: str = Field(max_length=30)
    subject: str = Field(max_length=60)
    status: str = Field(default="pending", max_length=12)  # pending | sent | cancelled
    due_at: datetime = _when()
    done_at: datetime | None = _when(nullable=True)


class Reading(SQLModel, table=True):
    """One reading of a fix's metric: when it was marked implemented, and at every check-in, per cycle."""

    __table_args__ = (Index("ix_reading_improvement_at", "improvement_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    improvement_id: int = Field(foreign_key="improvement.id")
    cycle: int = 0
    source: str = Field(max_length=12)  # implemented | checkin
    checkin_id: int | None = Field(default=None, foreign_key="checkin.id")
    value: float | None = None
    text: str | None = Field(default=None, max_length=200)  # a reading from before numbers, that did not parse
    at: datetime = _when()


class FixCycle(SQLModel, table=True):
    """One time a fix went live: from marked implemented until it slipped or was closed (None: still live).
    A fix that slipped and was fixed again has one row per cycle, so history keeps the weeks it was live."""

    __tablename__ = "fix_cycle"
    __table_args__ = (
        UniqueConstraint("improvement_id", "cycle", name="uq_fix_cycle"),
        Index("ix_fix_cycle_workspace_live", "workspace_id", "implemented_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    improvement_id: int = Field(foreign_key="improvement.id", index=True)
    cycle: int
    implemented_at: datetime = _when()
    ended_at: datetime | None = _when(nullable=True)
    ended_because: str | None = Field(default=None, max_length=10)  # slipped | closed


class Download(SQLModel, table=True):
    """A file (an export) waiting to be fetched from the bot's own server through an unguessable link, until it
    expires (where the platform takes no files in a chat: Teams)."""

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=64, unique=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    user_id: str = Field(max_length=200)
    filename: str = Field(max_length=120)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = _when()
    expires_at: datetime = _when()


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
    created_at: datetime = _when()


class HomeView(SQLModel, table=True):
    """A person who opened the bot's home (Slack's App Home): published again when something on it changes."""

    __tablename__ = "home_view"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id", name="uq_home_view_user"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    user_id: str = Field(max_length=100)
    opened_at: datetime = _when()


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    improvement_id: int | None = Field(default=None, foreign_key="improvement.id", index=True)
    actor_id: str = Field(max_length=100)
    action: str = Field(max_length=40)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = _when()


class ProcessedEvent(SQLModel, table=True):
    """Inbound events already handled (Slack event_id, Teams activity id): a retry of one does nothing."""

    __tablename__ = "processed_event"
    __table_args__ = (UniqueConstraint("workspace_id", "event_id", name="uq_processed_event"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    event_id: str = Field(max_length=200)
    at: datetime = _when()


class OutboxMessage(SQLModel, table=True):
    """A message to deliver, saved in the same transaction as the change it announces.

    kind: card (post or refresh the improvement's card), thread (reply in its thread), update (edit a posted
    message by key), dm (to a person), channel (a new post in a channel).
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_pending", "status", "next_attempt_at"),
        # the claim's "no older pending row of the same improvement" check (see bot/delivery.py)
        Index(
            "ix_outbox_pending_by_improvement",
            "improvement_id",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
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
    next_attempt_at: datetime = _when()
    claimed_until: datetime | None = _when(nullable=True)  # the lease: renewed while its holder is alive
    claimed_by: str | None = Field(default=None, max_length=36)  # the flush that holds the lease
    claimed_at: datetime | None = _when(nullable=True)  # when it was claimed: a send made by the holder is after it
    # the row may have gone out already (a send whose answer was lost, or a holder that died): it is looked for
    # on the platform, among the messages since this time, before it is ever sent again
    unsure_since: datetime | None = _when(nullable=True)
    created_at: datetime = _when()
    sent_at: datetime | None = _when(nullable=True)


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
    created_at: datetime = _when()


class Checkin(SQLModel, table=True):
    """A sustain check-in: a DM to the owner N days after a fix was implemented, asking whether it holds."""

    __table_args__ = (
        Index("ix_checkin_status_due", "status", "due_at"),
        Index("ix_checkin_workspace_answered", "workspace_id", "answered_at"),  # the home view's sustain rate
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    improvement_id: int = Field(foreign_key="improvement.id", index=True)
    owner_id: str = Field(max_length=100)
    cycle: int = 0  # the improvement's cycle (a reopened fix starts a new one)
    position: int  # 1 of 3 …
    of: int
    after_days: int
    tz: str = Field(max_length=64)  # the owner's zone when scheduled
    status: str = Field(max_length=12)  # scheduled | sent | answered | missed | cancelled
    due_at: datetime = _when()
    sent_at: datetime | None = _when(nullable=True)
    nudge_at: datetime | None = _when(nullable=True)
    nudged_at: datetime | None = _when(nullable=True)
    miss_at: datetime | None = _when(nullable=True)  # unanswered by then: missed
    missed_at: datetime | None = _when(nullable=True)
    answer: str | None = Field(default=None, max_length=10)  # holding | slipping
    signal: str | None = Field(default=None, max_length=10)  # its reading signalled: asked | holding | slipping
    reading: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, sa_column=Column(Text))
    answered_at: datetime | None = _when(nullable=True)
    snoozes: int = 0


class Digest(SQLModel, table=True):
    """One weekly win announcement per workspace and ISO week: the unique key makes it go out once."""

    __table_args__ = (UniqueConstraint("workspace_id", "week", name="uq_digest_workspace_week"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    week: str = Field(max_length=10)  # 2026-W48, in the workspace's zone
    slot_at: datetime = _when()
    status: str = Field(max_length=10)  # posted | empty | skipped
    covers_from: datetime | None = _when(nullable=True)
    covers_until: datetime = _when()
    wins: int = 0
    outbox_id: int | None = Field(default=None)  # the announcement's outbox row: dead means it never went out
    created_at: datetime = _when()


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
    updated_at: datetime = _when()


class HealthCheck(SQLModel, table=True):
    """One row `/healthz` writes to: a database that can be read but not written (disk full, read-only) is down."""

    __tablename__ = "health_check"

    id: int | None = Field(default=None, primary_key=True)
    checked_at: datetime = _when()
