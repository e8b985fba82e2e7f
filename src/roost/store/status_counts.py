"""What the store says for `roost status`: today's turns and spend, queue depths, the
next jobs. Read by the running process (``GET /api/status``) or, when it is down, by
`roost status` itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from roost.store.database import Database

NEXT_JOBS = 5
"""How many of the next due jobs `roost status` lists."""


@dataclass
class StoreFigures:
    turns_today: int = 0
    spend_today_usd: float = 0.0
    inbox_waiting: int = 0
    """Messages to agents stored and not yet answered (the durable inbox; the bus's
    tables, counted by ``BusStore.queue_depths``: the caller fills it in)."""
    outbox_pending: int = 0
    """Replies and messages to channels stored and not yet delivered (the outbox)."""
    jobs_next_due: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "turns_today": self.turns_today,
            "spend_today_usd": round(self.spend_today_usd, 6),
            "inbox_waiting": self.inbox_waiting,
            "outbox_pending": self.outbox_pending,
            "jobs_next_due": self.jobs_next_due,
        }


async def read_store_figures(db: Database, day_start: datetime) -> StoreFigures:
    """The figures, read in one snapshot; ``day_start`` is naive UTC (as stored)."""
    return await db.snapshot(lambda connection: _read(connection, day_start))


def _read(connection: Connection, day_start: datetime) -> StoreFigures:
    from sqlalchemy import func, select

    from roost.store.tables import jobs, model_calls, turns

    figures = StoreFigures()
    figures.turns_today = connection.execute(
        select(func.count()).select_from(turns).where(turns.c.started_at >= day_start)
    ).scalar_one()
    figures.spend_today_usd = float(
        connection.execute(
            select(func.coalesce(func.sum(model_calls.c.cost_usd), 0.0)).where(
                model_calls.c.created_at >= day_start
            )
        ).scalar_one()
    )
    due = connection.execute(
        select(jobs.c.name, jobs.c.agent, jobs.c.next_due)
        .where(jobs.c.state == "active", jobs.c.next_due.is_not(None))
        .order_by(jobs.c.next_due)
        .limit(NEXT_JOBS)
    )
    figures.jobs_next_due = [
        {"name": row.name, "agent": row.agent, "next_due": row.next_due.isoformat() + "Z"}
        for row in due
    ]
    return figures
