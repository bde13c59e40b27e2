"""chronic problems: why an improvement is chronic (its fix slipped twice, its area keeps producing it, or many
people said me too), ranked first among open problems; a report made from a message: who wrote the message
(raised by) and the link to it

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22 15:00:00.000000
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("improvement") as batch_op:
        batch_op.add_column(sa.Column("chronic", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("raised_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("source_link", sa.String(length=500), nullable=True))
    improvement = sa.table("improvement", sa.column("chronic", sa.String()), sa.column("cycle", sa.Integer()),
                           sa.column("me_too", sa.Integer()))  # fmt: skip
    bind = op.get_bind()  # what the rules say of the rows so far (their area's history is judged from now on)
    bind.execute(sa.update(improvement).where(improvement.c.cycle >= 2).values(chronic="reopened"))
    bind.execute(
        sa.update(improvement)
        .where(improvement.c.chronic.is_(None), improvement.c.me_too >= 5)
        .values(chronic="voices")
    )


def downgrade() -> None:
    with op.batch_alter_table("improvement") as batch_op:
        batch_op.drop_column("source_link")
        batch_op.drop_column("raised_by")
        batch_op.drop_column("chronic")
