"""Small JSON values under a name, kept across restarts (e.g. ``telegram:offset``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from roost.store.database import Database
from roost.store.tables import state, utcnow


class StateStore:
    def __init__(self, db: Database) -> None:
        self._engine = db.engine

    async def get(self, key: str, default: Any = None) -> Any:
        async with self._engine.connect() as connection:
            query = select(state.c.value).where(state.c.key == key)
            raw = (await connection.execute(query)).scalar_one_or_none()
        return default if raw is None else json.loads(raw)

    async def set(self, key: str, value: Any) -> None:
        raw = json.dumps(value, ensure_ascii=False)
        now = utcnow()
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(state).where(state.c.key == key).values(value=raw, updated_at=now)
            )
            if result.rowcount:
                return
        try:
            async with self._engine.begin() as connection:
                await connection.execute(state.insert().values(key=key, value=raw, updated_at=now))
        except IntegrityError:  # another writer inserted it first: last write wins
            async with self._engine.begin() as connection:
                await connection.execute(
                    update(state).where(state.c.key == key).values(value=raw, updated_at=now)
                )

    async def delete(self, key: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(state.delete().where(state.c.key == key))

    async def with_prefix(self, prefix: str) -> dict[str, Any]:
        query = select(state.c.key, state.c.value).where(
            state.c.key.startswith(prefix, autoescape=True)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return {row[0]: json.loads(row[1]) for row in rows}
