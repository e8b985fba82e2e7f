"""The ledger: one row per model call, and the reports read from it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, bindparam, cast, func, insert, select

from roost.ledger.pricing import PriceTable
from roost.ledger.roles import LedgerRole
from roost.providers.base import Usage
from roost.store.database import Database
from roost.store.tables import job_runs, model_calls, turns, utcnow

log = logging.getLogger(__name__)

_INSERT_CALL = insert(model_calls)
_SPENT = select(func.coalesce(func.sum(model_calls.c.cost_usd), 0.0)).where(
    model_calls.c.created_at >= bindparam("since")
)
_SPENT_BY_AGENT = _SPENT.where(model_calls.c.agent == bindparam("agent"))
_COLUMNS = (
    func.count(),
    func.coalesce(func.sum(model_calls.c.input_tokens), 0),
    func.coalesce(func.sum(model_calls.c.output_tokens), 0),
    func.coalesce(func.sum(model_calls.c.cache_read_tokens), 0),
    func.coalesce(func.sum(model_calls.c.cache_write_tokens), 0),
    func.coalesce(func.sum(model_calls.c.cost_usd), 0.0),
    func.count().filter(model_calls.c.priced.is_(False)),
)
GROUP_KEYS = ("agent", "model", "day", "role", "job")
"""What ``Ledger.totals_by`` can group by."""
NO_JOB = "(not a job)"
"""The ``job`` group of calls made outside a scheduled job's run."""


@dataclass(frozen=True)
class CallRecord:
    agent: str
    session_key: str
    provider: str
    model: str
    usage: Usage
    duration_ms: int
    turn_id: int | None = None
    error: str | None = None
    role: LedgerRole = LedgerRole.ROUTINE
    """What the call was for (see ``LedgerRole``)."""


@dataclass(frozen=True)
class LedgerEntry:
    """A priced call, ready to be stored (alone, or with the message it produced)."""

    cost_usd: float
    values: dict[str, Any]

    def write(self, connection: Connection) -> None:
        connection.execute(_INSERT_CALL, self.values)


@dataclass
class UsageTotals:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0

    def as_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)

    def add(self, part: UsageTotals) -> None:
        _add(self, part)

    @property
    def cache_share(self) -> float | None:
        """The share of input tokens read from the cache (``None`` with no input at all)."""
        every_input = self.input_tokens + self.cache_read_tokens + self.cache_write_tokens
        return self.cache_read_tokens / every_input if every_input else None


@dataclass
class UsageReport:
    since: datetime | None
    total: UsageTotals = field(default_factory=UsageTotals)
    by_agent: dict[str, UsageTotals] = field(default_factory=dict)
    by_model: dict[str, UsageTotals] = field(default_factory=dict)


class Ledger:
    def __init__(self, db: Database, prices: PriceTable) -> None:
        self._db = db
        self.prices = prices
        self._warned_unpriced: set[str] = set()

    def entry(self, call: CallRecord) -> LedgerEntry:
        """Price one call (from the price table, no database) as a row to store."""
        cost, priced = self.prices.cost(call.provider, call.model, call.usage)
        model_ref = f"{call.provider}/{call.model}"
        if not priced and model_ref not in self._warned_unpriced:
            self._warned_unpriced.add(model_ref)
            log.warning(
                "no price known for %s: its calls count as $0; add it under models: in the config",
                model_ref,
            )
        usage = call.usage
        return LedgerEntry(
            cost,
            {
                "created_at": utcnow(),
                "agent": call.agent,
                "session_key": call.session_key,
                "turn_id": call.turn_id,
                "provider": call.provider,
                "model": call.model,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cache_read_tokens": usage.cache_read_tokens,
                "cache_write_tokens": usage.cache_write_tokens,
                "cost_usd": cost,
                "priced": priced,
                "duration_ms": call.duration_ms,
                "status": "error" if call.error else "ok",
                "error": call.error,
                "role": str(call.role),
            },
        )

    async def record(self, call: CallRecord) -> float:
        """Price and store one call; return its cost in USD."""
        return await self.store(self.entry(call))

    async def store(self, entry: LedgerEntry) -> float:
        """Store a priced call in a transaction of its own; return its cost in USD."""
        await self._db.write(entry.write)
        return entry.cost_usd

    async def spent(self, since: datetime, agent: str | None = None) -> float:
        """USD spent since ``since`` (naive UTC), by one agent or by all."""
        return (await self.spent_many([(since, agent)]))[0]

    async def spent_many(self, queries: Sequence[tuple[datetime, str | None]]) -> list[float]:
        """``spent`` for several (since, agent) pairs, read together."""

        def read(connection: Connection) -> list[float]:
            return [
                float(
                    connection.execute(
                        _SPENT if agent is None else _SPENT_BY_AGENT,
                        {"since": since, "agent": agent},
                    ).scalar_one()
                )
                for since, agent in queries
            ]

        return await self._db.read(read)

    async def totals_by(
        self, by: str, since: datetime | None = None, until: datetime | None = None
    ) -> dict[str, UsageTotals]:
        """Totals per ``by`` value (one of ``GROUP_KEYS``) for calls in [since, until)."""
        key = _group_key(by)
        query = select(key, *_COLUMNS).group_by(key).order_by(key)
        if by == "job":
            # A job's calls are those of the turns its runs' envelopes started.
            joined = model_calls.outerjoin(turns, turns.c.id == model_calls.c.turn_id).outerjoin(
                job_runs, job_runs.c.envelope_id == turns.c.envelope_id
            )
            query = query.select_from(joined)
        if since is not None:
            query = query.where(model_calls.c.created_at >= since)
        if until is not None:
            query = query.where(model_calls.c.created_at < until)

        def read(connection: Connection) -> dict[str, UsageTotals]:
            return {str(row[0]): _totals(row[1:]) for row in connection.execute(query).all()}

        return await self._db.read(read)

    async def report(self, since: datetime | None = None) -> UsageReport:
        """Totals since ``since`` (naive UTC; ``None`` for all time), by agent and by model."""
        report = UsageReport(since=since)

        def read(connection: Connection) -> None:
            for target, key in (
                (report.by_agent, _group_key("agent")),
                (report.by_model, _group_key("model")),
            ):
                query = select(key, *_COLUMNS).group_by(key).order_by(key)
                if since is not None:
                    query = query.where(model_calls.c.created_at >= since)
                for row in connection.execute(query).all():
                    target[str(row[0])] = _totals(row[1:])

        await self._db.snapshot(read)
        for totals in report.by_agent.values():
            _add(report.total, totals)
        return report


def _group_key(by: str) -> Any:
    """The SQL expression a report groups rows by (``GROUP_KEYS``)."""
    if by == "agent":
        return model_calls.c.agent
    if by == "model":
        return model_calls.c.provider + "/" + model_calls.c.model
    if by == "role":
        return model_calls.c.role
    if by == "day":
        # The UTC day: the ledger stores naive UTC and grouping in SQL keeps a long
        # history cheap to read (budgets use local days; reports say "UTC").
        return func.substr(cast(model_calls.c.created_at, String), 1, 10)
    if by == "job":
        return func.coalesce(job_runs.c.job_name, NO_JOB)
    raise ValueError(f"cannot group the ledger by {by!r}; use one of {', '.join(GROUP_KEYS)}")


def _totals(values: Sequence[Any]) -> UsageTotals:
    calls, inp, out, cache_read, cache_write, cost, unpriced = values
    return UsageTotals(
        calls=int(calls),
        input_tokens=int(inp),
        output_tokens=int(out),
        cache_read_tokens=int(cache_read),
        cache_write_tokens=int(cache_write),
        cost_usd=float(cost),
        unpriced_calls=int(unpriced),
    )


def _add(total: UsageTotals, part: UsageTotals) -> None:
    total.calls += part.calls
    total.input_tokens += part.input_tokens
    total.output_tokens += part.output_tokens
    total.cache_read_tokens += part.cache_read_tokens
    total.cache_write_tokens += part.cache_write_tokens
    total.cost_usd += part.cost_usd
    total.unpriced_calls += part.unpriced_calls
