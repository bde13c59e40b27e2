"""me too: who said an improvement's problem bites them too, the count on the improvement (ranked by), and how
customers notice a problem, in words

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22 12:00:00.000000
"""

from __future__ import annotations

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


def downgrade() -> None:
    with op.batch_alter_table("improvement") as batch_op:
        batch_op.drop_column("me_too")
        batch_op.drop_column("customers_how")
    op.drop_index("ix_me_too_improvement_id", table_name="me_too")
    op.drop_table("me_too")
