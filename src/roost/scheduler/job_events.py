"""The ``jobs`` topic: ``job.started`` and ``job.finished``, for whoever is watching."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from roost.bus.events import JOBS, EventHub
from roost.scheduler.model import iso


def publish_started(
    events: EventHub,
    *,
    job: str,
    run_id: int,
    scheduled_for: datetime,
    agent: str,
    session: str | None,
    envelope_id: int | None,
) -> None:
    if events.watched(JOBS):
        events.publish(
            JOBS,
            "job.started",
            {
                "job": job,
                "run_id": run_id,
                "scheduled_for": iso(scheduled_for),
                "agent": agent,
                "session": session,
                "message_id": envelope_id,
            },
        )


def publish_finished(
    events: EventHub,
    *,
    job: str,
    run_id: int,
    status: str,
    scheduled_for: datetime | None = None,
    cost_usd: float = 0.0,
    input_tokens: int = 0,
    output_tokens: int = 0,
    error: str | None = None,
    deliveries: int = 0,
) -> None:
    if not events.watched(JOBS):
        return
    data: dict[str, Any] = {
        "job": job,
        "run_id": run_id,
        "status": status,
        "scheduled_for": iso(scheduled_for),
        "cost_usd": round(cost_usd, 8),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "deliveries": deliveries,
    }
    if error:
        data["error"] = error
    events.publish(JOBS, "job.finished", data)
