"""Opening the database and keeping its schema current.

SQLite (WAL) under the data directory by default; any SQLAlchemy async URL
(``postgresql+asyncpg://…``) works with the same code. Alembic is imported only
when the schema actually needs an upgrade: it costs ~0.3 s of start-up.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from roost.store.tables import SCHEMA_REVISION

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_IMMEDIATE = "roost_begin_immediate"
"""Execution option: begin the SQLite transaction holding the write lock."""
_WAL_ATTEMPTS = 100
_MIGRATION_LOCK = 0x526F6F7374  # "Roost": the PostgreSQL advisory lock key for migrations


class StoreError(Exception):
    """The database cannot be opened or upgraded; the message says what to do."""


class Database:
    """An async engine plus the knowledge of how to prepare it."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self._sqlite_file = (
            Path(parsed.database).expanduser()
            if self.is_sqlite and parsed.database and parsed.database != ":memory:"
            else None
        )
        self.engine: AsyncEngine = create_async_engine(url, **engine_options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, for logs and status output."""
        return make_url(self.url).render_as_string(hide_password=True)

    async def open(self) -> None:
        """Bring the schema up to date (one query when it already is).

        The check and the upgrade run in one transaction that holds the database's
        write lock (SQLite) or an advisory lock (PostgreSQL), so processes starting
        together on a new database wait for one another instead of racing.
        """
        try:
            if self._sqlite_file is not None:
                self._sqlite_file.parent.mkdir(parents=True, exist_ok=True)
                await self._use_wal()
            async with self.engine.connect() as connection:
                if await _current_revision(connection) == SCHEMA_REVISION:
                    return
                await connection.rollback()
                locked = await connection.execution_options(**{_IMMEDIATE: True})
                async with locked.begin():
                    if not self.is_sqlite:
                        await locked.execute(
                            text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
                        )
                    if await _current_revision(locked) != SCHEMA_REVISION:
                        await locked.run_sync(_upgrade)
        except DBAPIError as exc:
            reason = exc.orig if exc.orig is not None else exc
            raise StoreError(f"cannot open the database at {self.display_url}: {reason}") from exc
        except OSError as exc:
            raise StoreError(f"cannot open the database at {self.display_url}: {exc}") from exc

    async def _use_wal(self) -> None:
        """Switch the file to WAL, so `roost ask` can read while `roost run` writes.

        The mode is stored in the file, so this is a no-op after the first time. The
        switch itself answers "database is locked" without waiting for the busy timeout
        when another process is opening the same new file, hence the retries.
        """
        for _ in range(_WAL_ATTEMPTS):
            async with self.engine.connect() as connection:
                driver: Any = (await connection.get_raw_connection()).driver_connection
                try:
                    cursor = await driver.execute("PRAGMA journal_mode=WAL")
                    mode = (await cursor.fetchone() or ("",))[0]
                    await cursor.close()
                    if str(mode).lower() == "wal":
                        return
                except sqlite3.OperationalError:
                    pass
            await asyncio.sleep(0.05)
        log.warning("could not switch %s to WAL mode; readers may wait for writers", self.url)

    async def close(self) -> None:
        await self.engine.dispose()


async def _current_revision(connection: AsyncConnection) -> str | None:
    has_table = await connection.run_sync(
        lambda sync: sync.dialect.has_table(sync, "alembic_version")
    )
    if not has_table:
        return None
    result = await connection.execute(text("SELECT version_num FROM alembic_version"))
    return result.scalar_one_or_none()


def _upgrade(connection: Any) -> None:
    from alembic import command
    from alembic.config import Config

    log.info("upgrading the database schema to revision %s", SCHEMA_REVISION)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 module's own transaction handling skips BEGIN before DDL, which
    # would make a migration non-atomic; SQLAlchemy emits BEGIN instead (_sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # NORMAL is durable across application crashes in WAL mode (see _use_wal), which
    # is what matters on a home machine.
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    immediate = connection.get_execution_options().get(_IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
