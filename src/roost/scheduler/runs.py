"""The ``job_runs`` table: one row per fire time, from "running" to how it ended.

Starting runs, storing their envelopes in the inbox and advancing their jobs'
``next_due`` happen in one transaction, so a crash never leaves a job advanced past
a run nobody recorded, nor a run recorded whose message was not stored. Recording a
run's end, the job's failure count and (once) the alert that goes with it is another
(``RunEndWrite``), which a run answered normally shares with its turn's final answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from roost.bus.envelope import Delivery, Envelope
from roost.bus.store import AcceptedEnvelopes, queue_delivery
from roost.scheduler.model import (
    FAILED_STATUSES,
    JOB_ACTIVE,
    RUN_RUNNING,
    SUCCESS_STATUSES,
    RunInfo,
    from_db,
    to_db,
)
from roost.scheduler.turn_records import TurnFacts
from roost.store.tables import job_runs, jobs, messages, turns, utcnow

_ADVANCE_JOB = (
    update(jobs)
    .where(jobs.c.id == bindparam("job_id"), jobs.c.state == JOB_ACTIVE)
    .values(
        next_due=bindparam("next_due"),
        last_due=bindparam("last_due"),
        state=bindparam("state"),
        updated_at=bindparam("now"),
    )
)
_INSERT_RUN = insert(job_runs)
_END_RUN = (
    update(job_runs)
    .where(job_runs.c.id == bindparam("run_id"), job_runs.c.status == RUN_RUNNING)
    .values(
        status=bindparam("status"),
        finished_at=bindparam("finished_at"),
        envelope_id=bindparam("envelope_id"),
        session=bindparam("session"),
        input_tokens=bindparam("input_tokens"),
        output_tokens=bindparam("output_tokens"),
        cost_usd=bindparam("cost_usd"),
        error=bindparam("error"),
    )
)
_JOB_OF_RUN = (
    select(jobs.c.id, jobs.c.name, jobs.c.consecutive_failures, jobs.c.alerted)
    .select_from(job_runs.join(jobs, job_runs.c.job_id == jobs.c.id))
    .where(job_runs.c.id == bindparam("run_id"))
)

AlertBuilder = Callable[[str, int, int, "str | None"], list[Delivery]]
"""``(job name, run id, failures in a row, last error)`` → the alert's deliveries."""


@dataclass
class NewRun:
    """A run to record; ``id`` is set once it is stored."""

    job_id: int | None
    job_name: str
    scheduled_for: datetime
    status: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    isolated_session: bool = False
    fixed_session: str | None = None
    id: int = 0
    session: str | None = None


@dataclass(frozen=True)
class JobAdvance:
    """A job's new place in time after it fired (or missed)."""

    job_id: int
    next_due: datetime | None
    last_due: datetime | None
    state: str


@dataclass(frozen=True)
class RunEnd:
    status: str
    finished_at: datetime
    envelope_id: int | None
    session: str | None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    error: str | None = None


@dataclass
class EndRecorded:
    """What recording a run's end changed: the job's failure streak, alerts queued."""

    job_id: int | None
    consecutive_failures: int = 0
    alerts: list[Delivery] = field(default_factory=list)


Send = Callable[[NewRun], "Envelope | None"]
"""A stored run's envelope to store with it (None: the run is not sent, e.g. missed)."""


@dataclass
class CommittedRuns:
    """What a commit of runs stored."""

    live: set[int] = field(default_factory=set)
    """Jobs still active (``commit_fired``): their runs were stored."""
    sent: list[tuple[NewRun, Envelope, bool]] = field(default_factory=list)
    """Each sent run with its envelope as stored and whether it was a duplicate."""


@dataclass(frozen=True)
class AlertPlan:
    """After how many failures in a row a job's owner is told, and what they are told."""

    threshold: int
    build: AlertBuilder


class RunStore(TurnFacts):
    """Runs, and (from ``TurnFacts``) what the inbox and the turns say about them."""

    async def commit(self, runs: Sequence[NewRun], send: Send | None = None) -> CommittedRuns:
        """Store ``runs``, setting their ids, and the envelopes ``send`` gives for them
        (in the inbox, deduplicated as ``Router.submit`` does), in one transaction."""
        committed = CommittedRuns()

        def store(connection: Connection) -> None:
            committed.sent = []
            for run in runs:
                _insert_run(connection, run)
            _store_envelopes(connection, runs, send, committed)

        await self._db.write(store, urgent=True)
        return committed

    async def commit_fired(
        self, runs: Sequence[NewRun], advances: Sequence[JobAdvance], send: Send | None = None
    ) -> CommittedRuns:
        """Store the runs of due jobs and their envelopes, and move the jobs on, in one
        transaction.

        Only jobs still active are touched (one paused or removed meanwhile is left
        alone, and its runs are not stored); ``live`` holds their ids. The first
        statement writes, so the transaction holds SQLite's write lock from its start
        (a read first would make the later write fail at once when another writer got in).
        """
        now = utcnow()
        committed = CommittedRuns()

        def store(connection: Connection) -> None:
            live = committed.live = set()
            committed.sent = []
            for advance in advances:
                params = {
                    "job_id": advance.job_id,
                    "next_due": to_db(advance.next_due),
                    "last_due": to_db(advance.last_due),
                    "state": advance.state,
                    "now": now,
                }
                if connection.execute(_ADVANCE_JOB, params).rowcount:
                    live.add(advance.job_id)
            stored = [run for run in runs if run.job_id in live]
            for run in stored:
                _insert_run(connection, run)
            _store_envelopes(connection, stored, send, committed)

        await self._db.write(store, urgent=True)
        return committed

    async def finish(
        self,
        run_id: int,
        end: RunEnd,
        alert: AlertPlan,
    ) -> EndRecorded | None:
        """Record the end of a running run; None if it was recorded already.

        The alert's deliveries are queued in the same transaction the first time the
        job has failed ``alert.threshold`` times in a row, and not again until a
        run succeeds.
        """
        return await self._db.write(self.end_write(run_id, end, alert))

    def end_write(self, run_id: int, end: RunEnd, alert: AlertPlan) -> RunEndWrite:
        """``finish`` as a write for another transaction (the turn's, with its answer)."""
        return RunEndWrite(run_id, end, alert)

    async def running(self) -> list[tuple[int, int | None, str]]:
        """``(run id, job id, job name)`` of every run recorded as running."""
        query = select(job_runs.c.id, job_runs.c.job_id, job_runs.c.job_name).where(
            job_runs.c.status == RUN_RUNNING
        )
        rows = await self._db.read(lambda connection: connection.execute(query).all())
        return [(int(row[0]), row[1], str(row[2])) for row in rows]

    async def get(self, run_id: int) -> RunInfo | None:
        found = await self._runs(select(job_runs).where(job_runs.c.id == run_id))
        return found[0] if found else None

    async def for_job(self, name: str, limit: int) -> list[RunInfo]:
        """The newest ``limit`` runs of the job called ``name``, newest first."""
        query = (
            select(job_runs)
            .where(job_runs.c.job_name == name)
            .order_by(job_runs.c.scheduled_for.desc(), job_runs.c.id.desc())
            .limit(limit)
        )
        return await self._runs(query)

    async def _runs(self, query: Any) -> list[RunInfo]:
        def load(connection: Connection) -> tuple[Sequence[Any], dict[int, str]]:
            rows = connection.execute(query).mappings().all()
            envelope_ids = [int(row["envelope_id"]) for row in rows if row["envelope_id"]]
            return rows, _answers(connection, envelope_ids)

        rows, answers = await self._db.read(load)
        return [
            _run_info(row, answers.get(row["envelope_id"]) if row["envelope_id"] else None)
            for row in rows
        ]


class RunEndWrite:
    """A run's end recorded (see ``RunStore.finish``): a write for a transaction.

    ``recorded`` is what it changed, or None if the run was recorded already (valid
    once the transaction committed).
    """

    def __init__(self, run_id: int, end: RunEnd, alert: AlertPlan) -> None:
        self.run_id = run_id
        self.end = end
        self._alert = alert
        self.recorded: EndRecorded | None = None

    def __call__(self, connection: Connection) -> EndRecorded | None:
        self.recorded = None
        end = self.end
        params = {
            "run_id": self.run_id,
            "status": end.status,
            "finished_at": to_db(end.finished_at),
            "envelope_id": end.envelope_id,
            "session": end.session,
            "input_tokens": end.input_tokens,
            "output_tokens": end.output_tokens,
            "cost_usd": end.cost_usd,
            "error": end.error,
        }
        if connection.execute(_END_RUN, params).rowcount == 0:
            return None
        self.recorded = _count_outcome(connection, self.run_id, end, self._alert)
        return self.recorded


def _store_envelopes(
    connection: Connection, runs: Sequence[NewRun], send: Send | None, committed: CommittedRuns
) -> None:
    if send is None:
        return
    pairs = [(run, envelope) for run in runs if (envelope := send(run)) is not None]
    if not pairs:
        return
    accepted = AcceptedEnvelopes()
    accepted.store(connection, [envelope for _, envelope in pairs])
    committed.sent = [
        (run, stored, duplicate)
        for (run, _), (stored, duplicate) in zip(pairs, accepted.accepted, strict=True)
    ]


def _insert_run(connection: Connection, run: NewRun) -> None:
    values = {
        "job_id": run.job_id,
        "job_name": run.job_name,
        "scheduled_for": to_db(run.scheduled_for),
        "started_at": to_db(run.started_at),
        "finished_at": to_db(run.finished_at),
        "status": run.status,
        "session": run.fixed_session,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": 0.0,
        "error": run.error,
    }
    result = connection.execute(_INSERT_RUN, values)
    run.id = int(result.inserted_primary_key[0])  # type: ignore[index]
    run.session = run.fixed_session
    if run.isolated_session:  # stored when the run ends (one write less per run)
        run.session = f"job:{run.job_name}:{run.id}"


def _count_outcome(
    connection: Connection, run_id: int, end: RunEnd, alert: AlertPlan
) -> EndRecorded:
    """Update the job's failure streak; queue the alert the first time it reaches the limit."""
    row = connection.execute(_JOB_OF_RUN, {"run_id": run_id}).first()
    if row is None:
        return EndRecorded(None)  # the job was removed meanwhile
    job_id, name, was_failing, was_alerted = int(row[0]), str(row[1]), int(row[2]), bool(row[3])
    recorded = EndRecorded(job_id)
    failures, alerted = was_failing, was_alerted
    if end.status in SUCCESS_STATUSES:
        failures, alerted = 0, False
    elif end.status in FAILED_STATUSES:
        failures += 1
        if failures >= alert.threshold and not alerted:
            alerted = True
            for delivery in alert.build(name, run_id, failures, end.error):
                recorded.alerts.append(queue_delivery(connection, delivery))
    recorded.consecutive_failures = failures
    if (failures, alerted) != (was_failing, was_alerted):
        connection.execute(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(consecutive_failures=failures, alerted=alerted, updated_at=utcnow())
        )
    return recorded


def _answers(connection: Connection, envelope_ids: Sequence[int]) -> dict[int, str]:
    """Each envelope's answer: the newest final assistant message of any of its turns (a
    run recovered after a crash has several turns)."""
    if not envelope_ids:
        return {}
    query = (
        select(turns.c.envelope_id, messages.c.text)
        .select_from(messages.join(turns, messages.c.turn_id == turns.c.id))
        .where(
            turns.c.envelope_id.in_(envelope_ids),
            messages.c.role == "assistant",
            messages.c.tool_calls.is_(None),  # a step that calls tools is not the answer
        )
        .order_by(messages.c.id)
    )
    return {int(envelope_id): str(text) for envelope_id, text in connection.execute(query)}


def _run_info(row: Any, answer: str | None = None) -> RunInfo:
    scheduled = from_db(row["scheduled_for"])
    assert scheduled is not None
    return RunInfo(
        id=int(row["id"]),
        job=row["job_name"],
        scheduled_for=scheduled,
        status=row["status"],
        started_at=from_db(row["started_at"]),
        finished_at=from_db(row["finished_at"]),
        envelope_id=row["envelope_id"],
        session=row["session"],
        input_tokens=int(row["input_tokens"] or 0),
        output_tokens=int(row["output_tokens"] or 0),
        cost_usd=float(row["cost_usd"] or 0.0),
        error=row["error"],
        answer=answer,
    )
