"""The scheduler as a part of `roost run`: ``SchedulerService(app)``.

Construction registers the agents' scheduling tools and the router's finisher for
``job:`` senders — before ``App.start`` re-runs unfinished envelopes, so runs a
crash interrupted are recorded and delivered. ``start`` brings the config's jobs
into the store, settles runs left running, loads the heap and starts the loop.

The job operations (``list_jobs``, ``add``, ``remove``, ``pause``, ``resume``,
``run_now``, ``runs``) come from ``JobsApi`` and work before ``start`` too.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from roost.bus.envelope import Delivery
from roost.scheduler.alerts import alert_builder, alert_targets
from roost.scheduler.api import JobsApi
from roost.scheduler.config_sync import sync_config
from roost.scheduler.finisher import JobFinisher
from roost.scheduler.loop import SchedulerLoop, stop_task
from roost.scheduler.model import RUN_RUNNING, RunInfo
from roost.scheduler.recovery import settle_running_runs
from roost.scheduler.runner import Runner
from roost.scheduler.runs import AlertPlan, RunStore
from roost.scheduler.store import JobStore
from roost.supervise import supervise
from roost.timing.clock import Clock, SystemClock
from roost.tools.scheduling import SchedulingTools

if TYPE_CHECKING:
    from roost.app import App

log = logging.getLogger(__name__)


class SchedulerService(JobsApi):
    name = "scheduler"

    def __init__(
        self,
        app: App,
        clock: Clock | None = None,
        *,
        deliver: bool = True,
    ) -> None:
        """``deliver=False`` (a CLI process without channels) leaves what runs queue in
        the outbox for `roost run` to send, instead of trying to send it here. How many
        runs' turns go on at once is the router's ``max_turns`` (for all messages)."""
        self.app = app
        self.clock: Clock = clock or SystemClock()
        jobs, runs = JobStore(app.db), RunStore(app.db)
        self.alert = AlertPlan(
            app.settings.scheduler.failures_before_alert,
            alert_builder(alert_targets(app.settings)),
        )
        self.runner = Runner(app.router, app.agents, runs, jobs, app.events, self.clock, self.alert)
        self.loop = SchedulerLoop(jobs, runs, self.runner, app.events, self.clock)
        super().__init__(
            jobs, runs, app.bus, app.settings, self.clock, self.runner, self.loop.reschedule
        )
        self.finisher = JobFinisher(
            runs,
            app.events,
            self.clock,
            self.alert,
            app.dispatcher.push if deliver else _keep,
            self.runner.timed_out,
            self._run_ended,
        )
        app.router.set_finisher("job", self.finisher)
        if not deliver:
            app.router.set_on_queued(_keep)
        for tool in SchedulingTools(self, app.bus).tools():
            app.tools.register(tool)
        self._task: asyncio.Task[None] | None = None
        self._state = "stopped"
        self._waiters: dict[int, asyncio.Future[str]] = {}

    async def start(self) -> None:
        self._state = "starting"
        await sync_config(self.jobs, self.app.settings.schedules, self.clock.now())
        await settle_running_runs(self.run_store, self.jobs, self.runner, self.finisher)
        await self.loop.load()
        self._task = asyncio.create_task(
            supervise("scheduler", self.loop.run_forever), name="scheduler"
        )
        self._state = "running"
        log.info("scheduler: %d job(s) scheduled", self.loop.scheduled)

    async def stop(self) -> None:
        self._state = "stopped"
        await stop_task(self._task)
        self._task = None
        await self.loop.drain()
        await self.runner.stop()
        for waiter in self._waiters.values():
            waiter.cancel()

    def health(self) -> dict[str, Any]:
        due = self.loop.next_due()
        return {
            "state": self._state,
            "jobs": self.loop.scheduled,
            "running": self.runner.running,
            "next_due": due.isoformat() if due else None,
        }

    async def wait_for_run(self, run_id: int, timeout_s: float | None = None) -> RunInfo:
        """Wait until the run has ended; returns it as recorded (with its deliveries)."""
        waiter = self._waiters.setdefault(run_id, asyncio.get_running_loop().create_future())
        try:
            run = await self.get_run(run_id)
            if run.status == RUN_RUNNING:
                await asyncio.wait_for(asyncio.shield(waiter), timeout_s)
        finally:
            self._waiters.pop(run_id, None)
        return await self.get_run(run_id)

    def _run_ended(self, run_id: int, status: str) -> None:
        self.runner.finished(run_id)
        waiter = self._waiters.get(run_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(status)


def _keep(_: list[Delivery]) -> None:
    """Leave deliveries in the outbox (pending) for the process that sends them."""
