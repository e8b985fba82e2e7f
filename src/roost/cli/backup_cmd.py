"""`roost backup FILE` and `roost restore FILE`: a copy of the store, and putting one back.

A backup can be taken while `roost run` serves (SQLite's online backup: one consistent
snapshot, writers not held up). A restore needs Roost stopped: it takes the data
directory's process lock for its whole length, so a `roost run` starting meanwhile
waits for nothing half-restored — it refuses to start, as it does beside another run.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from roost.cli.common import fail, load

if TYPE_CHECKING:
    from roost.config.settings import Settings
    from roost.store.backup import CopyInfo

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def backup(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(help="Where to write the copy (must not exist).", show_default=False),
    ],
    as_json: JsonOption = False,
) -> None:
    """Copy the store to FILE, checked, while Roost runs or not.

    roost backup ~/roost-2026-12-02.db
    """
    from roost.store.backup import BackupError
    from roost.store.backup import backup as take_backup

    source = _database_file(load(ctx))
    try:
        info = take_backup(source, file.expanduser())
    except (BackupError, OSError) as exc:
        fail(f"backup failed: {_reason(exc)}")
    if as_json:
        print(json.dumps({"backup": info.as_dict()}))
        return
    print(f"backed up {source} to {info.path} ({_summary(info)}); integrity checked")


def restore(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="A copy made by `roost backup`.", show_default=False)
    ],
    as_json: JsonOption = False,
) -> None:
    """Replace the store with FILE (Roost must be stopped); the replaced one is kept.

    roost restore ~/roost-2026-12-02.db
    """
    from roost.process_lock import AlreadyRunning, ProcessLock
    from roost.store.backup import BackupError, check
    from roost.store.backup import restore as put_back

    settings = load(ctx)
    target = _database_file(settings)
    lock = ProcessLock(settings.home / "roost.pid")
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        fail(f"{exc}; stop it before restoring (a backup can be taken while it runs)")
    try:
        kept = put_back(file.expanduser(), target, datetime.now(UTC))
        info = check(target)
    except (BackupError, OSError) as exc:
        fail(f"restore failed, nothing was changed: {_reason(exc)}")
    finally:
        lock.release()
    if as_json:
        replaced = str(kept) if kept else None
        print(json.dumps({"restored": info.as_dict(), "replaced_kept_at": replaced}))
        return
    print(f"restored {target} from {file} ({_summary(info)}); integrity checked")
    if kept is not None:
        print(f"the database it replaced is kept at {kept}")
    if info.revision is not None:
        print("`roost run` upgrades its schema if it is older (after copying it first)")


def _database_file(settings: Settings) -> Path:
    from roost.store.backup import POSTGRES_ADVICE, sqlite_file

    path = sqlite_file(settings.store_url)
    if path is None:
        fail(POSTGRES_ADVICE)
    return path


def _summary(info: CopyInfo) -> str:
    rows = sum(info.rows.values())
    return f"schema {info.revision}, {rows} rows, {info.size_bytes:,} bytes"


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc)
