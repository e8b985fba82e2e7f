"""Every ledger row has a role; rows from before the column existed are ``routine``."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, select, text

from roost.ledger.ledger import CallRecord, Ledger
from roost.ledger.pricing import PriceTable
from roost.ledger.roles import LedgerRole
from roost.providers.base import Usage
from roost.store.database import Database, _upgrade_to
from roost.store.tables import model_calls


async def test_old_rows_become_routine_and_new_rows_keep_their_role(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            _upgrade_to(connection, "0003")
            connection.execute(
                text(
                    "INSERT INTO model_calls (created_at, agent, session_key, provider, model,"
                    " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,"
                    " cost_usd, priced, duration_ms, status)"
                    " VALUES ('2026-01-01 00:00:00', 'a', 's', 'p', 'm', 1, 1, 0, 0, 0, 1, 1,"
                    " 'ok')"
                )
            )
    finally:
        engine.dispose()
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.open()
    try:
        ledger = Ledger(database, PriceTable())
        call = CallRecord("a", "s", "p", "m", Usage(1, 1), 1, role=LedgerRole.SUMMARY)
        await ledger.record(call)
        rows = await database.read(
            lambda c: c.execute(select(model_calls.c.role).order_by(model_calls.c.id)).all()
        )
    finally:
        await database.close()
    assert [row[0] for row in rows] == ["routine", "summary"]
