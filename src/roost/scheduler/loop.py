"""The scheduler loop: sleep until the next job is due, fire what is due, repeat.

One coroutine for all jobs. It sleeps on the clock until the earliest ``next_due``
(or until woken, when jobs change). Rows are read only for jobs about to be due:
those due within ``LOOKAHEAD`` are taken out of the heap and read before the loop
sleeps, so at the due time it only plans and hands the batch to a task that
records it (runs and new ``next_due`` in one transaction) and sends the envelopes.
Every ``RESYNC_S`` it asks the database which rows changed, so a job added by
`roost jobs add` without a gateway is picked up. A config reload rewrites jobs
while the loop is held still (``quiet``), so no batch is recorded meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from roost.bus.events import EventHub
from roost.scheduler.due_index import DueIndex
from roost.scheduler.firing import Batch, Firing
from roost.scheduler.model import JOB_ACTIVE, Job
from roost.scheduler.runner import Runner
from roost.scheduler.runs import RunStore
from roost.scheduler.store import JobStore
from roost.store.tables import utcnow
from roost.timing.clock import Clock

log = logging.getLogger(__name__)

RESYNC_S = 30.0
IDLE = timedelta(hours=1)
MAX_BATCH = 500
"""Jobs fired per transaction when many are due at once."""
LOOKAHEAD = timedelta(seconds=1)
MAX_IN_FLIGHT = 16
"""Batches being recorded and sent at once; beyond that the loop waits (back-pressure)."""


class SchedulerLoop:
    def __init__(
        self, jobs: JobStore, runs: RunStore, runner: Runner, events: EventHub, clock: Clock
    ) -> None:
        self.index = DueIndex()
        self.wake = asyncio.Event()
        self.ticks = 0
        """Passes through the loop so far (tests wait on it)."""
        self._jobs = jobs
        self._firing = Firing(runs, runner, events)
        self._clock = clock
        self._staged: dict[int, Job] = {}
        """Taken out of the heap because they are due within LOOKAHEAD, rows read."""
        self._touched: set[int] = set()
        self._in_flight: dict[asyncio.Task[None], set[int]] = {}
        self._staging: asyncio.Task[None] | None = None
        self._still = asyncio.Lock()
        """Held by each pass and by ``quiet``: one at a time."""
        self.started_at = clock.now()
        self._next_resync = self.started_at
        self._resync_mark = utcnow()

    async def load(self) -> None:
        """Fill the heap from the database; fire times before now count as missed."""
        self._resync_mark = utcnow()
        for job_id, due in await self._jobs.due_index():
            self.index.set(job_id, due)
        self.started_at = self._clock.now()
        self._next_resync = self.started_at + timedelta(seconds=RESYNC_S)

    def reschedule(self, job_id: int, due: datetime | None) -> None:
        """A job's next fire time changed (None: it no longer fires); re-plan now."""
        self._staged.pop(job_id, None)
        self._touched.add(job_id)
        self.index.set(job_id, due)
        self.wake.set()

    @property
    def scheduled(self) -> int:
        """Jobs that will fire (waiting in the heap or read ahead)."""
        return len(self.index) + len(self._staged)

    def next_due(self) -> datetime | None:
        dues = [job.next_due for job in self._staged.values() if job.next_due is not None]
        heap = self.index.next_due()
        return min([*dues, heap] if heap else dues, default=None)

    async def run_forever(self) -> None:
        while True:
            self.wake.clear()
            async with self._still:
                await self.tick()
            self.ticks += 1
            await self._clock.sleep_until(self._deadline(), self.wake)

    async def tick(self) -> None:
        """Fire everything due now, then read ahead the rows of what is due next."""
        now = self._clock.now()
        if now >= self._next_resync:
            await self._resync()
            self._next_resync = now + timedelta(seconds=RESYNC_S)
        jobs = self._take_staged(now)
        while True:
            ids = self.index.pop_due(now, MAX_BATCH)
            if ids:
                jobs += await self._jobs.get_many(ids)
            if not jobs:
                break
            batch = self._firing.plan(jobs, now, self.started_at, self.index.set)
            if batch.advances:
                await self._spawn(batch)
            jobs = []
        if self._staging is None or self._staging.done():
            self._staging = asyncio.create_task(self._stage(now + LOOKAHEAD))

    @asynccontextmanager
    async def quiet(self) -> AsyncIterator[datetime]:
        """Hold the loop still and yield the moment it holds at.

        First everything due by then is fired and recorded (a run that was due
        belongs to the jobs as they were); while the body runs, no pass starts and no
        batch is being recorded, so the body may rewrite jobs (and ``reschedule``
        them) without a run being lost or recorded twice.
        """
        try:
            async with self._still:
                now = self._clock.now()
                await self.tick()
                while self._in_flight:
                    await asyncio.wait(list(self._in_flight))
                yield now
        finally:
            self.wake.set()  # plan the next wake with what the body changed

    async def drain(self, timeout_s: float = 5.0) -> None:
        """On stop: let batches being recorded finish, then cancel what is left.

        A run recorded but not sent (waiting for a slot) is settled as missed at the
        next start.
        """
        if self._staging is not None:
            self._staging.cancel()
        tasks = list(self._in_flight)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _spawn(self, batch: Batch) -> None:
        while len(self._in_flight) >= MAX_IN_FLIGHT:
            await asyncio.wait(list(self._in_flight), return_when=asyncio.FIRST_COMPLETED)
        work: Coroutine[Any, Any, None] = self._firing.commit_and_launch(batch, self.index.set)
        task = asyncio.create_task(work, name="scheduler-fire")
        self._in_flight[task] = {job.id for job in batch.jobs}
        task.add_done_callback(self._fired)

    def _fired(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("recording due jobs failed; retrying", exc_info=task.exception())
        self.wake.set()  # the batch put its jobs back in the heap: plan the next wake

    def _take_staged(self, now: datetime) -> list[Job]:
        due = [job for job in self._staged.values() if job.next_due and job.next_due <= now]
        for job in due:
            del self._staged[job.id]
        return due

    async def _stage(self, until: datetime) -> None:
        ids = self.index.pop_due(until, MAX_BATCH - len(self._staged))
        if not ids:
            return
        self._touched.clear()
        try:
            found = await self._jobs.get_many(ids)
        except BaseException as exc:
            for job_id in set(ids) - self._touched:
                self.index.set(job_id, self._clock.now())  # not read: read when due
            if not isinstance(exc, Exception):
                raise
            log.exception("reading the jobs due next failed; they are read when due")
            return
        for job in found:
            if job.id in self._touched or job.state != JOB_ACTIVE or job.next_due is None:
                continue  # changed while it was read (reschedule put it back) or stopped
            if job.next_due > until:
                self.index.set(job.id, job.next_due)  # moved by another process
            else:
                self._staged[job.id] = job
        self.wake.set()  # the earliest due may be among them

    def _deadline(self) -> datetime:
        now = self._clock.now()
        candidates = [self._next_resync, now + IDLE]
        due = self.next_due()
        if due is not None:
            candidates.append(due)
        return min(candidates)

    async def _resync(self) -> None:
        mark = utcnow()
        since = self._resync_mark - timedelta(seconds=2)  # writes committing meanwhile
        busy = set().union(*self._in_flight.values()) if self._in_flight else set()
        for job_id, state, next_due in await self._jobs.changed_since(since):
            if job_id in busy:
                continue  # being recorded: its batch puts it back
            self._staged.pop(job_id, None)
            if state == JOB_ACTIVE and next_due is not None:
                self.index.set(job_id, next_due)
            else:
                self.index.discard(job_id)
        self._resync_mark = mark


async def stop_task(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
