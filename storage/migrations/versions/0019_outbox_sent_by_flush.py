"""a workspace's bulk stays with the flush that sent its last message for a while (bot/delivery/claims.py): sent
rows keep their holder until it lets go, found through this index

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 18:00:00.000000
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_sent_by_flush",
            ["status", "sent_at"],
            unique=False,
            postgresql_where=sa.text("claimed_by IS NOT NULL"),
            sqlite_where=sa.text("claimed_by IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_sent_by_flush")
