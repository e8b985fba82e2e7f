"""Starting runs: overlap rules, the envelope to the agent, the timeout, the queue.

A run becomes an envelope through the router, like any message, so the inbox
keeps it across a crash. Its timeout is a timer handle (not a task), so thousands
of running jobs cost little; when it expires the turn is cancelled in its session
and the finisher records the run as ``timeout``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from roost.agents.actor import Agent
from roost.bus.envelope import Envelope, agent_address
from roost.bus.events import EventHub
from roost.bus.router import Router, RouterStopped
from roost.scheduler.clock import Clock
from roost.scheduler.job_events import publish_finished, publish_started
from roost.scheduler.model import (
    ISOLATED,
    JOB_ACTIVE,
    JOB_DONE,
    RUN_FAILED,
    RUN_MISSED,
    RUN_RUNNING,
    Job,
    iso,
)
from roost.scheduler.runs import AlertPlan, NewRun, RunEnd, RunStore
from roost.scheduler.store import JobStore
from roost.scheduler.turn_facts import run_dedup_key
from roost.store.conversations import TURN_RUNNING

log = logging.getLogger(__name__)

TIMEOUT_RECHECK_S = 1.0
"""How often a timed-out run whose turn has not started yet is looked at again."""
MAX_QUEUED = 100
"""Fire times waiting per job (overlap: queue); beyond this they are recorded as skipped."""
MAX_RUNNING = 64
"""Runs sent to agents and not ended, across all jobs. More due at once wait for a slot,
so a burst of jobs cannot exhaust the database's connections (their turns would fail)."""


@dataclass
class Admission:
    start: list[datetime] = field(default_factory=list)
    skipped: list[datetime] = field(default_factory=list)
    queued: list[datetime] = field(default_factory=list)


@dataclass
class _Active:
    job_id: int | None
    agent: str
    session: str
    envelope_id: int | None
    timer: asyncio.TimerHandle | None = None
    slot: bool = False


class Runner:
    def __init__(
        self,
        router: Router,
        agents: Mapping[str, Agent],
        runs: RunStore,
        jobs: JobStore,
        events: EventHub,
        clock: Clock,
        alert: AlertPlan,
        max_running: int = MAX_RUNNING,
    ) -> None:
        self._router = router
        self._agents = agents
        self._runs = runs
        self._jobs = jobs
        self._events = events
        self._clock = clock
        self._alert = alert
        self._active: dict[int, _Active] = {}
        self._by_job: dict[int, set[int]] = {}
        self._starting: dict[int, int] = {}
        self._queued: dict[int, deque[datetime]] = {}
        self._finished: deque[int] = deque(maxlen=10_000)
        self._timed_out: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(max_running)

    @property
    def running(self) -> int:
        return len(self._active)

    def busy(self, job_id: int) -> bool:
        return bool(self._by_job.get(job_id)) or self._starting.get(job_id, 0) > 0

    def timed_out(self, run_id: int) -> bool:
        return run_id in self._timed_out

    def admit(self, job: Job, times: list[datetime], *, in_order: bool = False) -> Admission:
        """Split fire times into those to start, skip (overlap: skip) and queue.

        ``in_order`` (catch-up of several fire times) queues whatever cannot start
        now, so they run one after another whatever ``overlap`` says.
        """
        admission = Admission()
        queue = self._queued.setdefault(job.id, deque())
        for t in times:
            if not self.busy(job.id):
                admission.start.append(t)
                self._starting[job.id] = self._starting.get(job.id, 0) + 1
            elif (job.overlap == "queue" or in_order) and len(queue) < MAX_QUEUED:
                queue.append(t)
                admission.queued.append(t)
            else:
                admission.skipped.append(t)
        if not queue:
            del self._queued[job.id]
        return admission

    def unadmit(self, job_id: int) -> None:
        """An admitted run will not be launched after all (recording it failed)."""
        left = self._starting.get(job_id, 0) - 1
        if left > 0:
            self._starting[job_id] = left
        else:
            self._starting.pop(job_id, None)

    def new_run(self, job: Job, scheduled_for: datetime) -> NewRun:
        return NewRun(
            job_id=job.id,
            job_name=job.name,
            scheduled_for=scheduled_for,
            status=RUN_RUNNING,
            started_at=self._clock.now(),
            isolated_session=job.session == ISOLATED,
            fixed_session=None if job.session == ISOLATED else job.session,
        )

    def ended_run(self, job: Job, scheduled_for: datetime, status: str, error: str) -> NewRun:
        now = self._clock.now()
        return NewRun(job.id, job.name, scheduled_for, status, None, now, error)

    async def launch(self, job: Job, run: NewRun) -> None:
        """Send a stored run's envelope to its agent (the run was admitted).

        Waits for a slot while ``max_running`` runs are going on.
        """
        session = run.session or job.session_for(run.id)
        active = _Active(job.id, job.agent, session, None, slot=True)
        await self._slots.acquire()
        self._active[run.id] = active
        self._by_job.setdefault(job.id, set()).add(run.id)
        self.unadmit(job.id)
        try:
            envelope = await self._router.submit(_envelope(job, run, session))
        except RouterStopped:
            await self._end_unsent(run, RUN_MISSED, "Roost was stopping; the run did not start")
            return
        except Exception as exc:
            log.exception("job %s: could not start run %d", job.name, run.id)
            await self._end_unsent(run, RUN_FAILED, f"could not start: {exc}")
            return
        active.envelope_id = envelope.id
        if run.id in self._active:
            self._arm(run.id, job.timeout_s)
        publish_started(
            self._events,
            job=job.name,
            run_id=run.id,
            scheduled_for=run.scheduled_for,
            agent=job.agent,
            session=session,
            envelope_id=envelope.id,
        )

    async def start_one(self, job: Job, scheduled_for: datetime) -> NewRun:
        """Record and launch one admitted run (run now, or the next queued one)."""
        run = self.new_run(job, scheduled_for)
        try:
            await self._runs.commit([run])
        except BaseException:
            self.unadmit(job.id)
            raise
        await self.launch(job, run)
        return run

    def adopt(self, run_id: int, job: Job | None, session: str, envelope_id: int) -> None:
        """Watch a run a previous process started (its envelope runs again)."""
        if run_id in self._finished or run_id in self._active:
            return
        if job is None:
            return  # the job is gone: nothing to time out or to queue behind it
        self._active[run_id] = _Active(job.id, job.agent, session, envelope_id)
        self._by_job.setdefault(job.id, set()).add(run_id)
        self._arm(run_id, job.timeout_s)

    def finished(self, run_id: int) -> None:
        """The finisher recorded the run's end: forget it, start the next queued one."""
        self._finished.append(run_id)
        self._timed_out.discard(run_id)
        active = self._active.pop(run_id, None)
        if active is None:
            return
        if active.slot:
            self._slots.release()
        if active.timer is not None:
            active.timer.cancel()
        if active.job_id is None:
            return
        runs = self._by_job.get(active.job_id, set())
        runs.discard(run_id)
        if not runs:
            self._by_job.pop(active.job_id, None)
            if active.job_id in self._queued:
                self._spawn(self._next_queued(active.job_id))

    def discard_queue(self, job_id: int) -> None:
        self._queued.pop(job_id, None)

    async def stop(self) -> None:
        """Cancel timers and pending work; queued fire times are recorded as missed."""
        for active in self._active.values():
            if active.timer is not None:
                active.timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        queued, self._queued = self._queued, {}
        for job in await self._jobs.get_many(list(queued)):
            runs = [
                self.ended_run(job, t, RUN_MISSED, "Roost stopped before this queued run started")
                for t in queued[job.id]
            ]
            await self._runs.commit(runs)

    async def _next_queued(self, job_id: int) -> None:
        queue = self._queued.get(job_id)
        if not queue or self.busy(job_id):
            return
        scheduled_for = queue.popleft()
        if not queue:
            self._queued.pop(job_id, None)
        found = await self._jobs.get_many([job_id])
        if not found or found[0].state not in (JOB_ACTIVE, JOB_DONE):
            return  # removed or paused meanwhile
        job = found[0]
        self._starting[job_id] = self._starting.get(job_id, 0) + 1
        await self.start_one(job, scheduled_for)

    async def _end_unsent(self, run: NewRun, status: str, error: str) -> None:
        end = RunEnd(status, self._clock.now(), None, run.session, error=error)
        await self._runs.finish(run.id, end, self._alert)
        publish_finished(self._events, job=run.job_name, run_id=run.id, status=status, error=error)
        self.finished(run.id)

    def _arm(self, run_id: int, delay_s: float) -> None:
        active = self._active.get(run_id)
        if active is None:
            return
        loop = asyncio.get_running_loop()
        active.timer = loop.call_later(delay_s, lambda: self._spawn(self._enforce_timeout(run_id)))

    async def _enforce_timeout(self, run_id: int) -> None:
        """Cancel the run's turn if it is running; if it has not started, look again soon."""
        active = self._active.get(run_id)
        if active is None or active.envelope_id is None:
            return
        turn = await self._runs.turn_of(active.envelope_id)
        agent = self._agents.get(active.agent)
        if turn is not None and turn[0] == TURN_RUNNING and agent is not None:
            self._timed_out.add(run_id)
            if agent.cancel(active.session):
                log.warning("job run %d timed out; its turn was cancelled", run_id)
                return
            self._timed_out.discard(run_id)
        if run_id in self._active:
            self._arm(run_id, TIMEOUT_RECHECK_S)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _envelope(job: Job, run: NewRun, session: str) -> Envelope:
    meta: dict[str, object] = {
        "job_run_id": run.id,
        "job": job.name,
        "deliver": list(job.deliver),
        "timeout_s": job.timeout_s,
        "scheduled_for": iso(run.scheduled_for),
    }
    if job.model_id:
        meta["model"] = job.model_id
    return Envelope(
        sender=f"job:{job.name}",
        recipient=agent_address(job.agent),
        session=session,
        body=job.prompt,
        reply_to=None,
        meta=meta,
        dedup_key=run_dedup_key(run.id),
    )
