"""anonymous reports: the reporter's id, sealed (bot.core.identity); an anonymous improvement's reporter_id holds
a pseudonym

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 12:00:00.000000
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("improvement") as batch_op:
        batch_op.add_column(sa.Column("reporter_sealed", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("improvement") as batch_op:
        batch_op.drop_column("reporter_sealed")
