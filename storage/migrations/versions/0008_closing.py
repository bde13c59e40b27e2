"""improvement: closed with a reason (withdrawn, won't fix, duplicate of #N), and what a reopen returns to

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 23:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("improvement") as batch_op:
        batch_op.add_column(sa.Column("closed_reason", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("closed_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("duplicate_of", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("closed_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reopen_status", sa.String(length=30), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("improvement") as batch_op:
        for column in ("reopen_status", "closed_at", "closed_by", "duplicate_of", "closed_note", "closed_reason"):
            batch_op.drop_column(column)
