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

SCHEMA_REVISION = "0001"
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
    Index("ix_turns_status", "status"),
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
    Index("ix_model_calls_created", "created_at"),
    Index("ix_model_calls_agent", "agent", "created_at"),
)
