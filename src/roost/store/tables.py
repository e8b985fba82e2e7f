"""The schema as the code sees it. Changes to it ship with a migration in migrations/versions."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

SCHEMA_REVISION = "0008"
"""The newest migration's revision id; a test keeps it in step with migrations/versions."""

metadata = MetaData()


def utcnow() -> datetime:
    """Naive UTC: stored the same way by SQLite and PostgreSQL, compared as such."""
    return datetime.now(UTC).replace(tzinfo=None)


sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("agent", String(100), nullable=False),
    Column("key", String(200), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("agent", "key", name="uq_sessions_agent_key"),
)

turns = Table(
    "turns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("agent", String(100), nullable=False),
    Column("status", String(20), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("rounds", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("envelope_id", Integer),
    Index("ix_turns_status", "status"),
    Index("ix_turns_envelope", "envelope_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("turn_id", Integer, ForeignKey("turns.id", ondelete="SET NULL")),
    Column("role", String(16), nullable=False),
    Column("text", Text, nullable=False, default=""),
    Column("tool_calls", Text),
    Column("tool_call_id", String(200)),
    Column("tool_name", String(100)),
    Column("is_error", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_messages_session", "session_id", "id"),
)

session_summaries = Table(
    # Compaction: what a session's oldest messages said, sent in their place. The
    # messages stay; ``covers_through`` is the id of the newest one it summarises.
    "session_summaries",
    metadata,
    Column(
        "session_id",
        Integer,
        ForeignKey("sessions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("text", Text, nullable=False),
    Column("covers_through", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

model_calls = Table(
    "model_calls",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Column("agent", String(100), nullable=False),
    Column("session_key", String(200), nullable=False),
    Column("turn_id", Integer, ForeignKey("turns.id", ondelete="SET NULL")),
    Column("provider", String(100), nullable=False),
    Column("model", String(200), nullable=False),
    Column("input_tokens", Integer, nullable=False, default=0),
    Column("output_tokens", Integer, nullable=False, default=0),
    Column("cache_read_tokens", Integer, nullable=False, default=0),
    Column("cache_write_tokens", Integer, nullable=False, default=0),
    Column("cost_usd", Float, nullable=False, default=0.0),
    Column("priced", Boolean, nullable=False, default=True),
    Column("duration_ms", Integer, nullable=False, default=0),
    Column("status", String(20), nullable=False),
    Column("error", Text),
    Column("role", String(16), nullable=False, default="routine", server_default="routine"),
    Index("ix_model_calls_created", "created_at"),
    Index("ix_model_calls_agent", "agent", "created_at"),
)

envelopes = Table(
    # The durable inbox: every message to an agent, stored before it is acknowledged.
    "envelopes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Column("sender", String(200), nullable=False),
    Column("recipient", String(200), nullable=False),
    Column("session", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("reply_to", String(200)),
    Column("depth", Integer, nullable=False, default=0),
    Column("meta", Text),
    Column("dedup_key", String(200), unique=True),
    Column("status", String(16), nullable=False),
    Column("finished_at", DateTime),
    Index("ix_envelopes_status", "status", "id"),
)

deliveries = Table(
    # The durable outbox: every reply or message to a channel, stored before it is sent.
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Column("envelope_id", Integer, ForeignKey("envelopes.id", ondelete="SET NULL")),
    Column("job_run_id", Integer),
    Column("target", String(200), nullable=False),
    Column("sender", String(200), nullable=False),
    Column("session", String(200), nullable=False, default=""),
    Column("body", Text, nullable=False),
    Column("meta", Text),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime),
    Column("last_error", Text),
    Column("channel_ref", String(200)),
    Column("delivered_at", DateTime),
    Index("ix_deliveries_status", "status", "next_attempt_at"),
    Index("ix_deliveries_target", "target", "status"),
    Index("ix_deliveries_job_run", "job_run_id"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("owner", String(200), nullable=False),
    Column("agent", String(100), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("expr", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("session", String(200), nullable=False),
    Column("deliver", Text, nullable=False, default="[]"),
    Column("catch_up", String(8), nullable=False),
    Column("overlap", String(8), nullable=False),
    Column("model", String(200)),
    Column("timeout_s", Float, nullable=False),
    Column("state", String(12), nullable=False),
    Column("anchor", DateTime, nullable=False),
    Column("next_due", DateTime),
    Column("last_due", DateTime),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("alerted", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_jobs_due", "state", "next_due"),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="SET NULL")),
    Column("job_name", String(100), nullable=False),
    Column("scheduled_for", DateTime, nullable=False),
    Column("started_at", DateTime),
    Column("finished_at", DateTime),
    Column("status", String(12), nullable=False),
    Column("envelope_id", Integer),
    Column("session", String(200)),
    Column("input_tokens", Integer, nullable=False, default=0),
    Column("output_tokens", Integer, nullable=False, default=0),
    Column("cost_usd", Float, nullable=False, default=0.0),
    Column("error", Text),
    Index("ix_job_runs_job", "job_name", "scheduled_for"),
    Index("ix_job_runs_envelope", "envelope_id"),
)

state = Table(
    # Small named values a part keeps across restarts (a channel's polling offset, pairings).
    "state",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

memory_notes = Table(
    # An agent's long-term notes. Full-text search: an FTS5 index kept beside it on
    # SQLite (store/memory.py creates it), an expression GIN index on PostgreSQL (0005).
    "memory_notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("agent", String(100), nullable=False),
    Column("text", Text, nullable=False),
    Column("tags", String(400), nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    Index("ix_memory_notes_agent", "agent", "id"),
)

approvals = Table(
    # A tool's request for the owner's decision (the shell's command, an MCP call).
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("agent", String(100), nullable=False),
    Column("tool", String(200), nullable=False),
    Column("summary", Text, nullable=False),
    Column("pattern", Text),
    Column("session", String(200), nullable=False),
    Column("envelope_id", Integer),
    Column("state", String(12), nullable=False),
    Column("requested_at", DateTime, nullable=False),
    Column("decided_by", String(200)),
    Column("decided_at", DateTime),
    Index("ix_approvals_state", "state", "id"),
)

allowed_patterns = Table(
    # What an owner's "Always" added to an agent's allowlist for a tool.
    "allowed_patterns",
    metadata,
    Column("agent", String(100), primary_key=True),
    Column("tool", String(200), primary_key=True),
    Column("pattern", String(1000), primary_key=True),
    Column("added_by", String(200), nullable=False),
    Column("added_at", DateTime, nullable=False),
    Column("approval_id", Integer),
)
