"""home views: charts drawn once per change of their data, who opened the home (to publish it again), and the
indexes the home view's team figures read

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 09:00:00.000000
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa

from storage.models import UTCDateTime


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chart_image",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspace.id"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False, unique=True),
        sa.Column("png", sa.LargeBinary(), nullable=False),
        sa.Column("ref", sa.String(length=500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("workspace_id", "kind", "digest", name="uq_chart_image_digest"),
    )
    op.create_table(
        "home_view",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspace.id"), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("workspace_id", "user_id", name="uq_home_view_user"),
    )
    op.create_index(
        "ix_improvement_workspace_status", "improvement", ["workspace_id", "status", "area", "hours_per_week", "people"]
    )
    op.create_index("ix_improvement_workspace_created", "improvement", ["workspace_id", "created_at", "reporter_id"])
    op.create_index("ix_improvement_workspace_approved", "improvement", ["workspace_id", "approved_at", "created_at"])
    op.create_index("ix_improvement_workspace_reporter", "improvement", ["workspace_id", "reporter_id"])
    op.create_index("ix_improvement_workspace_owner", "improvement", ["workspace_id", "owner_id"])
    op.create_index("ix_checkin_workspace_answered", "checkin", ["workspace_id", "answered_at"])


def downgrade() -> None:
    op.drop_index("ix_checkin_workspace_answered", table_name="checkin")
    op.drop_index("ix_improvement_workspace_owner", table_name="improvement")
    op.drop_index("ix_improvement_workspace_reporter", table_name="improvement")
    op.drop_index("ix_improvement_workspace_approved", table_name="improvement")
    op.drop_index("ix_improvement_workspace_created", table_name="improvement")
    op.drop_index("ix_improvement_workspace_status", table_name="improvement")
    op.drop_table("home_view")
    op.drop_table("chart_image")
