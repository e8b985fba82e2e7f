"""`roost backup` / `roost restore` as a user runs them, and the copy taken before a
schema upgrade: a database built at the oldest schema, filled, upgraded, every row
checked (#14)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Boolean, DateTime, Float, Integer, MetaData, create_engine

from roost.store import backup as backup_module
from roost.store.backup import BackupError, check, restore
from roost.store.database import Database, StoreError
from roost.store.tables import SCHEMA_REVISION
from tests.client.test_chat_and_ask import roost
from tests.conftest import ConfigWriter, provider_yaml
from tests.fakes.llm_server import FakeLLM
from tests.support.roost_run import running_roost

OLDEST = "0001"


@pytest.fixture
def config(fake_llm: FakeLLM, write_config: ConfigWriter, tmp_path: Path) -> Path:
    return write_config(
        provider_yaml(fake_llm)
        + f"""home: {tmp_path / "home"}
gateway: {{port: 0}}
agents:
  assistant: {{model: claude/claude-haiku-4-5}}
"""
    )


def texts(database: Path) -> list[str]:
    with closing(sqlite3.connect(database)) as db:
        return [text for (text,) in db.execute("SELECT text FROM messages ORDER BY id")]


def test_backup_while_running_then_restore_when_stopped(
    config: Path, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    live = tmp_path / "home" / "roost.db"
    fake_llm.reply("first answer")
    assert roost("ask", "assistant", "remember the lighthouse").returncode == 0
    copy = tmp_path / "copy.db"
    with running_roost(tmp_path / "home"):
        fake_llm.reply("second answer")
        assert roost("ask", "assistant", "and the harbour").returncode == 0
        made = roost("backup", str(copy), "--json")
        assert made.returncode == 0, made.stderr
        info = json.loads(made.stdout)["backup"]
        assert info["revision"] == SCHEMA_REVISION and info["rows"]["messages"] == 4
        assert texts(copy) == texts(live)
        refused = roost("restore", str(copy))
        assert refused.returncode == 1 and "already running" in refused.stderr
        assert "stop it before restoring" in refused.stderr
    fake_llm.reply("third answer")
    assert roost("ask", "assistant", "after the backup").returncode == 0
    before_restore = texts(live)
    assert "after the backup" in before_restore

    restored = roost("restore", str(copy))

    assert restored.returncode == 0, restored.stderr
    assert "integrity checked" in restored.stdout
    assert texts(live) == texts(copy)
    kept = next((tmp_path / "home").glob("roost.db.replaced-*"))
    assert str(kept) in restored.stdout
    assert texts(kept) == before_restore  # nothing the copy lacked is lost
    history = roost("history", "assistant")
    assert history.returncode == 0 and "after the backup" not in history.stdout


def test_backup_refuses_to_overwrite_and_restore_refuses_what_is_not_a_roost_database(
    config: Path, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.reply("hello")
    assert roost("ask", "assistant", "hi").returncode == 0
    live = tmp_path / "home" / "roost.db"
    taken = tmp_path / "taken.db"
    taken.write_text("mine")
    refused = roost("backup", str(taken))
    assert refused.returncode == 1 and "exists" in refused.stderr
    assert taken.read_text() == "mine"

    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("this is not a database\n" * 100)
    plain = tmp_path / "plain.db"
    with closing(sqlite3.connect(plain)) as db:
        db.execute("CREATE TABLE t (x)")
    before = texts(live)
    for bad, reason in ((not_sqlite, "not a readable SQLite"), (plain, "not a Roost database")):
        result = roost("restore", str(bad))
        assert result.returncode == 1 and reason in result.stderr, result.stderr
        assert "nothing was changed" in result.stderr
    assert texts(live) == before
    assert not list((tmp_path / "home").glob("*.replaced-*"))


def test_a_copy_from_a_newer_roost_or_a_damaged_one_is_refused(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    with closing(sqlite3.connect(newer)) as db:
        db.execute("CREATE TABLE alembic_version (version_num TEXT)")
        db.execute("INSERT INTO alembic_version VALUES ('9999')")
        db.commit()
    with pytest.raises(BackupError, match="newer than this Roost"):
        check(newer)

    damaged = tmp_path / "damaged.db"
    with closing(sqlite3.connect(damaged)) as db:
        db.execute("CREATE TABLE alembic_version (version_num TEXT)")
        db.execute("CREATE TABLE notes (body TEXT)")
        db.executemany("INSERT INTO notes VALUES (?)", [("x" * 3000,)] * 50)
        db.commit()
    data = bytearray(damaged.read_bytes())
    for page in range(1, len(data) // 4096):  # scribble over every b-tree page header
        data[page * 4096 : page * 4096 + 8] = b"\x0b" * 8
    damaged.write_bytes(bytes(data))
    target = tmp_path / "roost.db"
    target.write_bytes(b"")
    with pytest.raises(BackupError):
        restore(damaged, target, datetime.now(UTC))
    assert target.read_bytes() == b""


def test_backup_on_postgresql_gives_pg_dump_advice(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    write_config(
        f"home: {tmp_path / 'home'}\nstore: {{url: 'postgresql+asyncpg://roost@127.0.0.1/test'}}\n"
    )
    result = roost("backup", str(tmp_path / "x.db"))
    assert result.returncode == 1
    assert "pg_dump --format=custom" in result.stderr
    assert not (tmp_path / "x.db").exists()


# The upgrade: a database at the oldest schema, filled, opened by this Roost.


def build_oldest(path: Path) -> dict[str, list[dict[str, Any]]]:
    """A database at revision 0001 with rows in every table; returns the rows."""
    from roost.store.database import _upgrade_to  # the migrations, run as Roost runs them

    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        _upgrade_to(connection, OLDEST)
    metadata = MetaData()
    metadata.reflect(engine)
    written: dict[str, list[dict[str, Any]]] = {}
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            if table.name == "alembic_version":
                continue
            rows = [
                {column.name: _value(table.name, column, number) for column in table.columns}
                for number in (1, 2, 3)
            ]
            connection.execute(table.insert(), rows)
            written[table.name] = rows
    engine.dispose()
    return written


def _value(table: str, column: Any, number: int) -> Any:
    if column.primary_key or column.foreign_keys:
        return number
    kind = column.type
    if isinstance(kind, Boolean):
        return number % 2 == 0
    if isinstance(kind, Integer):
        return number * 10
    if isinstance(kind, Float):
        return number / 4
    if isinstance(kind, DateTime):
        return datetime(2026, 1, number, 12, 0)
    return f"{table}.{column.name}.{number} ünïcode"


def rows_of(path: Path, table: str, columns: list[str]) -> list[dict[str, Any]]:
    engine = create_engine(f"sqlite:///{path}")
    metadata = MetaData()
    metadata.reflect(engine, only=[table])
    with engine.connect() as connection:
        found = connection.execute(metadata.tables[table].select().order_by("id")).mappings()
        result = [{name: row[name] for name in columns} for row in found]
    engine.dispose()
    return result


@pytest.fixture
def oldest(tmp_path: Path) -> Iterator[tuple[Path, dict[str, list[dict[str, Any]]]]]:
    path = tmp_path / "data" / "roost.db"
    path.parent.mkdir()
    yield path, build_oldest(path)


async def test_upgrading_the_oldest_schema_keeps_every_row_and_a_copy_first(
    oldest: tuple[Path, dict[str, list[dict[str, Any]]]],
) -> None:
    path, written = oldest
    assert written and all(len(rows) == 3 for rows in written.values())
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.open()
    await db.close()

    assert check(path).revision == SCHEMA_REVISION
    for table, rows in written.items():
        assert rows_of(path, table, list(rows[0])) == rows, table
    (copy,) = path.parent.glob(f"roost.db.before-upgrade-{OLDEST}-*.bak")
    assert check(copy).revision == OLDEST
    for table, rows in written.items():
        assert rows_of(copy, table, list(rows[0])) == rows, table

    again = Database(f"sqlite+aiosqlite:///{path}")
    await again.open()  # already current: no second copy
    await again.close()
    assert len(list(path.parent.glob("*.bak"))) == 1


async def test_no_upgrade_without_the_copy(
    oldest: tuple[Path, dict[str, list[dict[str, Any]]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = oldest

    def no_space(*_: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup_module, "backup_before_upgrade", no_space)
    db = Database(f"sqlite+aiosqlite:///{path}")
    with pytest.raises(StoreError, match="backup taken first failed"):
        await db.open()
    await db.close()
    assert check(path).revision == OLDEST
