"""Read-only views of the conversations for people: sessions with their last activity,
and a session's messages with the status of the turn each belongs to (what `roost
sessions` and `roost history` print). Turns use `Conversations`; nothing here writes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from roost.store.database import Database
from roost.store.tables import messages, sessions, turns
from roost.store.turn_status import TurnStatus


@dataclass(frozen=True)
class SessionSummary:
    agent: str
    key: str
    messages: int
    last_activity: datetime
    """When the session last changed (naive UTC)."""


@dataclass(frozen=True)
class TranscriptLine:
    """One stored message, with how its turn ended."""

    id: int
    created_at: datetime
    role: str
    text: str
    tool_calls: list[dict[str, str]]
    tool_call_id: str | None
    tool_name: str | None
    is_error: bool
    turn_status: str | None

    @property
    def in_context(self) -> bool:
        """Whether later turns send it to the model (see ``TurnStatus.UNCONFIGURED``)."""
        return self.turn_status != TurnStatus.UNCONFIGURED


async def session_summaries(db: Database, agent: str | None = None) -> list[SessionSummary]:
    """Every session (of ``agent``, if given) with messages, newest activity first."""
    count = func.count(messages.c.id)
    query = (
        select(sessions.c.agent, sessions.c.key, sessions.c.updated_at, count)
        .select_from(sessions.outerjoin(messages, messages.c.session_id == sessions.c.id))
        .group_by(sessions.c.id, sessions.c.agent, sessions.c.key, sessions.c.updated_at)
        .order_by(sessions.c.updated_at.desc(), sessions.c.id.desc())
    )
    if agent is not None:
        query = query.where(sessions.c.agent == agent)

    def load(connection: Connection) -> list[SessionSummary]:
        return [
            SessionSummary(str(row[0]), str(row[1]), int(row[3]), row[2])
            for row in connection.execute(query)
        ]

    return await db.read(load)


async def transcript(
    db: Database, agent: str, key: str, limit: int
) -> tuple[list[TranscriptLine], int] | None:
    """The newest ``limit`` messages of a session, oldest first, and how many it has;
    None if the session does not exist."""

    def load(connection: Connection) -> tuple[list[TranscriptLine], int] | None:
        session_id = connection.execute(
            select(sessions.c.id).where(sessions.c.agent == agent, sessions.c.key == key)
        ).scalar_one_or_none()
        if session_id is None:
            return None
        total = connection.execute(
            select(func.count(messages.c.id)).where(messages.c.session_id == session_id)
        ).scalar_one()
        rows = connection.execute(
            select(messages, turns.c.status)
            .select_from(messages.outerjoin(turns, messages.c.turn_id == turns.c.id))
            .where(messages.c.session_id == session_id)
            .order_by(messages.c.id.desc())
            .limit(limit)
        ).mappings()
        return [_line(row) for row in reversed(list(rows))], int(total)

    return await db.read(load)


def _line(row: Any) -> TranscriptLine:
    calls = json.loads(row["tool_calls"]) if row["tool_calls"] else []
    return TranscriptLine(
        id=int(row["id"]),
        created_at=row["created_at"],
        role=str(row["role"]),
        text=str(row["text"] or ""),
        tool_calls=[
            {"id": str(c["id"]), "name": str(c["name"]), "arguments": str(c["arguments"])}
            for c in calls
        ],
        tool_call_id=row["tool_call_id"],
        tool_name=row["tool_name"],
        is_error=bool(row["is_error"]),
        turn_status=row["status"],
    )
