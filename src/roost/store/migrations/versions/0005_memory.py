"""Agents' long-term notes (remember, recall, forget).

On PostgreSQL an expression GIN index serves the full-text search (store/memory.py uses
the same expression); on SQLite the FTS5 index is created by store/memory.py when the
notes are first used, where the sqlite3 library has FTS5 (it is not everywhere).

Revision ID: 0005
Revises: 0003 (0004_approvals is written in parallel: re-point this at merge)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "memory_notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("agent", sa.String(100), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("tags", sa.String(400), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_memory_notes_agent", "memory_notes", ["agent", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_memory_notes_fts ON memory_notes USING GIN "
            "(to_tsvector('english', text || ' ' || tags))"
        )


def downgrade() -> None:
    op.drop_table("memory_notes")
