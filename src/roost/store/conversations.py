"""Sessions, turns and messages: every step of a conversation, persisted as it happens.

A turn touches the database in few transactions (see ``begin_turn`` and ``append``),
and the history it sends to the model comes from memory: the newest messages of
recently active sessions are kept here, updated by this process's own writes and
checked against the database in the transaction that starts each turn, so a
message written by another process (``roost ask --local`` beside ``roost run``, a
reset) is never missed: the history is read again instead.
"""

from __future__ import annotations

import json
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from roost.providers.base import Message, ToolCall
from roost.store.database import Database
from roost.store.summaries import Summaries
from roost.store.tables import messages, session_summaries, sessions, turns, utcnow
from roost.store.turn_status import TurnStatus

HISTORY_LIMIT = 400
"""How many of a session's newest messages a turn starts from (``history``'s default)."""
CACHED_SESSIONS = 64
CACHED_CHARS = 4_000_000
"""Bounds of the in-memory history: sessions, and characters of text over all of them."""
KNOWN_SESSION_IDS = 4096

WriteInTransaction = Callable[[Connection], object]
"""A write done in another write's transaction, given its connection: a ledger row (see
``Ledger.entry``), an envelope's end stored with a turn's final answer."""


@dataclass(frozen=True)
class SessionInfo:
    agent: str
    key: str
    messages: int
    updated_at: datetime


@dataclass(frozen=True)
class TurnEnd:
    """How a turn ended, stored with its last message when there is one."""

    status: TurnStatus
    rounds: int
    error: str | None = None


@dataclass(frozen=True)
class TurnStart:
    turn_id: int
    history: list[Message]
    """The newest ``HISTORY_LIMIT`` messages, oldest first, the new user message last."""
    ids: list[int] = field(default_factory=list)
    """The stored id of each message of ``history`` (what a summary's coverage is told by)."""


_Newest = tuple[int, datetime] | None
"""A session's newest message as (id, created_at): ids can be reused after a reset."""
_NOT_HELD = object()

_SESSION_ID = select(sessions.c.id).where(
    sessions.c.agent == bindparam("agent"), sessions.c.key == bindparam("key")
)
_INSERT_SESSION = insert(sessions)
_TOUCH_SESSION = (
    update(sessions)
    .where(sessions.c.id == bindparam("session_id"))
    .values(updated_at=bindparam("now"))
)
_INSERT_TURN = insert(turns)
_FINISH_TURN = (
    update(turns)
    .where(turns.c.id == bindparam("turn_id"))
    .values(
        status=bindparam("status"),
        rounds=bindparam("rounds"),
        error=bindparam("error"),
        finished_at=bindparam("now"),
    )
)
_INSERT_MESSAGE = insert(messages)
_MESSAGE_COLUMNS = (
    messages.c.id,
    messages.c.created_at,
    messages.c.role,
    messages.c.text,
    messages.c.tool_calls,
    messages.c.tool_call_id,
    messages.c.tool_name,
    messages.c.is_error,
)
_NEWEST = (
    select(messages.c.id, messages.c.created_at)
    .where(messages.c.session_id == bindparam("session_id"))
    .order_by(messages.c.id.desc())
    .limit(1)
)
_HISTORY = (
    select(*_MESSAGE_COLUMNS)
    .where(messages.c.session_id == bindparam("session_id"))
    .order_by(messages.c.id.desc())
    .limit(bindparam("limit"))
)
_UNCONFIGURED_TURNS = select(turns.c.id).where(
    turns.c.status == TurnStatus.UNCONFIGURED, turns.c.session_id == bindparam("session_id")
)
_CONTEXT = (
    select(*_MESSAGE_COLUMNS)
    .where(
        messages.c.session_id == bindparam("session_id"),
        or_(messages.c.turn_id.is_(None), messages.c.turn_id.not_in(_UNCONFIGURED_TURNS)),
    )
    .order_by(messages.c.id.desc())
    .limit(bindparam("limit"))
)
"""``_HISTORY`` as a turn's context: without the messages of unconfigured turns."""


class _History:
    """The newest messages of one session, exactly as stored, up to ``HISTORY_LIMIT``."""

    __slots__ = ("chars", "ids", "messages", "newest")

    def __init__(self, rows: Sequence[Any]) -> None:
        # rows: newest first, as _HISTORY returns them
        self.messages: deque[Message] = deque(
            (_to_message(row) for row in reversed(rows)), maxlen=HISTORY_LIMIT
        )
        self.ids: deque[int] = deque((int(row.id) for row in reversed(rows)), maxlen=HISTORY_LIMIT)
        self.newest: _Newest = (rows[0].id, rows[0].created_at) if rows else None
        self.chars = sum(_size(message) for message in self.messages)

    def add(self, message: Message, newest: tuple[int, datetime]) -> int:
        """Append a stored message; returns the change in characters held."""
        before = self.chars
        if len(self.messages) == HISTORY_LIMIT:
            self.chars -= _size(self.messages[0])
        self.messages.append(message)
        self.ids.append(newest[0])
        self.chars += _size(message)
        self.newest = newest
        return self.chars - before


class _HistoryCache:
    """Recently used sessions' histories, least recently used dropped first."""

    def __init__(self, max_sessions: int, max_chars: int) -> None:
        self._entries: OrderedDict[int, _History] = OrderedDict()
        self._max_sessions = max_sessions
        self._max_chars = max_chars
        self._chars = 0

    def newest(self, session_id: int) -> _Newest | object:
        """The newest message held for a session, or ``_NOT_HELD``."""
        entry = self._entries.get(session_id)
        return _NOT_HELD if entry is None else entry.newest

    def get(self, session_id: int, newest: _Newest) -> _History | None:
        """The session's history if it is current (its newest message is ``newest``)."""
        entry = self._entries.get(session_id)
        if entry is None:
            return None
        if entry.newest != newest:
            self.drop(session_id)
            return None
        self._entries.move_to_end(session_id)
        return entry

    def put(self, session_id: int, entry: _History) -> None:
        self.drop(session_id)
        self._entries[session_id] = entry
        self._chars += entry.chars
        self._trim()

    def add(
        self, session_id: int, before: _Newest, message: Message, newest: tuple[int, datetime]
    ) -> None:
        """Record a message this process stored, if the session's history is held and was
        current just before it (``before``); otherwise forget the session."""
        entry = self._entries.get(session_id)
        if entry is None:
            return
        if entry.newest != before:
            self.drop(session_id)
            return
        self._chars += entry.add(message, newest)
        self._trim()

    def drop(self, session_id: int) -> None:
        entry = self._entries.pop(session_id, None)
        if entry is not None:
            self._chars -= entry.chars

    def _trim(self) -> None:
        while self._entries and (
            len(self._entries) > self._max_sessions or self._chars > self._max_chars
        ):
            _, entry = self._entries.popitem(last=False)
            self._chars -= entry.chars


class Conversations:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._session_ids: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._histories = _HistoryCache(CACHED_SESSIONS, CACHED_CHARS)
        self.summaries = Summaries(db)
        """Each session's running summary (compaction), reset with its messages."""

    async def session_id(self, agent: str, key: str) -> int:
        """The id of the session, created on first use.

        Sessions are never deleted (a reset deletes their messages), so ids are
        remembered, for the most recently used sessions.
        """
        known = self._session_ids.get((agent, key))
        if known is not None:
            self._session_ids.move_to_end((agent, key))
            return known
        params = {"agent": agent, "key": key}

        def find(connection: Connection) -> int | None:
            return connection.execute(_SESSION_ID, params).scalar_one_or_none()

        def create(connection: Connection) -> int:
            existing = find(connection)
            if existing is not None:
                return existing
            now = utcnow()
            values = {"agent": agent, "key": key, "created_at": now, "updated_at": now}
            result = connection.execute(_INSERT_SESSION, values)
            return int(result.inserted_primary_key[0])  # type: ignore[index]

        session_id = await self._db.read(find)
        if session_id is None:
            try:
                session_id = await self._db.write(create)
            except IntegrityError:
                # Another process (e.g. `roost ask` beside `roost run`) created it first.
                session_id = await self._db.read(find)
                if session_id is None:
                    raise
        self._session_ids[(agent, key)] = int(session_id)
        if len(self._session_ids) > KNOWN_SESSION_IDS:
            self._session_ids.popitem(last=False)
        return int(session_id)

    async def history(
        self, session_id: int, limit: int = HISTORY_LIMIT, *, context: bool = False
    ) -> list[Message]:
        """The most recent ``limit`` messages of a session, oldest first (from the database);
        with ``context``, only those a turn sends to the model (see ``TurnStatus.UNCONFIGURED``)."""
        query = _CONTEXT if context else _HISTORY

        def load(connection: Connection) -> Sequence[Any]:
            return connection.execute(query, {"session_id": session_id, "limit": limit}).all()

        rows = await self._db.read(load)
        return [_to_message(row) for row in reversed(rows)]

    async def _read_context(self, session_id: int) -> _History:
        """What a turn sends of the session, with the messages' ids, from the database."""

        def load(connection: Connection) -> Sequence[Any]:
            return connection.execute(
                _CONTEXT, {"session_id": session_id, "limit": HISTORY_LIMIT}
            ).all()

        return _History(await self._db.read(load))

    async def begin_turn(
        self,
        session_id: int,
        agent: str,
        envelope_id: int | None = None,
        text: str | None = None,
    ) -> TurnStart:
        """Start a turn and store its user message ``text`` (none when a recovered turn
        resumes), in one transaction; return the turn's id and the history to run it on.
        """
        now = utcnow()
        held = self._histories
        expected = held.newest(session_id)

        def begin(connection: Connection) -> tuple[int, _Newest, _Newest, Sequence[Any] | None]:
            turn_id = _insert_turn(connection, session_id, agent, envelope_id, now)
            before = after = _newest(connection, session_id)
            if text is not None:
                user = Message(role="user", text=text)
                after = _insert_message(connection, session_id, turn_id, user, now)
                connection.execute(_TOUCH_SESSION, {"session_id": session_id, "now": now})
            rows = None
            if expected is _NOT_HELD or before != expected:
                rows = connection.execute(
                    _CONTEXT, {"session_id": session_id, "limit": HISTORY_LIMIT}
                ).all()
            return turn_id, before, after, rows

        try:
            turn_id, before, after, rows = await self._db.write(begin)
        except BaseException:
            held.drop(session_id)
            raise
        if rows is not None:
            loaded = _History(rows)
            held.put(session_id, loaded)
            return TurnStart(turn_id, list(loaded.messages), list(loaded.ids))
        entry = held.get(session_id, before)
        if entry is None:  # changed while the transaction ran: read it again
            entry = await self._read_context(session_id)
        elif text is not None and after is not None:
            held.add(session_id, before, Message(role="user", text=text), after)
        return TurnStart(turn_id, list(entry.messages), list(entry.ids))

    async def append(
        self,
        session_id: int,
        turn_id: int | None,
        message: Message,
        *,
        also: Iterable[WriteInTransaction] = (),
        end: TurnEnd | None = None,
    ) -> None:
        """Store a message of a turn; with it, in the same transaction, the writes in
        ``also`` (the ledger row of the call that produced it) and the turn's ``end``."""
        extra = tuple(also)
        now = utcnow()

        def store(connection: Connection) -> tuple[_Newest, tuple[int, datetime]]:
            for write in extra:
                write(connection)
            before = _newest(connection, session_id)
            after = _insert_message(connection, session_id, turn_id, message, now)
            if end is not None and turn_id is not None:
                _finish(connection, turn_id, end, now)
            if end is not None or turn_id is None:
                connection.execute(_TOUCH_SESSION, {"session_id": session_id, "now": now})
            return before, after

        try:
            before, after = await self._db.write(store)
        except BaseException:
            self._histories.drop(session_id)
            raise
        self._histories.add(session_id, before, message, after)

    async def start_turn(self, session_id: int, agent: str, envelope_id: int | None = None) -> int:
        """Start a turn without a message (``begin_turn`` stores one with it)."""
        now = utcnow()

        return await self._db.write(
            lambda connection: _insert_turn(connection, session_id, agent, envelope_id, now)
        )

    async def last_message_of_envelope(self, session_id: int, envelope_id: int) -> Message | None:
        """The newest message stored by any turn that worked on an envelope, if any.

        Every earlier turn counts, not only the latest: after two crashes in one turn the
        latest (the interrupted re-run) may have stored nothing while an earlier one
        stored the user message, or even the answer.
        """
        of_envelope = select(turns.c.id).where(turns.c.envelope_id == envelope_id)
        query = (
            select(*_MESSAGE_COLUMNS)
            .where(messages.c.session_id == session_id, messages.c.turn_id.in_(of_envelope))
            .order_by(messages.c.id.desc())
            .limit(1)
        )

        def find(connection: Connection) -> Any:
            return connection.execute(query).first()

        row = await self._db.read(find)
        return _to_message(row) if row else None

    async def reset_session(self, agent: str, key: str) -> bool:
        """Forget a session's history (its turns and ledger rows stay for the accounts)."""
        params = {"agent": agent, "key": key}

        def reset(connection: Connection) -> int | None:
            session_id = connection.execute(_SESSION_ID, params).scalar_one_or_none()
            if session_id is not None:
                connection.execute(delete(messages).where(messages.c.session_id == session_id))
                # Ids may be reused once the messages are gone: the summary goes with them.
                connection.execute(
                    delete(session_summaries).where(session_summaries.c.session_id == session_id)
                )
            return session_id

        try:
            session_id = await self._db.write(reset)
        except BaseException:
            known = self._session_ids.get((agent, key))
            if known is not None:
                self._histories.drop(known)
                self.summaries.forget(known)
            raise
        if session_id is None:
            return False
        self._histories.drop(session_id)
        self.summaries.forget(session_id)
        return True

    async def finish_turn(
        self,
        turn_id: int,
        status: TurnStatus,
        rounds: int,
        error: str | None = None,
        *,
        also: Iterable[WriteInTransaction] = (),
    ) -> None:
        """Record how a turn ended; with it, in the same transaction, the writes in ``also``."""
        end = TurnEnd(status, rounds, error)
        extra = tuple(also)
        now = utcnow()

        def finish(connection: Connection) -> int | None:
            for write in extra:
                write(connection)
            _finish(connection, turn_id, end, now)
            if status != TurnStatus.UNCONFIGURED:
                return None
            return connection.execute(
                select(turns.c.session_id).where(turns.c.id == turn_id)
            ).scalar_one_or_none()

        session_id = await self._db.write(finish)
        if session_id is not None:
            # The history held has this turn's user message in it: read it again next time.
            self._histories.drop(int(session_id))

    async def interrupt_running_turns(self, agents: list[str] | None = None) -> int:
        """Mark turns left ``running`` by a process that died as ``interrupted``."""
        statement = update(turns).where(turns.c.status == TurnStatus.RUNNING)
        if agents is not None:
            statement = statement.where(turns.c.agent.in_(agents))
        statement = statement.values(status=TurnStatus.INTERRUPTED, finished_at=utcnow())

        def interrupt(connection: Connection) -> int:
            return int(connection.execute(statement).rowcount)

        return await self._db.write(interrupt)

    async def turn_status(self, turn_id: int) -> str | None:
        query = select(turns.c.status).where(turns.c.id == turn_id)

        def find(connection: Connection) -> str | None:
            return connection.execute(query).scalar_one_or_none()

        return await self._db.read(find)

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

        def find(connection: Connection) -> Sequence[Any]:
            return connection.execute(query).all()

        rows = await self._db.read(find)
        return [SessionInfo(row[0], row[1], int(row[3]), row[2]) for row in rows]


def _newest(connection: Connection, session_id: int) -> _Newest:
    row = connection.execute(_NEWEST, {"session_id": session_id}).first()
    return (int(row[0]), row[1]) if row is not None else None


def _insert_turn(
    connection: Connection, session_id: int, agent: str, envelope_id: int | None, now: datetime
) -> int:
    result = connection.execute(
        _INSERT_TURN,
        {
            "session_id": session_id,
            "agent": agent,
            "status": TurnStatus.RUNNING,
            "started_at": now,
            "rounds": 0,
            "envelope_id": envelope_id,
        },
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def _insert_message(
    connection: Connection,
    session_id: int,
    turn_id: int | None,
    message: Message,
    now: datetime,
) -> tuple[int, datetime]:
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
    result = connection.execute(
        _INSERT_MESSAGE,
        {
            "session_id": session_id,
            "turn_id": turn_id,
            "role": message.role,
            "text": message.text,
            "tool_calls": calls,
            "tool_call_id": message.tool_call_id,
            "tool_name": message.tool_name,
            "is_error": message.is_error,
            "created_at": now,
        },
    )
    return int(result.inserted_primary_key[0]), now  # type: ignore[index]


def _finish(connection: Connection, turn_id: int, end: TurnEnd, now: datetime) -> None:
    connection.execute(
        _FINISH_TURN,
        {
            "turn_id": turn_id,
            "status": end.status,
            "rounds": end.rounds,
            "error": end.error,
            "now": now,
        },
    )


def _size(message: Message) -> int:
    return len(message.text) + sum(len(c.arguments_json) for c in message.tool_calls) + 64


def _to_message(row: Any) -> Message:
    calls = (
        tuple(
            ToolCall(call["id"], call["name"], call["arguments"])
            for call in json.loads(row.tool_calls)
        )
        if row.tool_calls
        else ()
    )
    return Message(
        role=row.role,
        text=row.text or "",
        tool_calls=calls,
        tool_call_id=row.tool_call_id,
        tool_name=row.tool_name,
        is_error=bool(row.is_error),
    )
