"""Agents' long-term notes, ranked by full-text search.

SQLite: an FTS5 index (``memory_fts``, external content: it holds only the index, the
text stays in ``memory_notes``), created here on first use because not every sqlite3
library has FTS5 compiled in; without it, notes are ranked by how often the query's
words occur in them, and `roost doctor` says so. PostgreSQL: ``to_tsvector``
and ``ts_rank`` over the expression migration 0005 indexes.

A query is never passed to a search syntax as written: it is cut into words (letters
and digits; common English words dropped), each quoted as a phrase (FTS5) or turned into a query by
``plainto_tsquery`` (PostgreSQL), and the words are OR-ed, ranked by relevance. So
``"``, ``*``, ``NEAR(`` or ``OR OR`` are ordinary input, not errors.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, text

from roost.store.database import Database
from roost.store.tables import memory_notes, utcnow

log = logging.getLogger(__name__)

MAX_QUERY_WORDS = 32
_WORD = re.compile(r"\w+")
_FTS = "memory_fts"
_PG_DOCUMENT = "to_tsvector('english', text || ' ' || tags)"
"""The expression 0005's GIN index is built on: the query must use it as written."""


class MemoryFull(Exception):
    """The agent keeps as many notes as it may."""


@dataclass(frozen=True)
class Note:
    id: int
    text: str
    tags: tuple[str, ...]
    created_at: datetime


@cache
def sqlite_has_fts5() -> bool:
    """Whether this Python's sqlite3 library has FTS5 compiled in."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute("CREATE VIRTUAL TABLE probe USING fts5(x)")
    except sqlite3.OperationalError:
        return False
    finally:
        connection.close()
    return True


_STOP_WORD_LIST = (
    "a an and are as at be but by can did do does for from had has have how i if in "
    "is it its me my no not of on or our so that the their them then there these they "
    "this to us was we were what when where which who why will with you your"
)
_STOP_WORDS = frozenset(_STOP_WORD_LIST.split())
"""Dropped from a query (unless nothing else is left): in an OR of words they would
match, and rank, nearly every note. PostgreSQL's 'english' configuration drops its own."""


def query_words(query: str) -> list[str]:
    """The words searched for (letters and digits only: no search syntax survives)."""
    words = list(dict.fromkeys(_WORD.findall(query.lower())))
    meaningful = [word for word in words if word not in _STOP_WORDS]
    return (meaningful or words)[:MAX_QUERY_WORDS]


class MemoryStore:
    """Every agent's notes; each agent reads and deletes only its own."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._fts_ready = False

    @property
    def _fts(self) -> bool:
        return self._db.is_sqlite and sqlite_has_fts5()

    async def add(self, agent: str, note: str, tags: tuple[str, ...], max_notes: int) -> Note:
        """Store a note; ``MemoryFull`` once the agent has ``max_notes``."""
        joined = " ".join(tags)
        created = utcnow()

        def work(connection: Connection) -> int:
            self._prepare(connection)
            count = connection.execute(
                select(func.count()).select_from(memory_notes).where(memory_notes.c.agent == agent)
            ).scalar_one()
            if count >= max_notes:
                raise MemoryFull(f"{count} notes kept, the limit (memory.max_notes) is {max_notes}")
            values = {"agent": agent, "text": note, "tags": joined, "created_at": created}
            inserted = connection.execute(insert(memory_notes).values(values))
            note_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
            if self._fts:
                connection.execute(
                    text(f"INSERT INTO {_FTS}(rowid, text, tags) VALUES (:id, :text, :tags)"),
                    {"id": note_id, "text": note, "tags": joined},
                )
            return note_id

        return Note(await self._db.write(work), note, tags, created)

    async def forget(self, agent: str, note_id: int) -> bool:
        """Delete one of ``agent``'s notes; False if it has none with that id."""

        def work(connection: Connection) -> bool:
            self._prepare(connection)
            mine = (memory_notes.c.id == note_id) & (memory_notes.c.agent == agent)
            row = connection.execute(
                select(memory_notes.c.text, memory_notes.c.tags).where(mine)
            ).first()
            if row is None:
                return False
            if self._fts:  # an external-content index is told what it indexed
                connection.execute(
                    text(
                        f"INSERT INTO {_FTS}({_FTS}, rowid, text, tags) "
                        "VALUES ('delete', :id, :text, :tags)"
                    ),
                    {"id": note_id, "text": row.text, "tags": row.tags},
                )
            connection.execute(delete(memory_notes).where(mine))
            return True

        return await self._db.write(work)

    async def search(self, agent: str, query: str, limit: int) -> list[Note]:
        """``agent``'s notes matching any word of ``query``, the most relevant first."""
        words = query_words(query)
        if not words:
            return []
        if self._fts and not self._fts_ready:
            await self._db.write(self._prepare)
        if not self._db.is_sqlite:
            return await self._db.read(lambda c: _search_postgres(c, agent, words, limit))
        if self._fts:
            return await self._db.read(lambda c: _search_fts5(c, agent, words, limit))
        return await self._db.read(lambda c: _search_like(c, agent, words, limit))

    def _prepare(self, connection: Connection) -> None:
        """Create the FTS5 index on first use, filled from the notes already stored."""
        if self._fts_ready or not self._fts:
            return
        exists = connection.execute(
            text("SELECT 1 FROM sqlite_master WHERE name = :name"), {"name": _FTS}
        ).first()
        if exists is None:
            connection.execute(
                text(
                    f"CREATE VIRTUAL TABLE {_FTS} USING fts5(text, tags, content='memory_notes', "
                    "content_rowid='id', tokenize='porter unicode61')"
                )
            )
            connection.execute(text(f"INSERT INTO {_FTS}({_FTS}) VALUES ('rebuild')"))
            log.info("created the full-text index of the agents' notes")
        self._fts_ready = True


_COLUMNS = (memory_notes.c.id, memory_notes.c.text, memory_notes.c.tags, memory_notes.c.created_at)
"""What a search selects, typed (a DateTime read back from SQLite as a datetime)."""


def _note(row: Row[Any]) -> Note:
    return Note(int(row.id), str(row.text), tuple((row.tags or "").split()), row.created_at)


def _search_fts5(connection: Connection, agent: str, words: list[str], limit: int) -> list[Note]:
    # Each word a quoted phrase (\w+ holds no quote), OR-ed; bm25: lower is better.
    match = " OR ".join(f'"{word}"' for word in words)
    rows = connection.execute(
        text(
            f"SELECT n.id, n.text, n.tags, n.created_at FROM {_FTS} "
            f"JOIN memory_notes n ON n.id = {_FTS}.rowid "
            f"WHERE {_FTS} MATCH :match AND n.agent = :agent "
            f"ORDER BY bm25({_FTS}), n.id DESC LIMIT :limit"
        ).columns(*_COLUMNS),
        {"match": match, "agent": agent, "limit": limit},
    )
    return [_note(row) for row in rows]


def _search_postgres(
    connection: Connection, agent: str, words: list[str], limit: int
) -> list[Note]:
    # plainto_tsquery accepts any text; "||" ORs the words' queries.
    query = " || ".join(f"plainto_tsquery('english', :w{i})" for i in range(len(words)))
    rows = connection.execute(
        text(
            "SELECT id, text, tags, created_at "
            f"FROM memory_notes, (SELECT {query} AS q) AS search "
            f"WHERE agent = :agent AND {_PG_DOCUMENT} @@ search.q "
            f"ORDER BY ts_rank({_PG_DOCUMENT}, search.q) DESC, id DESC LIMIT :limit"
        ).columns(*_COLUMNS),
        {"agent": agent, "limit": limit, **{f"w{i}": word for i, word in enumerate(words)}},
    )
    return [_note(row) for row in rows]


def _search_like(connection: Connection, agent: str, words: list[str], limit: int) -> list[Note]:
    # No FTS5: a note's score is how often the words occur in it (a crude term frequency).
    document = "lower(text || ' ' || tags)"
    score = " + ".join(
        f"(length({document}) - length(replace({document}, :w{i}, ''))) / length(:w{i})"
        for i in range(len(words))
    )
    rows = connection.execute(
        text(
            "SELECT id, text, tags, created_at FROM memory_notes "
            f"WHERE agent = :agent AND ({score}) > 0 "
            f"ORDER BY ({score}) DESC, id DESC LIMIT :limit"
        ).columns(*_COLUMNS),
        {"agent": agent, "limit": limit, **{f"w{i}": word for i, word in enumerate(words)}},
    )
    return [_note(row) for row in rows]
