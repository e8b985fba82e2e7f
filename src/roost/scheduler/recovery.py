"""At start: settle the runs a previous process left "running".

* Its envelope is still pending: the router runs it again; the finisher records it.
  The run is watched again here (overlap, timeout).
* Its envelope finished but the run was not recorded (the process died in
  between): recorded now from the stored turn.
* It has no envelope (the process died between the two writes): missed.
"""

from __future__ import annotations

import logging

from roost.bus.envelope import ENVELOPE_PENDING, Envelope
from roost.scheduler.finisher import JobFinisher, run_outcome
from roost.scheduler.model import RUN_FAILED, RUN_MISSED
from roost.scheduler.runner import Runner
from roost.scheduler.runs import RunStore
from roost.scheduler.store import JobStore

log = logging.getLogger(__name__)


async def settle_running_runs(
    runs: RunStore, jobs: JobStore, runner: Runner, finisher: JobFinisher
) -> int:
    """Settle every run recorded as running; returns how many were found."""
    found = await runs.running()
    by_id = {
        job.id: job for job in await jobs.get_many({job_id for _, job_id, _ in found if job_id})
    }
    for run_id, job_id, job_name in found:
        job = by_id.get(job_id) if job_id is not None else None
        envelope = await runs.envelope_of(run_id)
        session = envelope[2] if envelope else ""
        stand_in = Envelope(
            sender=f"job:{job_name}",
            recipient=f"agent:{job.agent if job else ''}",
            session=session,
            body="",
            meta={"job": job_name, "job_run_id": run_id},
            id=envelope[0] if envelope else 0,
        )
        if envelope is None:
            await finisher.record(
                run_id,
                stand_in,
                RUN_MISSED,
                "Roost stopped before the run's message was stored; it did not run",
                (0, 0, 0.0),
                0,
            )
        elif envelope[1] == ENVELOPE_PENDING:
            runner.adopt(run_id, job, session, envelope[0])
        else:
            await _record_from_turn(runs, finisher, run_id, stand_in)
    if found:
        log.info("settled %d job run(s) left running by the last process", len(found))
    return len(found)


async def _record_from_turn(
    runs: RunStore, finisher: JobFinisher, run_id: int, envelope: Envelope
) -> None:
    turn = await runs.turn_of(envelope.id)
    status: str
    error: str | None
    if turn is None:
        status, error = RUN_FAILED, "Roost stopped before the run was recorded"
    else:
        status, error = run_outcome(turn[0], turn[1], turn[2], timed_out=False)
    usage = await runs.usage_of(envelope.id)
    await finisher.record(run_id, envelope, status, error, usage, 0)
