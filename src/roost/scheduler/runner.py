"""Starting runs: overlap rules, the envelope to the agent, the timeout, the queue.

A run becomes an envelope in the inbox, like any message, stored in the transaction
that records the run (``RunStore.commit``/``commit_fired`` with ``envelope``), then
handed to the router (``Router.accepted``), which starts its turn when a turn slot
is free. Its timeout is a timer handle (not a task), so thousands of running jobs
cost little; when it expires the turn is cancelled in its session and the finisher
records the run as ``timeout``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from roost.bus.envelope import Envelope, agent_address
from roost.bus.events import EventHub
from roost.scheduler.job_events import publish_finished, publish_started
from roost.scheduler.model import (
    ISOLATED,
    JOB_ACTIVE,
    JOB_DONE,
    RUN_MISSED,
    RUN_RUNNING,
    Job,
    iso,
)
from roost.scheduler.runs import AlertPlan, CommittedRuns, NewRun, RunStore
from roost.scheduler.store import JobStore
from roost.scheduler.turn_records import run_dedup_key
from roost.store.turn_status import TurnStatus
from roost.timing.clock import Clock

if TYPE_CHECKING:
    from roost.ports import AgentView, Inbox

log = logging.getLogger(__name__)

TIMEOUT_RECHECK_S = 1.0
"""How often a timed-out run whose turn has not started yet is looked at again."""
MAX_QUEUED = 100
"""Fire times waiting per job (overlap: queue); beyond this they are recorded as skipped."""
STOPPING_ERROR = "Roost was stopping; the run did not start"


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


class Runner:
    def __init__(
        self,
        router: Inbox,
        agents: Mapping[str, AgentView],
        runs: RunStore,
        jobs: JobStore,
        events: EventHub,
        clock: Clock,
        alert: AlertPlan,
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

    @property
    def running(self) -> int:
        """Runs sent and not ended (their turns going on or waiting for a turn slot)."""
        return len(self._active)

    @property
    def sending(self) -> bool:
        """Whether runs can be sent now (False while Roost stops: they are recorded missed)."""
        return self._router.accepting

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

    def unsent(self, job: Job, run: NewRun) -> None:
        """An admitted run that cannot be sent (Roost is stopping): record it missed."""
        run.status, run.finished_at, run.error = RUN_MISSED, self._clock.now(), STOPPING_ERROR
        self.unadmit(job.id)

    def envelope(self, job: Job, run: NewRun) -> Envelope:
        """The envelope of a run being stored (``run.id`` is set), to store with it."""
        return _envelope(job, run, run.session or job.session_for(run.id))

    def sent(self, job: Job, run: NewRun, envelope: Envelope, duplicate: bool) -> None:
        """A run and its envelope are stored: hand it to the router, watch its timeout."""
        self.unadmit(job.id)
        self._active[run.id] = _Active(job.id, job.agent, envelope.session, envelope.id)
        self._by_job.setdefault(job.id, set()).add(run.id)
        self._router.accepted([(envelope, duplicate)])
        self._arm(run.id, job.timeout_s)
        publish_started(
            self._events,
            job=job.name,
            run_id=run.id,
            scheduled_for=run.scheduled_for,
            agent=job.agent,
            session=envelope.session,
            envelope_id=envelope.id,
        )

    async def start_one(self, job: Job, scheduled_for: datetime) -> NewRun:
        """Record and send one admitted run (run now, or the next queued one)."""
        run = self.new_run(job, scheduled_for)
        sending = self.sending
        if not sending:
            self.unsent(job, run)
        try:
            committed = await self._runs.commit([run], self._send_for(job) if sending else None)
        except BaseException:
            if sending:
                self.unadmit(job.id)
            raise
        self.launch(committed, {run.id: job})
        if not sending:
            publish_finished(
                self._events, job=job.name, run_id=run.id, status=run.status, error=run.error
            )
        return run

    def launch(self, committed: CommittedRuns, jobs: Mapping[int, Job]) -> None:
        """Hand the runs a commit stored with their envelopes (``jobs``: by run id) on."""
        for run, envelope, duplicate in committed.sent:
            self.sent(jobs[run.id], run, envelope, duplicate)

    def _send_for(self, job: Job) -> Callable[[NewRun], Envelope | None]:
        return lambda run: self.envelope(job, run)

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
        if turn is not None and turn[0] == TurnStatus.RUNNING and agent is not None:
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
