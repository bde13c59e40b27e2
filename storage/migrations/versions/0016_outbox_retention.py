"""retention: delivered messages of a workspace found by their age without reading the others

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 13:00:00.000000
"""

from __future__ import annotations

from alembic import op


revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_workspace_done", "outbox_message", ["workspace_id", "status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_workspace_done", table_name="outbox_message")
