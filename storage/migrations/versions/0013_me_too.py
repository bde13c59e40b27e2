"""me too: who said an improvement's problem bites them too, the count on the improvement (ranked by), and how
customers notice a problem, in words

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22 12:00:00.000000
"""

from __future__ import annotations

from typing import Any

from alembic import op
import sqlalchemy as sa

from storage.models import UTCDateTime


revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "me_too",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspace.id"), nullable=False),
        sa.Column("improvement_id", sa.Integer(), sa.ForeignKey("improvement.id"), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("improvement_id", "user_id", name="uq_me_too_user"),
    )
    op.create_index("ix_me_too_improvement_id", "me_too", ["improvement_id"])
    with op.batch_alter_table("improvement") as batch_op:
        batch_op.add_column(sa.Column("customers_how", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("me_too", sa.Integer(), nullable=False, server_default="0"))
    _voices_of_duplicates(op.get_bind())


_IMPROVEMENT = sa.table(
    "improvement",
    sa.column("id", sa.Integer()),
    sa.column("workspace_id", sa.Integer()),
    sa.column("number", sa.Integer()),
    sa.column("reporter_id", sa.String()),
    sa.column("closed_reason", sa.String()),
    sa.column("duplicate_of", sa.Integer()),
    sa.column("closed_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
    sa.column("me_too", sa.Integer()),
)
_ME_TOO = sa.table(
    "me_too",
    sa.column("workspace_id", sa.Integer()),
    sa.column("improvement_id", sa.Integer()),
    sa.column("user_id", sa.String()),
    sa.column("counted", sa.Boolean()),
    sa.column("source", sa.String()),
    sa.column("created_at", UTCDateTime()),
)


def _voices_of_duplicates(bind: Any) -> None:
    """A duplicate closed before voices existed added one to its original's people: it becomes that voice (so a
    reopen takes it back, and its reporter is not counted twice)."""
    imp = _IMPROVEMENT.c
    duplicates = bind.execute(
        sa.select(imp.workspace_id, imp.reporter_id, imp.duplicate_of, imp.closed_at, imp.updated_at).where(
            imp.closed_reason == "duplicate", imp.duplicate_of.is_not(None)
        )
    ).all()
    seen: set[tuple[int, str]] = set()
    for workspace_id, reporter, number, closed_at, updated_at in duplicates:
        original = bind.execute(
            sa.select(imp.id, imp.reporter_id).where(imp.workspace_id == workspace_id, imp.number == number)
        ).first()
        if original is None or original.reporter_id == reporter or (original.id, reporter) in seen:
            continue
        seen.add((original.id, reporter))
        bind.execute(sa.insert(_ME_TOO).values(workspace_id=workspace_id, improvement_id=original.id, user_id=reporter,
                                               counted=True, source="duplicate", created_at=closed_at or updated_at))  # fmt: skip
    for improvement_id in {improvement_id for improvement_id, _ in seen}:
        count = sum(1 for voiced, _ in seen if voiced == improvement_id)
        bind.execute(sa.update(_IMPROVEMENT).where(imp.id == improvement_id).values(me_too=count))


def downgrade() -> None:
    with op.batch_alter_table("improvement") as batch_op:
        batch_op.drop_column("me_too")
        batch_op.drop_column("customers_how")
    op.drop_index("ix_me_too_improvement_id", table_name="me_too")
    op.drop_table("me_too")
