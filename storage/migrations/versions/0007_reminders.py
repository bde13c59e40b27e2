"""reminders, escalations and deadlines as rows with a due time; stalled, overdue and unverified improvements

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 23:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reminder",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspace.id"), nullable=False),
        sa.Column("improvement_id", sa.Integer(), sa.ForeignKey("improvement.id"), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("subject", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("improvement_id", "kind", "subject", name="uq_reminder_subject"),
    )
    op.create_index("ix_reminder_workspace_id", "reminder", ["workspace_id"])
    op.create_index("ix_reminder_improvement_id", "reminder", ["improvement_id"])
    op.create_index("ix_reminder_status_due", "reminder", ["status", "due_at"])
    with op.batch_alter_table("improvement") as batch_op:
        batch_op.add_column(sa.Column("stalled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("unverified_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("improvement") as batch_op:
        batch_op.drop_column("unverified_at")
        batch_op.drop_column("overdue_at")
        batch_op.drop_column("stalled_at")
    op.drop_index("ix_reminder_status_due", table_name="reminder")
    op.drop_index("ix_reminder_improvement_id", table_name="reminder")
    op.drop_index("ix_reminder_workspace_id", table_name="reminder")
    op.drop_table("reminder")
