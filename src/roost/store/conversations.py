"""Sessions, turns and messages: every step of a conversation, persisted as it happens."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from roost.providers.base import Message, ToolCall
from roost.store.database import Database
from roost.store.tables import messages, sessions, turns, utcnow

TURN_RUNNING = "running"
TURN_INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class SessionInfo:
    agent: str
    key: str
    messages: int
    updated_at: datetime


class Conversations:
    def __init__(self, db: Database) -> None:
        self._engine = db.engine

    async def session_id(self, agent: str, key: str) -> int:
        """The id of the session, created on first use."""
        query = select(sessions.c.id).where(sessions.c.agent == agent, sessions.c.key == key)
        async with self._engine.begin() as connection:
            existing = (await connection.execute(query)).scalar_one_or_none()
            if existing is not None:
                return int(existing)
        now = utcnow()
        try:
            async with self._engine.begin() as connection:
                result = await connection.execute(
                    insert(sessions).values(agent=agent, key=key, created_at=now, updated_at=now)
                )
                return int(result.inserted_primary_key[0])  # type: ignore[index]
        except IntegrityError:
            # Another process (e.g. `roost ask` beside `roost run`) created it first.
            async with self._engine.begin() as connection:
                return int((await connection.execute(query)).scalar_one())

    async def history(self, session_id: int, limit: int = 400) -> list[Message]:
        """The most recent ``limit`` messages of a session, oldest first."""
        query = (
            select(messages)
            .where(messages.c.session_id == session_id)
            .order_by(messages.c.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_to_message(row) for row in reversed(rows)]

    async def append(self, session_id: int, turn_id: int | None, message: Message) -> None:
        calls = (
            json.dumps(
                [
                    {"id": c.id, "name": c.name, "arguments": c.arguments_json}
                    for c in message.tool_calls
                ]
            )
            if message.tool_calls
            else None
        )
        now = utcnow()
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(messages).values(
                    session_id=session_id,
                    turn_id=turn_id,
                    role=message.role,
                    text=message.text,
                    tool_calls=calls,
                    tool_call_id=message.tool_call_id,
                    tool_name=message.tool_name,
                    is_error=message.is_error,
                    created_at=now,
                )
            )
            await connection.execute(
                update(sessions).where(sessions.c.id == session_id).values(updated_at=now)
            )

    async def start_turn(self, session_id: int, agent: str, envelope_id: int | None = None) -> int:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                insert(turns).values(
                    session_id=session_id,
                    agent=agent,
                    status=TURN_RUNNING,
                    started_at=utcnow(),
                    rounds=0,
                    envelope_id=envelope_id,
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    async def turn_for_envelope(self, envelope_id: int) -> int | None:
        """The latest turn that worked on an envelope, if any (a crash interrupted it)."""
        query = select(func.max(turns.c.id)).where(turns.c.envelope_id == envelope_id)
        async with self._engine.connect() as connection:
            value = (await connection.execute(query)).scalar_one_or_none()
        return int(value) if value is not None else None

    async def last_message_of_turn(self, turn_id: int) -> Message | None:
        query = (
            select(messages)
            .where(messages.c.turn_id == turn_id)
            .order_by(messages.c.id.desc())
            .limit(1)
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).mappings().first()
        return _to_message(row) if row else None

    async def reset_session(self, agent: str, key: str) -> bool:
        """Forget a session's history (its turns and ledger rows stay for the accounts)."""
        query = select(sessions.c.id).where(sessions.c.agent == agent, sessions.c.key == key)
        async with self._engine.begin() as connection:
            session_id = (await connection.execute(query)).scalar_one_or_none()
            if session_id is None:
                return False
            await connection.execute(delete(messages).where(messages.c.session_id == session_id))
            return True

    async def finish_turn(
        self, turn_id: int, status: str, rounds: int, error: str | None = None
    ) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(turns)
                .where(turns.c.id == turn_id)
                .values(status=status, rounds=rounds, error=error, finished_at=utcnow())
            )

    async def interrupt_running_turns(self, agents: list[str] | None = None) -> int:
        """Mark turns left ``running`` by a process that died as ``interrupted``."""
        statement = update(turns).where(turns.c.status == TURN_RUNNING)
        if agents is not None:
            statement = statement.where(turns.c.agent.in_(agents))
        async with self._engine.begin() as connection:
            result = await connection.execute(
                statement.values(status=TURN_INTERRUPTED, finished_at=utcnow())
            )
            return int(result.rowcount)

    async def turn_status(self, turn_id: int) -> str | None:
        async with self._engine.connect() as connection:
            query = select(turns.c.status).where(turns.c.id == turn_id)
            return (await connection.execute(query)).scalar_one_or_none()

    async def list_sessions(self, agent: str) -> list[SessionInfo]:
        query = (
            select(
                sessions.c.agent, sessions.c.key, sessions.c.updated_at, func.count(messages.c.id)
            )
            .select_from(sessions.outerjoin(messages, messages.c.session_id == sessions.c.id))
            .where(sessions.c.agent == agent)
            .group_by(sessions.c.id)
            .order_by(sessions.c.updated_at.desc())
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [SessionInfo(row[0], row[1], int(row[3]), row[2]) for row in rows]


def _to_message(row: object) -> Message:
    data = dict(row)  # type: ignore[call-overload]
    calls = tuple(
        ToolCall(call["id"], call["name"], call["arguments"])
        for call in json.loads(data["tool_calls"] or "[]")
    )
    return Message(
        role=data["role"],
        text=data["text"] or "",
        tool_calls=calls,
        tool_call_id=data["tool_call_id"],
        tool_name=data["tool_name"],
        is_error=bool(data["is_error"]),
    )
