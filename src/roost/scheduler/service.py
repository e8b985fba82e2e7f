"""The scheduler as a feature of `roost run`: ``SchedulerService(core)``.

It contributes the agents' scheduling tools, the finisher for ``job:`` senders, the
``jobs.*`` gateway methods and the job operations (``jobs_api``); the App wires them
in when it is built — before ``App.start`` re-runs unfinished envelopes, so runs a
crash interrupted are recorded and delivered. ``start`` brings the config's jobs
into the store, settles runs left running, loads the heap and starts the loop.
``reload_schedules`` takes in a reloaded config's ``schedules:`` while it runs.

The job operations (``list_jobs``, ``add``, ``remove``, ``pause``, ``resume``,
``run_now``, ``runs``) come from ``JobsApi`` and work before ``start`` too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from roost.features.contract import Feature
from roost.scheduler.agent_tools import SchedulingTools
from roost.scheduler.alerts import alert_builder, alert_targets
from roost.scheduler.api import JobsApi
from roost.scheduler.config_sync import RunningScope, SyncReport, sync_config
from roost.scheduler.finisher import JobFinisher
from roost.scheduler.loop import SchedulerLoop, stop_task
from roost.scheduler.model import RUN_RUNNING, RunInfo
from roost.scheduler.recovery import settle_running_runs
from roost.scheduler.runner import Runner
from roost.scheduler.runs import AlertPlan, RunStore
from roost.scheduler.store import JobStore
from roost.supervise import supervise
from roost.timing.clock import Clock, SystemClock

if TYPE_CHECKING:
    from roost.bus.envelope_end import Finisher
    from roost.config.schedules import ScheduleConfig
    from roost.features.jobs import JobOperations
    from roost.features.methods import Method
    from roost.ports import CorePorts
    from roost.tools.registry import Tool

log = logging.getLogger(__name__)


class SchedulerService(JobsApi, Feature):
    name = "scheduler"

    def __init__(self, core: CorePorts, clock: Clock | None = None) -> None:
        """How many runs' turns go on at once is the router's ``max_turns`` (for all
        messages). In a process that does not serve (`roost jobs run` without a
        gateway) what runs queue stays in the outbox for `roost run` to send."""
        self.settings = core.settings
        self._agents = core.agents
        self.clock: Clock = clock or SystemClock()
        jobs, runs = JobStore(core.store), RunStore(core.store)
        self.alert = AlertPlan(
            core.settings.scheduler.failures_before_alert,
            alert_builder(alert_targets(core.settings)),
        )
        self.runner = Runner(
            core.inbox, core.agents, runs, jobs, core.events, self.clock, self.alert
        )
        self.loop = SchedulerLoop(jobs, runs, self.runner, core.events, self.clock)
        super().__init__(
            jobs,
            runs,
            core.outbox.records,
            core.settings,
            self.clock,
            self.runner,
            self.loop.reschedule,
        )
        self.finisher = JobFinisher(
            runs,
            core.events,
            self.clock,
            self.alert,
            core.outbox.push,
            self.runner.timed_out,
            self._run_ended,
        )
        self._tools = SchedulingTools(self, core.outbox.records).tools()
        self._task: asyncio.Task[None] | None = None
        self._state = "stopped"
        self._waiters: dict[int, asyncio.Future[str]] = {}

    def tools(self) -> Sequence[Tool]:
        return self._tools

    def finishers(self) -> Mapping[str, Finisher[Any]]:
        return {"job": self.finisher}

    def gateway_methods(self) -> Sequence[Method]:
        from roost.scheduler.gateway_methods import job_methods

        return job_methods(self)

    def jobs_api(self) -> JobOperations:
        return self

    async def start(self) -> None:
        self._state = "starting"
        await sync_config(self.jobs, self.settings.schedules, self.clock.now())
        await settle_running_runs(self.run_store, self.jobs, self.runner, self.finisher)
        await self.loop.load()
        self._task = asyncio.create_task(
            supervise("scheduler", self.loop.run_forever), name="scheduler"
        )
        self._state = "running"
        log.info("scheduler: %d job(s) scheduled", self.loop.scheduled)

    async def reload_schedules(self, schedules: Mapping[str, ScheduleConfig]) -> SyncReport:
        """Make the config jobs what ``schedules`` says, from their next run on.

        Runs going on finish as they started (their envelope holds the prompt, targets
        and model). Jobs added at run time are left alone; schedules for agents not
        running yet wait for a restart (``SyncReport.held``).
        """
        scope = RunningScope(agents=frozenset(self._agents))
        if self._task is None:  # not serving: nothing fires, the store is all there is
            return await sync_config(self.jobs, schedules, self.clock.now(), scope)
        async with self.loop.quiet() as now:
            report = await sync_config(self.jobs, schedules, now, scope)
            for job_id, due in report.due.items():
                self.loop.reschedule(job_id, due)  # also drops a row read ahead
            for job_id in report.stopped:
                self.runner.discard_queue(job_id)
        return report

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
