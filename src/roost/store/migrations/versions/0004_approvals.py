"""Approvals a tool waits for, and the patterns "Always" added to agents' allowlists.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("agent", sa.String(100), nullable=False),
        sa.Column("tool", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("pattern", sa.Text),
        sa.Column("session", sa.String(200), nullable=False),
        sa.Column("envelope_id", sa.Integer),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("requested_at", sa.DateTime, nullable=False),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("decided_at", sa.DateTime),
    )
    op.create_index("ix_approvals_state", "approvals", ["state", "id"])
    op.create_table(
        "allowed_patterns",
        sa.Column("agent", sa.String(100), primary_key=True),
        sa.Column("tool", sa.String(200), primary_key=True),
        sa.Column("pattern", sa.String(1000), primary_key=True),
        sa.Column("added_by", sa.String(200), nullable=False),
        sa.Column("added_at", sa.DateTime, nullable=False),
        sa.Column("approval_id", sa.Integer),
    )


def downgrade() -> None:
    op.drop_table("allowed_patterns")
    op.drop_index("ix_approvals_state", table_name="approvals")
    op.drop_table("approvals")
