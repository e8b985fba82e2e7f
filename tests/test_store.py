"""The store on SQLite (always) and PostgreSQL (when a server is reachable).

PostgreSQL: $ROOST_TEST_POSTGRES_URL, default postgresql+asyncpg://postgres@127.0.0.1:5432/test.
Each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from roost.ledger.ledger import CallRecord, Ledger
from roost.ledger.pricing import PriceTable
from roost.providers.base import Message, ToolCall, Usage
from roost.store.conversations import Conversations, TurnEnd
from roost.store.database import MIGRATIONS_DIR, Database, StorageFull, StoreError
from roost.store.tables import SCHEMA_REVISION, utcnow

POSTGRES_URL = os.environ.get(
    "ROOST_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def _postgres_schema() -> str:
    """Create a fresh schema, or skip with the reason the server is unusable."""
    try:
        import asyncpg  # type: ignore[import-untyped]
    except ImportError:
        pytest.skip("asyncpg is not installed (pip install 'roost[postgres]')")
    dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    schema = f"roost_test_{uuid.uuid4().hex[:12]}"
    try:
        connection = await asyncpg.connect(dsn, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"no PostgreSQL server usable at {POSTGRES_URL}: {exc}")
    try:
        await connection.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await connection.close()
    return schema


async def _drop_schema(schema: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(
        POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    )
    try:
        await connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'roost.db'}")
        await database.open()
        yield database
        await database.close()
        return
    schema = await _postgres_schema()
    database = Database(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})
    await database.open()
    try:
        yield database
    finally:
        await database.close()
        await _drop_schema(schema)


def test_schema_revision_matches_the_newest_migration() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_REVISION


async def test_migrations_create_tables_and_reopening_is_a_no_op(db: Database) -> None:
    from sqlalchemy import inspect, text

    async with db.engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        revision = (
            await connection.execute(text("SELECT version_num FROM alembic_version"))
        ).scalar()
    assert {"sessions", "turns", "messages", "model_calls", "alembic_version"} <= set(names)
    assert revision == SCHEMA_REVISION
    await db.open()  # already current: must not fail or duplicate anything


def _sqlite_schema(path: Path) -> dict[str, object]:
    """Every table's columns, indexes (with their columns) and foreign keys."""
    import sqlite3

    with sqlite3.connect(path) as connection:
        schema: dict[str, object] = {}
        names = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        for (name,) in names.fetchall():
            indexes = []
            for index in connection.execute(f"PRAGMA index_list('{name}')").fetchall():
                columns = connection.execute(f"PRAGMA index_info('{index[1]}')").fetchall()
                indexes.append((*index[1:5], [column[2] for column in columns]))
            indexes.sort()
            schema[name] = (
                connection.execute(f"PRAGMA table_info('{name}')").fetchall(),
                indexes,
                sorted(connection.execute(f"PRAGMA foreign_key_list('{name}')").fetchall()),
            )
    return schema


def _migrate_with_alembic(path: Path, revision: str = "head") -> None:
    from sqlalchemy import create_engine

    from roost.store.database import _upgrade_to

    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            _upgrade_to(connection, revision)
    finally:
        engine.dispose()


async def test_a_new_database_gets_the_schema_the_migrations_build(tmp_path: Path) -> None:
    """A new SQLite file is created from tables.py; it must equal the migrations' result."""
    _migrate_with_alembic(tmp_path / "migrated.db")
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'created.db'}")
    await database.open()
    await database.close()
    migrated = _sqlite_schema(tmp_path / "migrated.db")
    assert "alembic_version" in migrated
    assert _sqlite_schema(tmp_path / "created.db") == migrated


async def test_a_database_at_an_older_revision_is_migrated(tmp_path: Path) -> None:
    from sqlalchemy import select

    from roost.store.tables import sessions

    path = tmp_path / "old.db"
    _migrate_with_alembic(path, "0002")
    database = Database(f"sqlite+aiosqlite:///{path}")
    store = Conversations(database)
    await database.open()
    try:
        session = await store.session_id("a", "kept")
        rows = await database.read(lambda c: c.execute(select(sessions.c.key)).all())
        revision = await database.read(
            lambda c: c.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        )
    finally:
        await database.close()
    assert session and [row[0] for row in rows] == ["kept"]
    assert revision == SCHEMA_REVISION
    assert _sqlite_schema(path).keys() >= {"state", "jobs", "envelopes"}


def _modules_after_open(path: Path) -> set[str]:
    """Open the database in a fresh interpreter; which heavy modules did that import?"""
    import subprocess
    import sys

    script = (
        "import asyncio, sys\n"
        "from roost.store.database import Database\n"
        f"db = Database('sqlite+aiosqlite:///{path}')\n"
        "asyncio.run(db.open()); asyncio.run(db.close())\n"
        "heavy = ('alembic', 'sqlalchemy.ext.asyncio', 'sqlalchemy.orm', 'aiosqlite')\n"
        "print(' '.join(name for name in heavy if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return set(result.stdout.split())


def test_opening_a_new_or_current_sqlite_database_does_not_import_alembic(
    tmp_path: Path,
) -> None:
    path = tmp_path / "roost.db"
    assert _modules_after_open(path) == set()  # new: created from tables.py
    assert _modules_after_open(path) == set()  # current: one query
    old = tmp_path / "old.db"
    _migrate_with_alembic(old, "0002")
    assert "alembic" in _modules_after_open(old)  # older: migrated by Alembic


async def test_messages_round_trip_in_order(db: Database) -> None:
    store = Conversations(db)
    session = await store.session_id("assistant", "cli:default")
    assert await store.session_id("assistant", "cli:default") == session
    other = await store.session_id("coder", "cli:default")
    assert other != session
    turn = await store.start_turn(session, "assistant")
    call = ToolCall("call-1", "read_file", '{"path": "a.txt"}')
    written = [
        Message("user", "read a.txt"),
        Message("assistant", "Let me look.", (call,)),
        Message("tool", "hello", tool_call_id="call-1", tool_name="read_file", is_error=True),
        Message("assistant", "It says hello."),
    ]
    for message in written:
        await store.append(session, turn, message)
    await store.finish_turn(turn, "ok", rounds=2)
    assert await store.history(session) == written
    assert await store.history(session, limit=2) == written[2:]
    assert await store.history(other) == []
    assert await store.turn_status(turn) == "ok"
    sessions = await store.list_sessions("assistant")
    assert [(s.key, s.messages) for s in sessions] == [("cli:default", 4)]


async def test_running_turns_are_marked_interrupted(db: Database) -> None:
    store = Conversations(db)
    session = await store.session_id("assistant", "s")
    running = await store.start_turn(session, "assistant")
    done = await store.start_turn(session, "assistant")
    await store.finish_turn(done, "ok", 1)
    assert await store.interrupt_running_turns() == 1
    assert await store.turn_status(running) == "interrupted"
    assert await store.turn_status(done) == "ok"


async def test_ledger_prices_and_reports(db: Database) -> None:
    ledger = Ledger(db, PriceTable())
    usage = Usage(
        input_tokens=1000, output_tokens=200, cache_read_tokens=100, cache_write_tokens=10
    )
    cost = await ledger.record(
        CallRecord("assistant", "s1", "claude", "claude-haiku-4-5", usage, duration_ms=12)
    )
    assert cost == pytest.approx((1000 * 1.0 + 200 * 5.0 + 100 * 0.1 + 10 * 1.25) / 1e6)
    await ledger.record(CallRecord("coder", "s2", "local", "llama3.2", Usage(50, 5), 3))
    await ledger.record(
        CallRecord("coder", "s2", "local", "llama3.2", Usage(), 3, error="HTTP 500")
    )
    report = await ledger.report()
    assert report.total.calls == 3
    assert report.total.input_tokens == 1050
    assert report.total.cost_usd == pytest.approx(cost)
    assert report.by_agent["coder"].unpriced_calls == 2
    assert report.by_model["claude/claude-haiku-4-5"].cache_write_tokens == 10
    assert (await ledger.report(since=utcnow() + timedelta(minutes=1))).total.calls == 0


async def test_an_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    database = Database(f"sqlite+aiosqlite:///{blocker}/roost.db")
    with pytest.raises(StoreError, match="cannot open the database"):
        await database.open()
    await database.close()


async def test_unpriced_models_are_warned_about_once(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = Ledger(db, PriceTable())
    for _ in range(3):
        await ledger.record(CallRecord("a", "s", "local", "mystery-7b", Usage(10, 10), 1))
    warnings = [r for r in caplog.records if "no price known for local/mystery-7b" in r.message]
    assert len(warnings) == 1


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_processes_opening_a_new_database_together_do_not_race(
    backend: str, tmp_path: Path
) -> None:
    import asyncio

    schema = ""
    if backend == "sqlite":
        url, options = f"sqlite+aiosqlite:///{tmp_path / 'race.db'}", {}
    else:
        schema = await _postgres_schema()
        url, options = POSTGRES_URL, {"connect_args": {"server_settings": {"search_path": schema}}}
    databases = [Database(url, **options) for _ in range(12)]
    try:
        await asyncio.gather(*(database.open() for database in databases))
        store = Conversations(databases[0])
        assert await store.history(await store.session_id("a", "s")) == []
    finally:
        for database in databases:
            await database.close()
        if schema:
            await _drop_schema(schema)


async def test_state_values_survive_a_reopen_and_list_by_prefix(tmp_path: Path) -> None:
    from roost.store.state import StateStore

    url = f"sqlite+aiosqlite:///{tmp_path / 'state.db'}"
    db = Database(url)
    await db.open()
    values = StateStore(db)
    await values.set("telegram:offset", 41)
    await values.set("telegram:offset", 42)
    await values.set("telegram:chat:7", {"agent": "coder"})
    await values.set("telegram_x", "not under the prefix (the _ is literal)")
    await db.close()

    db = Database(url)
    await db.open()
    values = StateStore(db)
    try:
        assert await values.get("telegram:offset") == 42
        assert await values.get("missing", "default") == "default"
        assert await values.with_prefix("telegram:") == {
            "telegram:offset": 42,
            "telegram:chat:7": {"agent": "coder"},
        }
        await values.delete("telegram:offset")
        assert await values.get("telegram:offset") is None
    finally:
        await db.close()


async def test_a_turn_starts_with_its_message_and_the_history_in_one_step(db: Database) -> None:
    store = Conversations(db)
    session = await store.session_id("assistant", "s")
    first = await store.begin_turn(session, "assistant", text="hello")
    assert first.history == [Message("user", "hello")]
    await store.append(session, first.turn_id, Message("assistant", "hi"), end=TurnEnd("ok", 1))
    assert await store.turn_status(first.turn_id) == "ok"
    second = await store.begin_turn(session, "assistant", text="again")
    assert [m.text for m in second.history] == ["hello", "hi", "again"]
    assert second.history == await store.history(session)
    # A recovered turn stores no message of its own.
    resumed = await store.begin_turn(session, "assistant")
    assert resumed.history == second.history


async def test_the_history_in_memory_follows_other_processes(db: Database) -> None:
    here, there = Conversations(db), Conversations(db)  # two processes on one database
    session = await here.session_id("assistant", "shared")
    assert await there.session_id("assistant", "shared") == session
    turn = (await here.begin_turn(session, "assistant", text="one")).turn_id
    await here.append(session, turn, Message("assistant", "reply one"))
    other = (await there.begin_turn(session, "assistant", text="from elsewhere")).turn_id
    await there.append(session, other, Message("assistant", "reply elsewhere"))
    texts = [m.text for m in (await here.begin_turn(session, "assistant", text="two")).history]
    assert texts == ["one", "reply one", "from elsewhere", "reply elsewhere", "two"]
    # A reset elsewhere, then as many new messages (SQLite may even reuse their ids).
    assert await there.reset_session("assistant", "shared")
    for text in ("a", "b", "c", "d", "e"):
        await there.append(session, None, Message("user", text))
    texts = [m.text for m in (await here.begin_turn(session, "assistant", text="f")).history]
    assert texts == ["a", "b", "c", "d", "e", "f"]
    # A reset here forgets at once.
    assert await here.reset_session("assistant", "shared")
    assert (await here.begin_turn(session, "assistant", text="g")).history == [Message("user", "g")]


async def test_a_message_and_the_writes_stored_with_it_are_all_or_nothing(db: Database) -> None:
    from sqlalchemy import func, select

    from roost.store.tables import messages, model_calls

    store = Conversations(db)
    ledger = Ledger(db, PriceTable())
    session = await store.session_id("assistant", "atomic")
    start = await store.begin_turn(session, "assistant", text="q")
    entry = ledger.entry(
        CallRecord("assistant", "atomic", "claude", "claude-haiku-4-5", Usage(10, 5), 3)
    )

    def broken(_: object) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        await store.append(
            session, start.turn_id, Message("assistant", "a"), also=(entry.write, broken)
        )
    async with db.engine.connect() as connection:
        calls = (await connection.execute(select(func.count()).select_from(model_calls))).scalar()
        stored = (await connection.execute(select(func.count()).select_from(messages))).scalar()
    assert (calls, stored) == (0, 1)  # only the user message
    await store.append(
        session, start.turn_id, Message("assistant", "a"), also=(entry.write,), end=TurnEnd("ok", 1)
    )
    assert (await ledger.report()).total.calls == 1
    assert await store.turn_status(start.turn_id) == "ok"
    assert [m.text for m in (await store.begin_turn(session, "assistant", text="r")).history] == [
        "q",
        "a",
        "r",
    ]


async def test_a_cancelled_caller_does_not_lose_a_write_handed_over(tmp_path: Path) -> None:
    import asyncio

    from sqlalchemy import text

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'cancel.db'}")
    await db.open()
    ledger = Ledger(db, PriceTable())
    try:
        record = CallRecord("a", "s", "claude", "claude-haiku-4-5", Usage(1, 1), 1)
        blocker = asyncio.create_task(db.write(lambda c: c.execute(text("SELECT 1"))))
        writes = [asyncio.create_task(ledger.record(record)) for _ in range(5)]
        await asyncio.sleep(0)
        for task in writes:
            task.cancel()
        await blocker
        await asyncio.gather(*writes, return_exceptions=True)
        assert (await ledger.report()).total.calls == 5
    finally:
        await db.close()


async def test_an_urgent_write_goes_before_the_writes_waiting(tmp_path: Path) -> None:
    # A job firing or a message being accepted must not queue behind dozens of turns'
    # transactions: it goes next, after the one under way.
    import asyncio
    import threading

    from sqlalchemy import Connection

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'urgent.db'}")
    await db.open()
    started, gate = threading.Event(), threading.Event()
    order: list[str] = []

    def block(_: Connection) -> None:
        started.set()
        gate.wait(5)
        order.append("under way")

    def note(name: str) -> object:
        return lambda _: order.append(name)

    try:
        blocker = asyncio.create_task(db.write(block))
        await asyncio.to_thread(started.wait, 5)
        waiting = [asyncio.create_task(db.write(note(f"turn {i}"))) for i in range(3)]
        urgent = asyncio.create_task(db.write(note("urgent"), urgent=True))
        await asyncio.sleep(0)  # one step of the loop: each task hands its write over
        gate.set()
        await asyncio.gather(blocker, urgent, *waiting)
        assert order == ["under way", "urgent", "turn 0", "turn 1", "turn 2"]
    finally:
        await db.close()
    assert await db.write(note("after a reopen")) is None
    assert order[-1] == "after a reopen"
    await db.close()


async def test_postgres_disk_full_is_storage_full(tmp_path: Path) -> None:
    # PostgreSQL cannot be filled up in a test; its error, as the asyncpg adapter raises
    # it (SQLSTATE 53100, disk_full), goes through the same mapping as SQLite's.
    from sqlalchemy.exc import OperationalError

    class DiskFull(Exception):
        sqlstate = "53100"

    def work(connection: Any) -> None:
        raise OperationalError("INSERT ...", {}, DiskFull("could not extend file"))

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'roost.db'}")
    await db.open()
    try:
        with pytest.raises(StorageFull) as raised:
            await db.write(work)
        assert raised.value.code == "storage_full" and raised.value.http_status == 507
    finally:
        await db.close()
