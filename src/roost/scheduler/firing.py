"""Firing due jobs: plan each one, then record the batch and send its runs in one
transaction.

Planning is synchronous (each run's ``started_at`` is the moment the job was seen
due). One transaction records the runs, moves the jobs on and stores the runs'
envelopes in the inbox; that is the firing: then the router has them, and their
turns start as turn slots free up. It is awaited by a task of its own, so the loop
goes back to its clock at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from roost.bus.envelope import Envelope
from roost.bus.events import EventHub
from roost.scheduler.job_events import publish_finished
from roost.scheduler.model import JOB_ACTIVE, JOB_DONE, JOB_PAUSED, RUN_MISSED, RUN_SKIPPED, Job
from roost.scheduler.planning import FirePlan, plan_due
from roost.scheduler.runner import Runner
from roost.scheduler.runs import JobAdvance, NewRun, RunStore

log = logging.getLogger(__name__)

SKIPPED_ERROR = "the previous run was still going (overlap: skip)"
Reindex = Callable[[int, "datetime | None"], None]


@dataclass
class Batch:
    jobs: list[Job] = field(default_factory=list)
    runs: list[NewRun] = field(default_factory=list)
    advances: list[JobAdvance] = field(default_factory=list)
    launches: list[tuple[Job, NewRun]] = field(default_factory=list)


class Firing:
    def __init__(self, runs: RunStore, runner: Runner, events: EventHub) -> None:
        self._runs = runs
        self._runner = runner
        self._events = events

    def plan(self, jobs: list[Job], now: datetime, started_at: datetime, later: Reindex) -> Batch:
        """The runs and advances for ``jobs`` seen due at ``now``.

        ``started_at`` is when the scheduler started: fire times before it passed
        while Roost was not running. A job not due after all goes to ``later``.
        """
        batch = Batch()
        for job in jobs:
            if job.state != JOB_ACTIVE or job.next_due is None:
                continue  # paused or removed since it was put in the heap
            if job.next_due > now:
                later(job.id, job.next_due)  # moved by another process
                continue
            batch.jobs.append(job)
            self._plan_one(job, now, started_at, batch)
        return batch

    async def commit_and_launch(self, batch: Batch, reindex: Reindex) -> None:
        """Record the batch with its runs' envelopes, put its jobs back in the heap and
        hand the envelopes to the router."""
        sending = self._runner.sending
        if not sending:  # stopping: the router takes no more messages
            for job, run in batch.launches:
                self._runner.unsent(job, run)
            batch.launches = []
        jobs_by_run = {id(run): job for job, run in batch.launches}
        runner = self._runner

        def send(run: NewRun) -> Envelope | None:
            job = jobs_by_run.get(id(run))
            return runner.envelope(job, run) if job is not None else None

        try:
            committed = await self._runs.commit_fired(batch.runs, batch.advances, send)
        except BaseException:
            for job in batch.jobs:  # nothing was recorded: try these jobs again
                reindex(job.id, job.next_due)
            for job, _ in batch.launches:
                self._runner.unadmit(job.id)
            raise
        live = committed.live
        for advance in batch.advances:
            if advance.job_id in live and advance.state == JOB_ACTIVE:
                reindex(advance.job_id, advance.next_due)
        self._runner.launch(committed, {run.id: job for job, run in batch.launches})
        for run in batch.runs:
            if run.job_id in live and run.status in (RUN_MISSED, RUN_SKIPPED):
                publish_finished(
                    self._events,
                    job=run.job_name,
                    run_id=run.id,
                    status=run.status,
                    scheduled_for=run.scheduled_for,
                    error=run.error,
                )
        for job, _ in batch.launches:
            if job.id not in live:
                self._runner.unadmit(job.id)

    def _plan_one(self, job: Job, now: datetime, started_at: datetime, batch: Batch) -> None:
        assert job.next_due is not None
        try:
            plan = plan_due(job.schedule(), job.catch_up, job.next_due, now, started_at)
        except ValueError as exc:
            log.error("job %s cannot be scheduled any more (%s); pausing it", job.name, exc)
            batch.advances.append(JobAdvance(job.id, None, job.last_due, JOB_PAUSED))
            return
        if plan.dropped:
            log.warning("job %s: more than %d runs were missed", job.name, len(plan.missed))
        self._add_runs(job, plan, started_at, batch)
        state = JOB_ACTIVE if plan.next_due is not None else JOB_DONE
        batch.advances.append(JobAdvance(job.id, plan.next_due, plan.last_due, state))

    def _add_runs(self, job: Job, plan: FirePlan, started_at: datetime, batch: Batch) -> None:
        for t in plan.missed:
            why = (
                "Roost was not running at this time"
                if t < started_at
                else "the scheduler could not run it on time (was the machine asleep?)"
            )
            batch.runs.append(self._runner.ended_run(job, t, RUN_MISSED, why))
        admission = self._runner.admit(job, plan.run, in_order=len(plan.run) > 1)
        for t in admission.skipped:
            batch.runs.append(self._runner.ended_run(job, t, RUN_SKIPPED, SKIPPED_ERROR))
        for t in admission.start:
            run = self._runner.new_run(job, t)
            batch.runs.append(run)
            batch.launches.append((job, run))
