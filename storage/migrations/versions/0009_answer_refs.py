"""why: which message carried the answer (edits and deletions follow it), and the question's message when re-asked

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 00:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("why") as batch_op:
        batch_op.add_column(sa.Column("answer_ref", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("message_key", sa.String(length=60), nullable=True))
        batch_op.create_index("ix_why_answer_ref", ["answer_ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("why") as batch_op:
        batch_op.drop_index("ix_why_answer_ref")
        batch_op.drop_column("message_key")
        batch_op.drop_column("answer_ref")
