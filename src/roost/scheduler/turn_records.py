"""What the inbox, the turns and the ledger recorded of a run (found by its envelope).

``TurnFacts`` reads them for ``RunStore``; ``run_dedup_key`` is how a run's envelope is found.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from roost.store.database import Database
from roost.store.tables import envelopes, messages, model_calls, turns


def run_dedup_key(run_id: int) -> str:
    """The envelope of run ``run_id`` carries this dedup key: sent at most once."""
    return f"job_run:{run_id}"


class TurnFacts:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def envelope_of(self, run_id: int) -> tuple[int, str, str] | None:
        """The run's envelope ``(id, status, session)``, found by its dedup key."""
        query = select(envelopes.c.id, envelopes.c.status, envelopes.c.session).where(
            envelopes.c.dedup_key == run_dedup_key(run_id)
        )
        row = await self._db.read(lambda connection: connection.execute(query).first())
        return (int(row[0]), str(row[1]), str(row[2])) if row else None

    async def turn_of(self, envelope_id: int) -> tuple[str, str, str | None] | None:
        """The newest turn for an envelope: ``(status, last assistant text, error)``."""

        def find(connection: Connection) -> tuple[str, str, str | None] | None:
            turn = connection.execute(
                select(turns.c.id, turns.c.status, turns.c.error)
                .where(turns.c.envelope_id == envelope_id)
                .order_by(turns.c.id.desc())
                .limit(1)
            ).first()
            if turn is None:
                return None
            text = connection.execute(
                select(messages.c.text)
                .where(messages.c.turn_id == turn[0], messages.c.role == "assistant")
                .order_by(messages.c.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            return str(turn[1]), str(text or ""), turn[2]

        return await self._db.snapshot(find)

    async def usage_of(self, envelope_id: int) -> tuple[int, int, float]:
        """Tokens in, out and USD of every model call made for an envelope's turns."""
        query = (
            select(
                func.coalesce(func.sum(model_calls.c.input_tokens), 0),
                func.coalesce(func.sum(model_calls.c.output_tokens), 0),
                func.coalesce(func.sum(model_calls.c.cost_usd), 0.0),
            )
            .select_from(model_calls.join(turns, model_calls.c.turn_id == turns.c.id))
            .where(turns.c.envelope_id == envelope_id)
        )
        row = await self._db.read(lambda connection: connection.execute(query).one())
        return int(row[0]), int(row[1]), float(row[2])
