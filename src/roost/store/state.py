"""Small JSON values under a name, kept across restarts (e.g. ``telegram:offset``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from roost.store.database import Database
from roost.store.tables import state, utcnow


class StateStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, key: str, default: Any = None) -> Any:
        query = select(state.c.value).where(state.c.key == key)

        def get(connection: Connection) -> str | None:
            return connection.execute(query).scalar_one_or_none()

        raw = await self._db.read(get)
        return default if raw is None else json.loads(raw)

    async def set(self, key: str, value: Any) -> None:
        raw = json.dumps(value, ensure_ascii=False)

        def upsert(connection: Connection) -> None:
            now = utcnow()
            changed = connection.execute(
                update(state).where(state.c.key == key).values(value=raw, updated_at=now)
            )
            if not changed.rowcount:
                connection.execute(state.insert().values(key=key, value=raw, updated_at=now))

        try:
            await self._db.write(upsert)
        except IntegrityError:  # another writer inserted it first: last write wins
            await self._db.write(upsert)

    async def delete(self, key: str) -> None:
        def delete(connection: Connection) -> None:
            connection.execute(state.delete().where(state.c.key == key))

        await self._db.write(delete)

    async def with_prefix(self, prefix: str) -> dict[str, Any]:
        query = select(state.c.key, state.c.value).where(
            state.c.key.startswith(prefix, autoescape=True)
        )

        def rows(connection: Connection) -> list[tuple[str, str]]:
            return [(row[0], row[1]) for row in connection.execute(query)]

        return {key: json.loads(value) for key, value in await self._db.read(rows)}
