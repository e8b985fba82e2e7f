"""The ``approvals`` and ``allowed_patterns`` tables.

A decision is written with a guard (``WHERE state = 'pending'``), so of two owners
tapping at once, or a tap racing the timeout, exactly one decides; the other is told
it was decided already.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from roost.store.database import Database
from roost.store.tables import allowed_patterns, approvals, utcnow

PENDING = "pending"
MAX_SUMMARY_CHARS = 10_000


@dataclass(frozen=True)
class Approval:
    id: int
    agent: str
    tool: str
    summary: str
    pattern: str | None
    session: str
    envelope_id: int | None
    state: str
    requested_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "agent": self.agent,
            "tool": self.tool,
            "summary": self.summary,
            "pattern": self.pattern,
            "session": self.session,
            "state": self.state,
            "requested_at": _iso(self.requested_at),
            "decided_by": self.decided_by,
            "decided_at": _iso(self.decided_at),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None


class ApprovalStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        agent: str,
        tool: str,
        summary: str,
        pattern: str | None,
        session: str,
        envelope_id: int | None,
    ) -> Approval:
        approval = Approval(
            id=0,
            agent=agent[:100],
            tool=tool[:200],
            summary=summary[:MAX_SUMMARY_CHARS],
            pattern=pattern,
            session=session[:200],
            envelope_id=envelope_id,
            state=PENDING,
            requested_at=utcnow(),
        )
        values = {key: value for key, value in asdict(approval).items() if key != "id"}

        def add(connection: Connection) -> int:
            found = connection.execute(insert(approvals).values(**values)).inserted_primary_key
            assert found is not None
            return int(found[0])

        return replace(approval, id=await self._db.write(add))

    async def get(self, approval_id: int) -> Approval | None:
        found = await self._select(select(approvals).where(approvals.c.id == approval_id))
        return found[0] if found else None

    async def pending(self) -> list[Approval]:
        query = select(approvals).where(approvals.c.state == PENDING).order_by(approvals.c.id)
        return await self._select(query)

    async def recent(self, limit: int) -> list[Approval]:
        return await self._select(select(approvals).order_by(approvals.c.id.desc()).limit(limit))

    async def decide(self, approval_id: int, state: str, decided_by: str) -> Approval | None:
        """Record the decision if the approval is still pending; None if it was not.

        "Always" adds the approval's pattern to the agent's allowlist in the same
        transaction, so the allowlist never misses a pattern a decision promised.
        """
        now = utcnow()

        def decide(connection: Connection) -> bool:
            changed = connection.execute(
                update(approvals)
                .where(approvals.c.id == approval_id, approvals.c.state == PENDING)
                .values(state=state, decided_by=decided_by, decided_at=now)
            )
            if not changed.rowcount:
                return False
            if state == "always":
                _add_pattern(connection, approval_id, decided_by, now)
            return True

        if not await self._db.write(decide):
            return None
        return await self.get(approval_id)

    async def abandon_pending(self, keep: set[int], decided_by: str) -> list[int]:
        """Deny (``abandoned``) every pending approval but those in ``keep``."""
        now = utcnow()

        def abandon(connection: Connection) -> list[int]:
            query = select(approvals.c.id).where(approvals.c.state == PENDING)
            ids = [row[0] for row in connection.execute(query) if row[0] not in keep]
            if ids:
                connection.execute(
                    update(approvals)
                    .where(approvals.c.id.in_(ids), approvals.c.state == PENDING)
                    .values(state="abandoned", decided_by=decided_by, decided_at=now)
                )
            return ids

        return await self._db.write(abandon)

    async def patterns(self, agent: str, tool: str) -> list[str]:
        query = (
            select(allowed_patterns.c.pattern)
            .where(allowed_patterns.c.agent == agent, allowed_patterns.c.tool == tool)
            .order_by(allowed_patterns.c.added_at)
        )

        def read(connection: Connection) -> list[str]:
            return [row[0] for row in connection.execute(query)]

        return await self._db.read(read)

    async def _select(self, query: Any) -> list[Approval]:
        def read(connection: Connection) -> list[Approval]:
            return [Approval(**row._mapping) for row in connection.execute(query)]

        return await self._db.read(read)


def _add_pattern(connection: Connection, approval_id: int, added_by: str, now: datetime) -> None:
    row = connection.execute(
        select(approvals.c.agent, approvals.c.tool, approvals.c.pattern).where(
            approvals.c.id == approval_id
        )
    ).one()
    if row.pattern is None:
        return
    exists = connection.execute(
        select(allowed_patterns.c.pattern).where(
            allowed_patterns.c.agent == row.agent,
            allowed_patterns.c.tool == row.tool,
            allowed_patterns.c.pattern == row.pattern,
        )
    ).first()
    if exists is None:
        connection.execute(
            insert(allowed_patterns).values(
                agent=row.agent,
                tool=row.tool,
                pattern=row.pattern,
                added_by=added_by,
                added_at=now,
                approval_id=approval_id,
            )
        )
