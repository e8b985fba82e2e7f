"""A session's running summary: what its oldest messages said, sent in their place.

Compaction (``roost.agents.compaction``) writes it; the messages it covers stay in
``messages`` (the full history is never deleted by compaction), and a reset of the
session deletes the summary with the messages.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from roost.store.database import Database
from roost.store.tables import session_summaries, utcnow


@dataclass(frozen=True)
class CompactionSummary:
    text: str
    covers_through: int
    """The id of the newest message the summary stands for."""


REMEMBERED_SESSIONS = 1024
"""Sessions whose summary (or its absence) is kept in memory, most recently used."""


class Summaries:
    """The summaries table, with each recently used session's summary kept in memory.

    Every turn of a session with compaction asks for its summary; it changes only when this
    process compacts (``save``) or resets the session (``forget``), so a turn need not read
    the table each time. (A turn run by another process on the same session, while this one
    runs, goes through this process's gateway.)
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._known: OrderedDict[int, CompactionSummary | None] = OrderedDict()

    async def get(self, session_id: int) -> CompactionSummary | None:
        if session_id in self._known:
            self._known.move_to_end(session_id)
            return self._known[session_id]
        found = await self._read(session_id)
        self._remember(session_id, found)
        return found

    def forget(self, session_id: int) -> None:
        """The session's summary changed outside ``save`` (a reset deleted it)."""
        self._known.pop(session_id, None)

    def _remember(self, session_id: int, summary: CompactionSummary | None) -> None:
        self._known[session_id] = summary
        self._known.move_to_end(session_id)
        if len(self._known) > REMEMBERED_SESSIONS:
            self._known.popitem(last=False)

    async def _read(self, session_id: int) -> CompactionSummary | None:
        query = select(session_summaries.c.text, session_summaries.c.covers_through).where(
            session_summaries.c.session_id == session_id
        )

        def find(connection: Connection) -> CompactionSummary | None:
            row = connection.execute(query).first()
            return CompactionSummary(row[0], int(row[1])) if row is not None else None

        return await self._db.read(find)

    async def save(self, session_id: int, summary: CompactionSummary) -> None:
        """Replace the session's summary (one transaction: never two, never none)."""
        values = {
            "session_id": session_id,
            "text": summary.text,
            "covers_through": summary.covers_through,
            "updated_at": utcnow(),
        }

        def store(connection: Connection) -> None:
            connection.execute(
                delete(session_summaries).where(session_summaries.c.session_id == session_id)
            )
            connection.execute(insert(session_summaries), values)

        self.forget(session_id)  # a failed write leaves the table's value to be read again
        await self._db.write(store)
        self._remember(session_id, summary)
