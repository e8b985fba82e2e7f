"""Every ledger row records its role (routine, planner, summary, fallback).

Revision ID: 0006
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_calls") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="routine"))


def downgrade() -> None:
    with op.batch_alter_table("model_calls") as batch:
        batch.drop_column("role")
