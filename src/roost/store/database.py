"""Opening the database, keeping its schema current, and running transactions.

SQLite (WAL) under the data directory by default; any SQLAlchemy async URL
(``postgresql+asyncpg://…``) works with the same code. Alembic is imported only
when the schema actually needs an upgrade (it costs ~0.1 s and ~12 MB at start-up):
a database already at the head revision costs one query, and a new SQLite file gets
the current schema straight from tables.py (``_create_schema``).

The stores write and read through ``Database.write`` and ``Database.read``: a
transaction is a plain function of a (synchronous) SQLAlchemy ``Connection``. On a
SQLite file it runs whole on one dedicated thread with its own connection, so a
transaction costs one hand-over between threads; through the async engine
(aiosqlite) every statement, BEGIN and COMMIT was such a hand-over, several per
statement, and a turn spent most of its time on them. Elsewhere (PostgreSQL) the
same function runs on the async engine through ``run_sync``.

On a SQLite file the async engine (``Database.engine``) is created only when something
asks for it (the Telegram state store, tests): opening the database, checking its
revision and migrating it run on the database thread too. Importing
``sqlalchemy.ext.asyncio`` pulls in the whole ORM (~0.1 s and ~8 MB at start-up), and
each aiosqlite connection is one more thread.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from roost.store.tables import SCHEMA_REVISION

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_IMMEDIATE = "roost_begin_immediate"
"""Execution option: begin the SQLite transaction holding the write lock."""
_NO_BEGIN = "roost_no_begin"
"""Execution option: emit no BEGIN on SQLite (reads: each statement sees what is committed)."""
T = TypeVar("T")
Work = Callable[[Connection], T]
"""A transaction's body: plain statements on a synchronous connection, no awaiting."""
_WAL_ATTEMPTS = 100
_MIGRATION_LOCK = 0x526F6F7374  # "Roost": the PostgreSQL advisory lock key for migrations


class StoreError(Exception):
    """The database cannot be opened or upgraded; the message says what to do."""


class StorageUnavailable(Exception):
    """A write cannot be stored for a reason only the operator can fix (the message says
    which); nothing was written. ``code`` and ``http_status`` are what clients are told."""

    code = "storage_unavailable"
    http_status = 503


class StorageFull(StorageUnavailable):
    """The disk (or the database's size limit) is full."""

    code = "storage_full"
    http_status = 507


class StorageGone(StorageUnavailable):
    """The database file was deleted or replaced under the running process."""

    code = "storage_gone"
    http_status = 503


_FULL_MESSAGE = (
    "the database is full (no space left on the disk of {url}); "
    "the message was not accepted: free some space and send it again"
)
_GONE_MESSAGE = (
    "the database file {path} was deleted or replaced while Roost was running; "
    "nothing more is accepted until roost run is restarted (restore the file from a "
    "backup first if it was deleted by mistake)"
)
_PG_DISK_FULL = "53100"
"""PostgreSQL's SQLSTATE for disk_full."""


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
        self._engine_options = engine_options
        self._engine: AsyncEngine | None = None
        self._thread: _SqliteThread | None = None
        self._full = _Alarm()
        if self._sqlite_file is not None:
            self._thread = _SqliteThread(parsed.set(drivername="sqlite"), self._sqlite_file)
        else:
            self._engine = self._create_engine()  # an unusable URL fails here, at once

    @property
    def engine(self) -> AsyncEngine:
        """The async engine (created on first use when the database is a SQLite file)."""
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> AsyncEngine:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(self.url, **self._engine_options)
        if self.is_sqlite:
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine

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
            if self._sqlite_file is not None and self._thread is not None:
                self._sqlite_file.parent.mkdir(parents=True, exist_ok=True)
                await self._thread.run(self._thread.open)
                return
            async with self.engine.connect() as connection:
                if await _current_revision_async(connection) == SCHEMA_REVISION:
                    return
                await connection.rollback()
                locked = await connection.execution_options(**{_IMMEDIATE: True})
                async with locked.begin():
                    if not self.is_sqlite:
                        await locked.execute(
                            text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
                        )
                    if await _current_revision_async(locked) != SCHEMA_REVISION:
                        await locked.run_sync(_upgrade)
        except DBAPIError as exc:
            reason = exc.orig if exc.orig is not None else exc
            raise StoreError(f"cannot open the database at {self.display_url}: {reason}") from exc
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the database at {self.display_url}: {exc}") from exc

    async def write(self, work: Work[T], *, urgent: bool = False) -> T:
        """Run ``work`` in one transaction, committed when it returns (rolled back if it raises).

        On SQLite the transaction holds the write lock from its start (BEGIN
        IMMEDIATE), so reading then writing in it never fails half-way for a lock.
        ``urgent`` work (someone waits to hear "accepted") goes before the transactions
        waiting for the database thread, not after them.
        """
        try:
            result = await self._write(work, urgent)
        except (DBAPIError, sqlite3.Error) as exc:
            if not _is_disk_full(exc):
                raise
            self._full.report(_FULL_MESSAGE.format(url=self.display_url))
            raise StorageFull(_FULL_MESSAGE.format(url=self.display_url)) from exc
        self._full.clear()
        return result

    async def _write(self, work: Work[T], urgent: bool) -> T:
        if self._thread is not None:
            call = functools.partial(self._thread.write, work)
            return await self._thread.run(call, urgent)
        async with self.engine.connect() as connection:
            if self.is_sqlite:
                connection = await connection.execution_options(**{_IMMEDIATE: True})
            async with connection.begin():
                return await connection.run_sync(work)

    async def read(self, work: Work[T]) -> T:
        """Run ``work`` for reading only.

        On SQLite no transaction is opened: each statement sees what was committed
        when it ran (WAL), which is what a single query needs; a ``work`` that must
        see one snapshot across several queries runs through ``snapshot``.
        """
        if self._thread is not None:
            return await self._thread.run(functools.partial(self._thread.read, work))
        async with self.engine.connect() as connection:
            if self.is_sqlite:
                connection = await connection.execution_options(**{_NO_BEGIN: True})
            return await connection.run_sync(work)

    async def snapshot(self, work: Work[T]) -> T:
        """Run ``work`` for reading in one transaction: all its queries see one state."""
        if self._thread is not None:
            return await self._thread.run(functools.partial(self._thread.snapshot, work))
        async with self.engine.connect() as connection:
            return await connection.run_sync(work)

    async def close(self) -> None:
        """Close every connection; the next use opens them again."""
        if self._thread is not None:
            await self._thread.close()
        if self._engine is not None:
            await self._engine.dispose()


class _SqliteThread:
    """The thread that runs every ``Database`` transaction on a SQLite file.

    The file is opened again through the standard sqlite3 driver, used on this thread
    only; it keeps two connections open, one for writing (each transaction begins
    holding the write lock: SQLite takes one writer at a time, so in this process
    writers queue here instead of in SQLite's busy handler) and one for reading.
    """

    def __init__(self, url: URL, path: Path) -> None:
        self._path = path
        self._identity: tuple[int, int] | None = None
        """(device, inode) of the file opened: another one there is not our database."""
        self._gone: str | None = None
        self._engine = create_engine(
            url, pool_size=3, max_overflow=0, connect_args={"check_same_thread": False}
        )
        event.listen(self._engine, "connect", _sqlite_pragmas)
        event.listen(self._engine, "begin", _sqlite_begin_direct)
        self._worker: _Worker | None = None
        self._writer: Connection | None = None
        self._reader: Connection | None = None

    async def run(self, call: Callable[[], T], urgent: bool = False) -> T:
        if self._worker is None:
            self._worker = _Worker()
        future = asyncio.wrap_future(self._worker.submit(call, urgent))
        # Shielded: once handed over, a transaction runs to its end even if the caller
        # is cancelled while it waits its turn (a ledger row is never dropped that way).
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            future.add_done_callback(_report_abandoned)
            raise

    # The methods below run on the thread.

    def open(self) -> None:
        """WAL mode, then the schema brought up to date (one query when it already is).

        The check is repeated holding the write lock (BEGIN IMMEDIATE) before
        migrating, so processes opening a new file together wait for one another.
        An empty file gets the current schema directly (``_create_schema``); one at
        an older revision goes through the Alembic migrations.
        """
        self._use_wal()
        self._identity = _file_identity(self._path)
        if self.read(_current_revision) == SCHEMA_REVISION:
            return

        def upgrade(connection: Connection) -> None:
            current = _current_revision(connection)
            if current == SCHEMA_REVISION:
                return
            if current is None and not _has_tables(connection):
                _create_schema(connection)
                return
            if current is not None:
                self._backup_before_upgrade(current)
            _upgrade(connection)

        self.write(upgrade)

    def _backup_before_upgrade(self, revision: str) -> None:
        """Copy the database before migrating it, so an upgrade can be undone.

        Taken holding the write lock (no one writes meanwhile). A copy that cannot be
        taken (a full disk, say) stops the upgrade: nothing is migrated without one.
        """
        from datetime import UTC, datetime

        from roost.store.backup import BackupError, backup_before_upgrade

        try:
            copy = backup_before_upgrade(self._path, revision, datetime.now(UTC))
        except (BackupError, OSError) as exc:
            raise StoreError(
                f"not upgrading {self._path} from schema {revision}: the backup taken "
                f"first failed ({exc}); free some space or fix the cause and start again"
            ) from exc
        log.warning(
            "upgrading %s from schema %s to %s; a copy of it as it was is in %s",
            self._path,
            revision,
            SCHEMA_REVISION,
            copy,
        )

    def _use_wal(self) -> None:
        """Switch the file to WAL, so `roost ask` can read while `roost run` writes.

        The mode is stored in the file, so this is a no-op after the first time. The
        switch itself answers "database is locked" without waiting for the busy timeout
        when another process is opening the same new file, hence the retries.
        """
        for _ in range(_WAL_ATTEMPTS):
            raw = self._engine.raw_connection()
            try:
                driver: Any = raw.driver_connection
                row = driver.execute("PRAGMA journal_mode=WAL").fetchone()
                if str((row or ("",))[0]).lower() == "wal":
                    return
            except sqlite3.OperationalError:
                pass
            finally:
                raw.close()
            time.sleep(0.05)
        log.warning(
            "could not switch %s to WAL mode; readers may wait for writers", self._engine.url
        )

    def write(self, work: Work[T]) -> T:
        connection = self._writer = self._usable(self._writer, _IMMEDIATE)
        if connection.in_transaction():  # left over by a failed commit
            connection.rollback()
        with connection.begin():
            result = work(connection)
            self._check_file()  # before the commit, which would go to a file no one sees
            return result

    def _check_file(self) -> None:
        """Refuse (``StorageGone``) once the file opened was deleted or replaced.

        Without this, writes go on into the deleted file (still open here) and are
        acknowledged, and are lost at the next start. One ``stat`` per write transaction.
        """
        if self._gone is not None:
            raise StorageGone(self._gone)
        if self._identity is None or _file_identity(self._path) == self._identity:
            return
        self._gone = _GONE_MESSAGE.format(path=self._path)
        log.critical(self._gone)
        raise StorageGone(self._gone)

    def read(self, work: Work[T]) -> T:
        connection = self._reader = self._usable(self._reader, _NO_BEGIN)
        try:
            return work(connection)
        finally:
            connection.rollback()  # nothing was begun: only resets SQLAlchemy's state

    def snapshot(self, work: Work[T]) -> T:
        with self._engine.connect() as connection, connection.begin():
            return work(connection)

    def _usable(self, connection: Connection | None, option: str) -> Connection:
        if connection is None or connection.closed or connection.invalidated:
            if connection is not None:
                connection.close()
            connection = self._engine.connect().execution_options(**{option: True})
        return connection

    def _close(self) -> None:
        for connection in (self._writer, self._reader):
            if connection is not None:
                connection.close()
        self._writer = self._reader = None
        self._engine.dispose()

    async def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            await asyncio.wrap_future(worker.submit(self._close, urgent=False))
            worker.shutdown()


class _Worker:
    """The database thread: runs calls one at a time, urgent ones before the others waiting.

    Urgent are the writes someone is waiting on to be told "accepted" (a message into
    the inbox, a job firing): under load dozens of turns' transactions queue here, and
    those should not wait behind them. The one under way always finishes first.
    """

    def __init__(self) -> None:
        self._queue: queue.PriorityQueue[_Job] = queue.PriorityQueue()
        self._order = itertools.count()
        threading.Thread(target=self._work, name="roost-db", daemon=True).start()

    def submit(self, call: Callable[[], T], urgent: bool) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put(_Job(0 if urgent else 1, next(self._order), call, future))
        return future

    def shutdown(self) -> None:
        """End the thread once everything already submitted has run."""
        self._queue.put(_Job(2, next(self._order), None, None))

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job.call is None or job.future is None:
                return
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                result = job.call()
            except BaseException as exc:  # handed to the waiting coroutine
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)


@dataclass(order=True)
class _Job:
    priority: int
    order: int
    call: Callable[[], Any] | None = field(compare=False)
    future: Future[Any] | None = field(compare=False)


class _Alarm:
    """A condition logged once when it starts (a full disk), not once per refused write."""

    def __init__(self) -> None:
        self._raised = False

    def report(self, message: str) -> None:
        if not self._raised:
            self._raised = True
            log.error("%s", message)

    def clear(self) -> None:
        if self._raised:
            self._raised = False
            log.warning("the database accepts writes again")


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def _is_disk_full(exc: Exception) -> bool:
    """SQLite's SQLITE_FULL ("database or disk is full") or PostgreSQL's disk_full."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        return code == sqlite3.SQLITE_FULL or "database or disk is full" in str(orig)
    return _PG_DISK_FULL in (getattr(orig, "sqlstate", None), getattr(orig, "pgcode", None))


def _report_abandoned(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("a transaction whose caller was cancelled failed: %s", future.exception())


async def _current_revision_async(connection: AsyncConnection) -> str | None:
    return await connection.run_sync(_current_revision)


def _current_revision(connection: Connection) -> str | None:
    """The stored Alembic revision (None for a new database): no Alembic import."""
    if not connection.dialect.has_table(connection, "alembic_version"):
        return None
    result = connection.execute(text("SELECT version_num FROM alembic_version"))
    return result.scalar_one_or_none()


def _has_tables(connection: Connection) -> bool:
    found = connection.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1")
    return found.first() is not None


def _create_schema(connection: Connection) -> None:
    """A new SQLite database: the current schema and its revision, without Alembic.

    What Alembic's own documentation suggests for a database built from scratch
    (``create_all``, then stamp the head revision), done without importing Alembic
    (~0.1 s and ~12 MB on a first start). tables.py and the migrations must describe
    the same schema: a test builds one database each way and compares them, table by
    table, column by column, index by index. A migration that changes data rather
    than the schema needs the same done here.
    """
    from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table

    from roost.store.tables import metadata

    log.info("creating the database schema at revision %s", SCHEMA_REVISION)
    metadata.create_all(connection)
    version = Table(  # as Alembic creates it
        "alembic_version",
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )
    version.create(connection)
    connection.execute(version.insert().values(version_num=SCHEMA_REVISION))


def _upgrade(connection: Any) -> None:
    log.info("upgrading the database schema to revision %s", SCHEMA_REVISION)
    _upgrade_to(connection, "head")


def _upgrade_to(connection: Any, revision: str) -> None:
    """Run the Alembic migrations up to ``revision`` on ``connection``."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


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
    options = connection.get_execution_options()
    if options.get(_NO_BEGIN, False):
        return  # a read: autocommit mode, the ROLLBACK at its end is a no-op too
    connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_IMMEDIATE, False) else "BEGIN")


def _sqlite_begin_direct(connection: Any) -> None:
    # _sqlite_begin for the sqlite3 driver, straight to it (the database thread's hot path).
    options = connection.get_execution_options()
    if options.get(_NO_BEGIN, False):
        return
    sql = "BEGIN IMMEDIATE" if options.get(_IMMEDIATE, False) else "BEGIN"
    connection.connection.dbapi_connection.execute(sql)
