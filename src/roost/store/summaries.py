"""A session's running summary: what its oldest messages said, sent in their place.

Compaction (``roost.agents.compaction``) writes it; the messages it covers stay in
``messages`` (the full history is never deleted by compaction), and a reset of the
session deletes the summary with the messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from roost.store.database import Database
from roost.store.tables import session_summaries, utcnow


@dataclass(frozen=True)
class CompactionSummary:
    text: str
    covers_through: int
    """The id of the newest message the summary stands for."""


class Summaries:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, session_id: int) -> CompactionSummary | None:
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

        await self._db.write(store)
