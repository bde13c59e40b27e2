"""the time of an improvement's first approval, apart from the time its case was locked (a fix approved without an
estimate has its case locked when it is implemented): the home view's "approved this quarter" and cycle times read it
(the implemented index covers it: the median days approved -> implemented read no table row)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 10:00:00.000000
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from storage.models import UTCDateTime


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_improvement_workspace_approved", table_name="improvement")
    with op.batch_alter_table("improvement") as batch_op:
        batch_op.add_column(sa.Column("first_approved_at", UTCDateTime(), nullable=True))
    # the first "approved" decision of each improvement (one statement: the same on SQLite and PostgreSQL)
    approved = "decision.improvement_id = improvement.id AND decision.kind = 'approved'"
    op.execute(
        f"UPDATE improvement SET first_approved_at = (SELECT MIN(decision.created_at) FROM decision WHERE {approved}) "
        f"WHERE EXISTS (SELECT 1 FROM decision WHERE {approved})"
    )
    with op.batch_alter_table("chart_image") as batch_op:  # when its ref was made (a refusal soon after is patience)
        batch_op.add_column(sa.Column("ref_at", UTCDateTime(), nullable=True))
    op.create_index(
        "ix_improvement_workspace_approved", "improvement", ["workspace_id", "first_approved_at", "created_at"]
    )
    op.drop_index("ix_improvement_workspace_implemented", table_name="improvement")
    op.create_index(
        "ix_improvement_workspace_implemented", "improvement", ["workspace_id", "implemented_at", "first_approved_at"]
    )


def downgrade() -> None:
    with op.batch_alter_table("chart_image") as batch_op:
        batch_op.drop_column("ref_at")
    op.drop_index("ix_improvement_workspace_implemented", table_name="improvement")
    op.create_index("ix_improvement_workspace_implemented", "improvement", ["workspace_id", "implemented_at"])
    op.drop_index("ix_improvement_workspace_approved", table_name="improvement")
    with op.batch_alter_table("improvement") as batch_op:
        batch_op.drop_column("first_approved_at")
    op.create_index("ix_improvement_workspace_approved", "improvement", ["workspace_id", "approved_at", "created_at"])
