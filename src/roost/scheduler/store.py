"""The ``jobs`` table: one row per job, with its next fire time kept current.

``next_due`` lives in the database (index ``ix_jobs_due``) so a start needs one
indexed query to know what is due; the scheduler keeps the same in a heap in memory
and reads full rows only for the jobs it fires.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from roost.scheduler.errors import JobExists
from roost.scheduler.model import JOB_ACTIVE, Job, from_db, to_db
from roost.store.database import Database
from roost.store.tables import job_runs, jobs, utcnow

_CHUNK = 500
"""Ids per ``IN (...)``: well under SQLite's variable limit."""


class JobStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, name: str) -> Job | None:
        found = await self._select(select(jobs).where(jobs.c.name == name))
        return found[0] if found else None

    async def get_many(self, ids: Iterable[int]) -> list[Job]:
        wanted = list(ids)
        found: list[Job] = []
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            found += await self._select(select(jobs).where(jobs.c.id.in_(chunk)))
        return found

    async def all(self, owner: str | None = None) -> list[Job]:
        """Every job (or one owner's), by name, each with its newest run's status."""
        query = select(jobs).order_by(jobs.c.name)
        if owner is not None:
            query = query.where(jobs.c.owner == owner)
        found = await self._select(query)
        statuses = await self._last_statuses([job.name for job in found])
        for job in found:
            job.last_status = statuses.get(job.name)
        return found

    async def for_config(self, names: Sequence[str], owner: str) -> dict[str, Job]:
        """The jobs named ``names`` plus every job ``owner`` has, by name."""
        condition = or_(jobs.c.owner == owner, jobs.c.name.in_(list(names)))
        return {job.name: job for job in await self._select(select(jobs).where(condition))}

    async def due_index(self) -> list[tuple[int, datetime]]:
        """``(id, next_due)`` of every active job that will fire again (ix_jobs_due)."""
        query = select(jobs.c.id, jobs.c.next_due).where(
            jobs.c.state == JOB_ACTIVE, jobs.c.next_due.is_not(None)
        )
        rows = await self._db.read(lambda connection: connection.execute(query).all())
        return [(int(row[0]), _aware(row[1])) for row in rows]

    async def changed_since(self, since: datetime) -> list[tuple[int, str, datetime | None]]:
        """``(id, state, next_due)`` of rows written after ``since`` (naive UTC)."""
        query = select(jobs.c.id, jobs.c.state, jobs.c.next_due).where(jobs.c.updated_at > since)
        rows = await self._db.read(lambda connection: connection.execute(query).all())
        return [(int(row[0]), str(row[1]), from_db(row[2])) for row in rows]

    async def insert(self, job: Job) -> Job:
        now = utcnow()
        values = _values(job) | {"created_at": now, "updated_at": now}

        def store(connection: Connection) -> int:
            result = connection.execute(insert(jobs).values(**values))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

        try:
            job.id = await self._db.write(store)
        except IntegrityError:
            raise JobExists(f"a job named '{job.name}' already exists") from None
        job.created_at = job.updated_at = from_db(now)
        return job

    async def insert_many(self, new: Sequence[Job]) -> None:
        """Insert many jobs in one transaction (ids are not read back)."""
        now = utcnow()
        rows = [_values(job) | {"created_at": now, "updated_at": now} for job in new]
        await self._db.write(lambda connection: _execute(connection, insert(jobs), rows))

    async def update(self, job_id: int, **values: Any) -> None:
        statement = update(jobs).where(jobs.c.id == job_id).values(**values, updated_at=utcnow())
        await self._db.write(lambda connection: _execute(connection, statement))

    async def write_changes(self, old: Job, new: Job) -> list[str]:
        """Write the columns in which ``new`` differs from ``old`` (the same job as read);
        returns them. Columns left alone keep what others wrote since (a run's end)."""
        before, after = _values(old), _values(new)
        changed = {column: value for column, value in after.items() if before[column] != value}
        if changed:
            await self.update(new.id, **changed)
        return list(changed)

    async def delete(self, job_id: int) -> None:
        statement = delete(jobs).where(jobs.c.id == job_id)
        await self._db.write(lambda connection: _execute(connection, statement))

    async def _select(self, query: Any) -> list[Job]:
        rows = await self._db.read(lambda connection: connection.execute(query).mappings().all())
        return [job_from_row(row) for row in rows]

    async def _last_statuses(self, names: list[str]) -> dict[str, str]:
        statuses: dict[str, str] = {}
        for start in range(0, len(names), _CHUNK):
            chunk = names[start : start + _CHUNK]
            newest = (
                select(func.max(job_runs.c.id))
                .where(job_runs.c.job_name.in_(chunk))
                .group_by(job_runs.c.job_name)
            )
            query = select(job_runs.c.job_name, job_runs.c.status).where(
                job_runs.c.id.in_(newest.scalar_subquery())
            )
            rows = await self._db.read(functools.partial(_all, statement=query))
            for name, status in rows:
                statuses[str(name)] = str(status)
        return statuses


def _execute(connection: Connection, statement: Any, rows: Any = None) -> None:
    connection.execute(statement, rows)


def _all(connection: Connection, statement: Any) -> list[Any]:
    return list(connection.execute(statement).all())


def _aware(t: datetime) -> datetime:
    aware = from_db(t)
    assert aware is not None
    return aware


def _values(job: Job) -> dict[str, Any]:
    return {
        "name": job.name,
        "owner": job.owner,
        "agent": job.agent,
        "prompt": job.prompt,
        "kind": job.kind,
        "expr": job.expr,
        "timezone": job.timezone,
        "session": job.session,
        "deliver": json.dumps(job.deliver),
        "catch_up": job.catch_up,
        "overlap": job.overlap,
        "model": job.model,
        "timeout_s": job.timeout_s,
        "state": job.state,
        "anchor": to_db(job.anchor),
        "next_due": to_db(job.next_due),
        "last_due": to_db(job.last_due),
        "consecutive_failures": job.consecutive_failures,
        "alerted": job.alerted,
    }


def job_from_row(row: Any) -> Job:
    return Job(
        id=int(row["id"]),
        name=row["name"],
        owner=row["owner"],
        agent=row["agent"],
        prompt=row["prompt"],
        kind=row["kind"],
        expr=row["expr"],
        timezone=row["timezone"],
        session=row["session"],
        deliver=list(json.loads(row["deliver"] or "[]")),
        catch_up=row["catch_up"],
        overlap=row["overlap"],
        model=row["model"],
        timeout_s=float(row["timeout_s"]),
        state=row["state"],
        anchor=_aware(row["anchor"]),
        next_due=from_db(row["next_due"]),
        last_due=from_db(row["last_due"]),
        consecutive_failures=int(row["consecutive_failures"] or 0),
        alerted=bool(row["alerted"]),
        created_at=from_db(row["created_at"]),
        updated_at=from_db(row["updated_at"]),
    )
