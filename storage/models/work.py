"""The improvement and its history: reports, whys, decisions, readings, cycles, check-ins, reminders, the weekly
announcements and the audit trail. One workspace (a Slack team, a Teams tenant, the console) owns everything."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models.base import when


class Workspace(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_workspace_platform_external"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)  # slack | teams | console
    external_id: str = Field(max_length=100)  # Slack team id, Teams tenant id
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    last_number: int = 0  # per-workspace improvement numbering: #1, #2 …
    settings_saved_at: datetime | None = when(nullable=True)  # saved in chat: the environment no longer applies
    uninstalled_at: datetime | None = when(nullable=True)  # the app was removed: erased after retention_days
    created_at: datetime = when()


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
    customers_how: str | None = Field(default=None, sa_column=Column(Text))  # how customers notice it, in words
    me_too: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # people who said Me too (MeToo rows)
    chronic: str | None = Field(default=None, max_length=10)  # why it keeps coming back (bot.improvements.chronic)
    idea: str | None = Field(default=None, sa_column=Column(Text))
    reporter_id: str = Field(max_length=100)  # anonymous: a pseudonym (bot.core.identity), never the person
    reporter_sealed: str | None = Field(default=None, sa_column=Column(Text))  # anonymous: their id, encrypted
    raised_by: str | None = Field(default=None, max_length=100)  # who wrote the message it was reported from
    source_link: str | None = Field(default=None, max_length=500)  # that message (a link the platform made)
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
    approved_at: datetime | None = when(nullable=True)  # when the case was locked (see first_approved_at)
    first_approved_at: datetime | None = when(nullable=True)  # the first approval decision
    # the result: the latest reading (every reading is a Reading row); metric_now keeps an old text reading
    metric_now: str | None = Field(default=None, max_length=200)
    metric_now_value: float | None = None
    implemented_note: str | None = Field(default=None, sa_column=Column(Text))
    approved_by: str | None = Field(default=None, max_length=100)
    anonymous: bool = False  # the reporter's name is never shown (credited as "a teammate")
    stalled_at: datetime | None = when(nullable=True)  # the 5 Whys went unanswered (bot.sustain.reminders)
    overdue_at: datetime | None = when(nullable=True)  # the fix passed its due date before it was implemented
    unverified_at: datetime | None = when(nullable=True)  # a check-in was missed; the next answer verifies it
    # closed (bot.improvements.closing): why, by whom, and the status a reopen returns to
    closed_reason: str | None = Field(default=None, max_length=20)
    closed_note: str | None = Field(default=None, sa_column=Column(Text))
    duplicate_of: int | None = None  # the number of the improvement it duplicates
    closed_by: str | None = Field(default=None, max_length=100)
    closed_at: datetime | None = when(nullable=True)
    reopen_status: str | None = Field(default=None, max_length=30)
    created_at: datetime = when()
    updated_at: datetime = when()
    implemented_at: datetime | None = when(nullable=True)
    sustained_at: datetime | None = when(nullable=True)

    __table_args__ = (
        UniqueConstraint("workspace_id", "number", name="uq_improvement_workspace_number"),
        Index("ix_improvement_workspace_implemented", "workspace_id", "implemented_at", "first_approved_at"),
        Index("ix_improvement_workspace_sustained", "workspace_id", "sustained_at"),
        Index("ix_improvement_workspace_status", "workspace_id", "status", "area", "hours_per_week", "people"),  # home
        Index("ix_improvement_workspace_created", "workspace_id", "created_at", "reporter_id"),  # who reported
        Index("ix_improvement_workspace_approved", "workspace_id", "first_approved_at", "created_at"),  # cycle times
        Index("ix_improvement_workspace_reporter", "workspace_id", "reporter_id"),  # … one person's improvements
        Index("ix_improvement_workspace_owner", "workspace_id", "owner_id"),
    )


class MeToo(SQLModel, table=True):
    """Someone who said an improvement's problem bites them too (the "Me too" button, or a duplicate they
    reported). `counted`: it added one to the people affected (before the case was approved)."""

    __tablename__ = "me_too"
    __table_args__ = (UniqueConstraint("improvement_id", "user_id", name="uq_me_too_user"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    improvement_id: int = Field(foreign_key="improvement.id", index=True)
    user_id: str = Field(max_length=100)
    counted: bool = False
    source: str = Field(max_length=12)  # button | duplicate
    created_at: datetime = when()


class Why(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("improvement_id", "position", name="uq_why_improvement_position"),)

    id: int | None = Field(default=None, primary_key=True)
    improvement_id: int = Field(foreign_key="improvement.id", index=True)
    position: int  # 1..5
    question: str = Field(sa_column=Column(Text, nullable=False))
    answer: str | None = Field(default=None, sa_column=Column(Text))
    answered_by: str | None = Field(default=None, max_length=100)
    answered_at: datetime | None = when(nullable=True)
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
    created_at: datetime = when()


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
    due_at: datetime = when()
    done_at: datetime | None = when(nullable=True)


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
    at: datetime = when()


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
    implemented_at: datetime = when()
    ended_at: datetime | None = when(nullable=True)
    ended_because: str | None = Field(default=None, max_length=10)  # slipped | closed


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    improvement_id: int | None = Field(default=None, foreign_key="improvement.id", index=True)
    actor_id: str = Field(max_length=100)
    action: str = Field(max_length=40)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = when()


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
    due_at: datetime = when()
    sent_at: datetime | None = when(nullable=True)
    nudge_at: datetime | None = when(nullable=True)
    nudged_at: datetime | None = when(nullable=True)
    miss_at: datetime | None = when(nullable=True)  # unanswered by then: missed
    missed_at: datetime | None = when(nullable=True)
    answer: str | None = Field(default=None, max_length=10)  # holding | slipping
    signal: str | None = Field(default=None, max_length=10)  # its reading signalled: asked | holding | slipping
    reading: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, sa_column=Column(Text))
    answered_at: datetime | None = when(nullable=True)
    snoozes: int = 0


class Digest(SQLModel, table=True):
    """One weekly win announcement per workspace and ISO week: the unique key makes it go out once."""

    __table_args__ = (UniqueConstraint("workspace_id", "week", name="uq_digest_workspace_week"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    week: str = Field(max_length=10)  # 2026-W48, in the workspace's zone
    slot_at: datetime = when()
    status: str = Field(max_length=10)  # posted | empty | skipped
    covers_from: datetime | None = when(nullable=True)
    covers_until: datetime = when()
    wins: int = 0
    outbox_id: int | None = Field(default=None)  # the announcement's outbox row: dead means it never went out
    created_at: datetime = when()
