"""Backing up and restoring the SQLite store, and checking a copy before trusting it.

``backup`` uses SQLite's online backup API, so it runs beside a `roost run` that keeps
writing (the store is in WAL mode: the copy is one consistent snapshot, and writers
are not held up while it is taken). The copy is written next to its destination under
a temporary name, checked (``PRAGMA integrity_check`` and a known schema revision),
flushed to disk, and only then renamed into place: a crash or a full disk midway
never leaves a half-written file under the name the owner asked for.

``restore`` is for a stopped Roost (the caller holds the data directory's process
lock): it checks the copy first, keeps the database it replaces (renamed, with its
write-ahead log folded in), and puts the copy in place the same careful way.

On PostgreSQL these are ``pg_dump`` / ``pg_restore``'s job (``POSTGRES_ADVICE``).
Everything here is blocking file and database work: call it from a thread when an
event loop is running.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from roost.store.tables import SCHEMA_REVISION

POSTGRES_ADVICE = (
    "the store is PostgreSQL: back it up with pg_dump, e.g.\n"
    "  pg_dump --format=custom --file roost.dump 'postgresql://USER@HOST/DB'\n"
    "and restore with pg_restore --clean --dbname 'postgresql://USER@HOST/DB' roost.dump"
)
_PARTIAL = ".partial"
_COMPANIONS = ("-wal", "-shm", "-journal")
"""SQLite's files beside a database file."""


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class CopyInfo:
    """What a checked database file holds."""

    path: Path
    revision: str | None
    size_bytes: int
    rows: dict[str, int] = field(default_factory=dict)
    """Rows per table (the schema's own ``alembic_version`` left out)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "revision": self.revision,
            "size_bytes": self.size_bytes,
            "rows": self.rows,
        }


def sqlite_file(store_url: str) -> Path | None:
    """The database file of a SQLite store URL; None for any other database."""
    url = make_url(store_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).expanduser()


def known_revisions() -> set[str]:
    """The schema revisions this Roost can open (its migrations' names)."""
    versions = Path(__file__).parent / "migrations" / "versions"
    return {path.name.split("_", 1)[0] for path in versions.glob("[0-9]*_*.py")}


def backup(source: Path, destination: Path) -> CopyInfo:
    """Copy the live database ``source`` to ``destination`` (which must not exist)."""
    if not source.is_file():
        raise BackupError(f"no database at {source}: nothing to back up")
    if destination.exists():
        raise BackupError(f"{destination} exists; choose another name or remove it first")
    if destination.resolve() == source.resolve():
        raise BackupError("the backup cannot replace the database itself")
    partial = destination.with_name(destination.name + _PARTIAL)
    try:
        _copy_database(source, partial)
        info = check(partial)
        _durable_rename(partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return CopyInfo(destination, info.revision, info.size_bytes, info.rows)


def check(path: Path) -> CopyInfo:
    """Check that ``path`` is a whole Roost database this version can open."""
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            verdict = db.execute("PRAGMA integrity_check").fetchone()
            if verdict is None or verdict[0] != "ok":
                detail = verdict[0] if verdict else "no answer"
                raise BackupError(f"{path} is damaged (integrity check: {detail})")
            tables = [
                name
                for (name,) in db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            if "alembic_version" not in tables:
                raise BackupError(f"{path} is not a Roost database (no schema revision)")
            found = db.execute("SELECT version_num FROM alembic_version").fetchone()
            rows = {
                table: int(db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
                for table in tables
                if table != "alembic_version"
            }
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a readable SQLite database ({exc})") from exc
    revision = found[0] if found else None
    if revision is not None and revision not in known_revisions():
        raise BackupError(
            f"{path} has schema revision {revision}, newer than this Roost knows "
            f"(up to {SCHEMA_REVISION}); upgrade Roost first"
        )
    return CopyInfo(path, revision, path.stat().st_size, rows)


def restore(copy: Path, target: Path, now: datetime) -> Path | None:
    """Put the checked ``copy`` in place of ``target`` (Roost must be stopped).

    Returns where the database it replaced was kept (None if there was none).
    """
    check(copy)
    if target.exists() and copy.resolve() == target.resolve():
        raise BackupError("that file is the database itself; nothing to restore")
    partial = target.with_name(target.name + _PARTIAL)
    kept: Path | None = None
    try:
        _copy_database(copy, partial)
        check(partial)
        if target.exists():
            kept = _set_aside(target, now)
        _durable_rename(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return kept


def backup_before_upgrade(database: Path, revision: str, now: datetime) -> Path:
    """The automatic copy taken before migrating ``database`` from ``revision``."""
    stamp = now.strftime("%Y%m%d-%H%M%S")
    destination = database.with_name(f"{database.name}.before-upgrade-{revision}-{stamp}.bak")
    return backup(database, _unused(destination)).path


def _copy_database(source: Path, destination: Path) -> None:
    destination.unlink(missing_ok=True)
    try:
        with (
            contextlib.closing(sqlite3.connect(source)) as reader,
            contextlib.closing(sqlite3.connect(destination)) as writer,
        ):
            reader.execute("PRAGMA busy_timeout=10000")
            # All pages in one step: a copy taken in steps restarts whenever the live
            # database is written meanwhile, which under a busy `roost run` never ends.
            reader.backup(writer)
            # The copy is one self-contained file, with no write-ahead log beside it.
            writer.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"cannot copy {source}: {exc}") from exc


def _set_aside(target: Path, now: datetime) -> Path:
    """Rename the database being replaced, its write-ahead log folded into it first."""
    with contextlib.closing(sqlite3.connect(target)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stamp = now.strftime("%Y%m%d-%H%M%S")
    kept = _unused(target.with_name(f"{target.name}.replaced-{stamp}"))
    target.rename(kept)
    for suffix in _COMPANIONS:
        companion = target.with_name(target.name + suffix)
        if companion.exists():
            companion.rename(kept.with_name(kept.name + suffix))
    return kept


def _durable_rename(partial: Path, destination: Path) -> None:
    _fsync(partial)
    partial.replace(destination)
    _fsync(destination.parent)


def _fsync(path: Path) -> None:
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _unused(path: Path, exists: Callable[[Path], bool] = Path.exists) -> Path:
    """``path``, or ``path`` with ``-2``, ``-3``… appended if that name is taken."""
    candidate, number = path, 1
    while exists(candidate):
        number += 1
        candidate = path.with_name(f"{path.name}-{number}")
    return candidate
