"""The bus (durable inbox and outbox) and the scheduler's jobs and runs.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("turns", sa.Column("envelope_id", sa.Integer))
    op.create_index("ix_turns_envelope", "turns", ["envelope_id"])
    _create_envelopes()
    _create_deliveries()
    _create_jobs()
    _create_job_runs()


def _create_envelopes() -> None:
    op.create_table(
        "envelopes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sender", sa.String(200), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("session", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("reply_to", sa.String(200)),
        sa.Column("depth", sa.Integer, nullable=False),
        sa.Column("meta", sa.Text),
        sa.Column("dedup_key", sa.String(200), unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("finished_at", sa.DateTime),
    )
    op.create_index("ix_envelopes_status", "envelopes", ["status", "id"])


def _create_deliveries() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("envelope_id", sa.Integer, sa.ForeignKey("envelopes.id", ondelete="SET NULL")),
        sa.Column("job_run_id", sa.Integer),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("sender", sa.String(200), nullable=False),
        sa.Column("session", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("meta", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("channel_ref", sa.String(200)),
        sa.Column("delivered_at", sa.DateTime),
    )
    op.create_index("ix_deliveries_status", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_target", "deliveries", ["target", "status"])
    op.create_index("ix_deliveries_job_run", "deliveries", ["job_run_id"])


def _create_jobs() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("agent", sa.String(100), nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("expr", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("session", sa.String(200), nullable=False),
        sa.Column("deliver", sa.Text, nullable=False),
        sa.Column("catch_up", sa.String(8), nullable=False),
        sa.Column("overlap", sa.String(8), nullable=False),
        sa.Column("model", sa.String(200)),
        sa.Column("timeout_s", sa.Float, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("anchor", sa.DateTime, nullable=False),
        sa.Column("next_due", sa.DateTime),
        sa.Column("last_due", sa.DateTime),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
        sa.Column("alerted", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_jobs_due", "jobs", ["state", "next_due"])


def _create_job_runs() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="SET NULL")),
        sa.Column("job_name", sa.String(100), nullable=False),
        sa.Column("scheduled_for", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("envelope_id", sa.Integer),
        sa.Column("session", sa.String(200)),
        sa.Column("input_tokens", sa.Integer, nullable=False),
        sa.Column("output_tokens", sa.Integer, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_job_runs_job", "job_runs", ["job_name", "scheduled_for"])
    op.create_index("ix_job_runs_envelope", "job_runs", ["envelope_id"])


def downgrade() -> None:
    op.drop_table("job_runs")
    op.drop_table("jobs")
    op.drop_table("deliveries")
    op.drop_table("envelopes")
    op.drop_index("ix_turns_envelope", "turns")
    op.drop_column("turns", "envelope_id")
