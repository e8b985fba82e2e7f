"""Jobs and runs as the rest of Roost sees them: plain dataclasses with ``to_dict``.

Times are timezone-aware UTC here; the database stores naive UTC (``to_db``/``from_db``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from roost.timing.catch_up import CatchUpPolicy
from roost.timing.parsing import build_schedule
from roost.timing.schedules import Schedule, ScheduleKind
from roost.timing.zones import resolve_zone

Overlap = Literal["skip", "queue"]

JOB_ACTIVE = "active"
JOB_PAUSED = "paused"
JOB_DISABLED = "disabled"
"""Removed from (or ``enabled: false`` in) the config file; its history is kept."""
JOB_DONE = "done"
"""A one-shot (``at``) job that has fired."""

RUN_RUNNING = "running"
RUN_OK = "ok"
RUN_SILENT = "silent"
RUN_FAILED = "failed"
RUN_SKIPPED = "skipped"
RUN_MISSED = "missed"
RUN_TIMEOUT = "timeout"
RUN_QUEUED = "queued"
"""Not stored: ``run_now`` of a job whose earlier run still goes on (overlap: queue)."""
FAILED_STATUSES = frozenset({RUN_FAILED, RUN_TIMEOUT})
SUCCESS_STATUSES = frozenset({RUN_OK, RUN_SILENT})

OWNER_CONFIG = "config"
ISOLATED = "isolated"
SILENT_ANSWER = "NOTHING"
"""An answer that is exactly this (whitespace aside) is not delivered: the run is silent."""
DEFAULT_TIMEOUT_S = 600.0


def to_db(t: datetime | None) -> datetime | None:
    """Aware → naive UTC, as every table stores times."""
    return None if t is None else t.astimezone(UTC).replace(tzinfo=None)


def from_db(t: datetime | None) -> datetime | None:
    """Naive UTC from the database → aware UTC."""
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def agent_owner(agent: str) -> str:
    return f"agent:{agent}"


@dataclass(slots=True)
class Job:
    """One row of ``jobs``: what runs, when, where its answers go, and its state."""

    id: int
    name: str
    owner: str
    agent: str
    prompt: str
    kind: ScheduleKind
    expr: str
    timezone: str
    """IANA zone; empty for the machine's own zone."""
    session: str
    deliver: list[str]
    catch_up: CatchUpPolicy
    overlap: Overlap
    model: str | None
    timeout_s: float
    state: str
    anchor: datetime
    next_due: datetime | None
    last_due: datetime | None = None
    consecutive_failures: int = 0
    alerted: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_status: str | None = None
    """The newest run's status, when the query asked for it."""

    def zone(self) -> ZoneInfo:
        return resolve_zone(self.timezone or None)

    def schedule(self) -> Schedule:
        """The timing object; ``every`` counts from the anchor, ``at`` is stored absolute."""
        return build_schedule(
            cron=self.expr if self.kind == "cron" else None,
            every=self.expr if self.kind == "every" else None,
            at=self.expr if self.kind == "at" else None,
            zone=self.zone(),
            now=self.anchor,
            anchor=self.anchor,
        )

    @property
    def model_id(self) -> str | None:
        """The model id a run uses instead of the agent's (``provider/`` dropped)."""
        return self.model.partition("/")[2] if self.model else None

    def session_for(self, run_id: int) -> str:
        return f"job:{self.name}:{run_id}" if self.session == ISOLATED else self.session

    def describe(self) -> str:
        try:
            return self.schedule().describe()
        except ValueError:
            return f"{self.kind} {self.expr}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "owner": self.owner,
            "agent": self.agent,
            "prompt": self.prompt,
            "schedule": self.describe(),
            "kind": self.kind,
            "expr": self.expr,
            "timezone": self.timezone or None,
            "session": self.session,
            "deliver": list(self.deliver),
            "catch_up": self.catch_up,
            "overlap": self.overlap,
            "model": self.model,
            "timeout_s": self.timeout_s,
            "state": self.state,
            "next_due": iso(self.next_due),
            "last_due": iso(self.last_due),
            "last_status": self.last_status,
            "consecutive_failures": self.consecutive_failures,
            "created_at": iso(self.created_at),
        }


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    """One delivery of a run's answer (or of an alert) to one target."""

    id: int
    target: str
    status: str
    """pending (being sent or waiting to be retried), delivered (the channel confirmed) or
    failed (given up; ``last_error`` says why)."""
    attempts: int
    last_error: str | None
    delivered_at: datetime | None
    kind: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target,
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "delivered_at": iso(self.delivered_at),
            "kind": self.kind,
        }


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One row of ``job_runs`` with its deliveries."""

    id: int
    job: str
    scheduled_for: datetime
    status: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    envelope_id: int | None = None
    session: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    error: str | None = None
    deliveries: list[DeliveryInfo] = field(default_factory=list)
    answer: str | None = None
    """The agent's final answer (its last assistant message), once the run has one."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job": self.job,
            "scheduled_for": iso(self.scheduled_for),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "status": self.status,
            "envelope_id": self.envelope_id,
            "session": self.session,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost_usd, 8),
            "error": self.error,
            "deliveries": [delivery.to_dict() for delivery in self.deliveries],
            "answer": self.answer,
        }
