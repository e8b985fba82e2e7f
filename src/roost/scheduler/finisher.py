"""The end of a job's turn: what it delivers, and how the run is recorded.

The router asks ``replies`` for the deliveries and queues them atomically with the
envelope's completion. A run answered normally (``ok`` or ``silent``) is recorded in
that same transaction, which also stores the turn's final answer (``with_answer``:
the run's status, tokens, cost, the job's failure streak); otherwise ``finished``
records it afterwards (failed, timed out, cancelled), with, once, an alert. Either
way ``finished`` then publishes ``job.finished`` and lets the runner go on. All of
it works without the scheduler loop running, so a run that a crash interrupted and
the router re-runs at the next start is recorded and delivered like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from roost.agents.turn import TurnResult
from roost.bus.envelope import Delivery, Envelope, agent_address, agent_name
from roost.bus.envelope_end import reply_meta
from roost.bus.events import EventHub
from roost.scheduler.job_events import publish_finished
from roost.scheduler.model import (
    RUN_FAILED,
    RUN_OK,
    RUN_SILENT,
    RUN_TIMEOUT,
    SILENT_ANSWER,
)
from roost.scheduler.runs import AlertPlan, EndRecorded, RunEnd, RunEndWrite, RunStore
from roost.store.turn_status import TurnStatus
from roost.timing.clock import Clock

log = logging.getLogger(__name__)

RESULT_KIND = "job_result"


def run_outcome(
    status: str, text: str, error: str | None, timed_out: bool
) -> tuple[str, str | None]:
    """A turn's ``(run status, error)``: ok, silent (answered NOTHING), failed or timeout."""
    if status == TurnStatus.INTERRUPTED:
        return (RUN_TIMEOUT, "timed out") if timed_out else (RUN_FAILED, "cancelled")
    if status != TurnStatus.OK:
        return RUN_FAILED, error or text or status
    if text.strip() == SILENT_ANSWER:
        return RUN_SILENT, None
    return RUN_OK, None


def result_deliveries(envelope: Envelope, result: TurnResult, run_id: int) -> list[Delivery]:
    """One delivery of the answer per target in the envelope's ``deliver`` list."""
    job = str(envelope.meta.get("job", ""))
    meta = reply_meta(envelope, result) | {"kind": RESULT_KIND, "job": job, "job_run_id": run_id}
    deliveries = []
    for target in envelope.meta.get("deliver") or []:
        to_agent = agent_name(str(target)) is not None
        deliveries.append(
            Delivery(
                target=str(target),
                sender=f"job:{job}",
                body=f"[result of job {job}] {result.text}" if to_agent else result.text,
                session=f"job:{job}" if to_agent else "",
                envelope_id=envelope.id,
                job_run_id=run_id,
                meta=meta,
            )
        )
    return deliveries


class JobFinisher:
    """The router's ``Finisher`` for ``job:`` senders; what it stores with a turn's
    answer is the run's end (``RunEndWrite``), handed back to ``finished`` as such."""

    def __init__(
        self,
        runs: RunStore,
        events: EventHub,
        clock: Clock,
        alert: AlertPlan,
        push: Callable[[list[Delivery]], None],
        timed_out: Callable[[int], bool],
        on_end: Callable[[int, str], None],
    ) -> None:
        self._runs = runs
        self._events = events
        self._clock = clock
        self._alert = alert
        self._push = push
        self._timed_out = timed_out
        self._on_end = on_end

    def replies(self, envelope: Envelope, result: TurnResult) -> list[Delivery]:
        run_id = _run_id(envelope)
        if run_id is None:
            return _plain_reply(envelope, result)
        status, _ = run_outcome(result.status, result.text, result.error, False)
        return result_deliveries(envelope, result, run_id) if status == RUN_OK else []

    def with_answer(self, envelope: Envelope, result: TurnResult) -> RunEndWrite | None:
        """The run's end, to store with the turn's final answer (when it is ok or silent)."""
        run_id = _run_id(envelope)
        if run_id is None:
            return None
        status, error = run_outcome(result.status, result.text, result.error, False)
        if status not in (RUN_OK, RUN_SILENT):
            return None
        usage = (result.usage.input_tokens, result.usage.output_tokens, result.cost_usd)
        return self._runs.end_write(run_id, self._end(envelope, status, error, usage), self._alert)

    async def finished(
        self,
        envelope: Envelope,
        result: TurnResult,
        queued: list[Delivery],
        stored: RunEndWrite | None = None,
    ) -> None:
        run_id = _run_id(envelope)
        if run_id is None:
            return
        if stored is not None and stored.run_id == run_id:
            end = stored.end  # recorded with the answer
            usage = (end.input_tokens, end.output_tokens, end.cost_usd)
            self._on_end(run_id, end.status)
            recorded = stored.recorded
            self._recorded(run_id, recorded, envelope, end.status, end.error, usage, len(queued))
            return
        timed_out = self._timed_out(run_id)
        status, error = run_outcome(result.status, result.text, result.error, timed_out)
        if status == RUN_TIMEOUT:
            error = f"timed out after {envelope.meta.get('timeout_s', '?')}s"
        usage = (result.usage.input_tokens, result.usage.output_tokens, result.cost_usd)
        if result.turn_id is None or status in (RUN_TIMEOUT, RUN_FAILED):
            usage = await self._runs.usage_of(envelope.id)
        await self.record(run_id, envelope, status, error, usage, len(queued))

    async def record(
        self,
        run_id: int,
        envelope: Envelope,
        status: str,
        error: str | None,
        usage: tuple[int, int, float],
        delivered_to: int,
    ) -> None:
        """Record a run's end (also used by recovery); publishes ``job.finished``."""
        end = self._end(envelope, status, error, usage)
        try:
            recorded = await self._runs.finish(run_id, end, self._alert)
        finally:
            self._on_end(run_id, status)
        self._recorded(run_id, recorded, envelope, status, error, usage, delivered_to)

    def _end(
        self, envelope: Envelope, status: str, error: str | None, usage: tuple[int, int, float]
    ) -> RunEnd:
        return RunEnd(
            status=status,
            finished_at=self._clock.now(),
            envelope_id=envelope.id or None,
            session=envelope.session or None,
            input_tokens=usage[0],
            output_tokens=usage[1],
            cost_usd=usage[2],
            error=error,
        )

    def _recorded(
        self,
        run_id: int,
        recorded: EndRecorded | None,
        envelope: Envelope,
        status: str,
        error: str | None,
        usage: tuple[int, int, float],
        delivered_to: int,
    ) -> None:
        """After a run's end was recorded: its alerts sent, ``job.finished`` published
        (nothing if it had been recorded before)."""
        if recorded is None:
            return
        if recorded.alerts:
            self._push(recorded.alerts)
        publish_finished(
            self._events,
            job=str(envelope.meta.get("job", "")),
            run_id=run_id,
            status=status,
            cost_usd=usage[2],
            input_tokens=usage[0],
            output_tokens=usage[1],
            error=error,
            deliveries=delivered_to,
        )


def _run_id(envelope: Envelope) -> int | None:
    value: Any = envelope.meta.get("job_run_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _plain_reply(envelope: Envelope, result: TurnResult) -> list[Delivery]:
    """An envelope from a job's address that is not a run (a result sent to an agent)."""
    if not envelope.reply_to:
        return []
    return [
        Delivery(
            target=envelope.reply_to,
            sender=agent_address(result.agent),
            body=result.text,
            envelope_id=envelope.id,
            meta=reply_meta(envelope, result),
        )
    ]
