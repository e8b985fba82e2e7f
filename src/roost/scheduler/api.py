"""Managing jobs: list, add, remove, pause, resume, run now, run history.

The one implementation behind the CLI, the WebSocket methods, Telegram's /jobs and
the agents' tools. ``as_owner`` restricts an operation to the jobs of one owner (an
agent touches only its own jobs); None means an operator, who may touch any job.
Works on the store alone (the CLI without `roost run`); ``run_now`` needs a runner.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError

from roost.config.schedules import ScheduleConfig
from roost.config.settings import Settings
from roost.scheduler.config_sync import job_from_config
from roost.scheduler.errors import (
    InvalidJob,
    JobBusy,
    JobError,
    JobForbidden,
    UnknownAgentForJob,
    UnknownJob,
)
from roost.scheduler.model import (
    DEFAULT_TIMEOUT_S,
    ISOLATED,
    JOB_ACTIVE,
    JOB_DISABLED,
    JOB_DONE,
    JOB_PAUSED,
    OWNER_CONFIG,
    RUN_QUEUED,
    DeliveryInfo,
    Job,
    RunInfo,
    from_db,
)
from roost.scheduler.runner import Runner
from roost.scheduler.runs import RunStore
from roost.scheduler.store import JobStore
from roost.timing.clock import Clock
from roost.timing.errors import ScheduleError
from roost.timing.parsing import is_relative_at, parse_at
from roost.timing.zones import resolve_zone

if TYPE_CHECKING:
    from roost.ports import OutboxRecords

JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
Reschedule = Callable[[int, "datetime | None"], None]


class JobsApi:
    def __init__(
        self,
        jobs: JobStore,
        runs: RunStore,
        records: OutboxRecords,
        settings: Settings,
        clock: Clock,
        runner: Runner | None = None,
        reschedule: Reschedule | None = None,
    ) -> None:
        self.jobs = jobs
        self.run_store = runs
        self._records = records
        self._settings = settings
        self._clock = clock
        self._runner = runner
        self._reschedule = reschedule or (lambda _job_id, _due: None)

    async def list_jobs(self, *, as_owner: str | None = None) -> list[Job]:
        return await self.jobs.all(owner=as_owner)

    async def get_job(self, name: str, *, as_owner: str | None = None) -> Job:
        job = await self.jobs.get(name)
        if job is None:
            raise UnknownJob(name)
        _check_owner(job, as_owner)
        return job

    async def add(
        self,
        name: str,
        *,
        agent: str,
        prompt: str,
        cron: str | None = None,
        every: str | None = None,
        at: str | None = None,
        timezone: str | None = None,
        session: str = ISOLATED,
        deliver: Sequence[str] = (),
        catch_up: str = "once",
        overlap: str = "skip",
        model: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        owner: str = "user",
    ) -> Job:
        """Create a job; ``at`` may be relative (``in 2h``). Raises ``JobError``.

        Every problem with the input is reported at once (name, agent, schedule and
        the other fields), so a person fixes them in one go.
        """
        problems: list[str] = []
        if not JOB_NAME.match(name):
            problems.append(
                f"job name '{name}': use 1-64 letters, digits, '_', '.' or '-' "
                "(starting with a letter or digit)"
            )
        unknown_agent = False
        try:
            self._check_agent(agent, model)
        except InvalidJob as exc:
            unknown_agent = isinstance(exc, UnknownAgentForJob)
            problems.append(str(exc))
        now = self._clock.now()
        try:
            at = _absolute_at(at, timezone, now)
        except InvalidJob as exc:
            problems.append(str(exc))
        config, config_problems = _validated(
            cron=cron,
            every=every,
            at=at,
            timezone=timezone,
            agent=agent,
            prompt=prompt,
            session=session,
            deliver=list(deliver),
            catch_up=catch_up,
            overlap=overlap,
            model=model,
            timeout_s=timeout_s,
        )
        problems.extend(config_problems)
        if problems or config is None:
            error = UnknownAgentForJob if unknown_agent else InvalidJob
            raise error(_several(problems))
        job = job_from_config(name, config, now)
        if job.next_due is None:
            raise InvalidJob(f"{job.describe()} is in the past; pick a time to come")
        job.owner = owner
        await self.jobs.insert(job)
        self._reschedule(job.id, job.next_due)
        return job

    async def remove(self, name: str, *, as_owner: str | None = None) -> Job:
        job = await self.get_job(name, as_owner=as_owner)
        if job.owner == OWNER_CONFIG and job.state != JOB_DISABLED:
            raise JobForbidden(
                f"job '{name}' is defined in the config file (schedules.{name}): delete it "
                f"there, or pause it with `roost jobs pause {name}`"
            )
        await self.jobs.delete(job.id)
        self._reschedule(job.id, None)
        if self._runner is not None:
            self._runner.discard_queue(job.id)
        return job

    async def pause(self, name: str, *, as_owner: str | None = None) -> Job:
        job = await self.get_job(name, as_owner=as_owner)
        if job.state in (JOB_DISABLED, JOB_DONE):
            raise InvalidJob(f"job '{name}' is {job.state}: {_why(job)}")
        if job.state != JOB_PAUSED:
            job.state, job.next_due = JOB_PAUSED, None
            await self.jobs.update(job.id, state=JOB_PAUSED, next_due=None)
            self._reschedule(job.id, None)
        return job

    async def resume(self, name: str, *, as_owner: str | None = None) -> Job:
        job = await self.get_job(name, as_owner=as_owner)
        if job.state in (JOB_DISABLED, JOB_DONE):
            raise InvalidJob(f"job '{name}' is {job.state}: {_why(job)}")
        if job.state == JOB_ACTIVE:
            return job
        try:
            next_due = job.schedule().next_after(self._clock.now())
        except ValueError as exc:
            raise InvalidJob(f"job '{name}' cannot be scheduled: {exc}") from None
        if next_due is None:
            raise InvalidJob(f"job '{name}': {job.describe()} passed while it was paused")
        job.state, job.next_due = JOB_ACTIVE, next_due
        await self.jobs.update(job.id, state=JOB_ACTIVE, next_due=job.next_due)
        self._reschedule(job.id, next_due)
        return job

    async def run_now(self, name: str, *, as_owner: str | None = None) -> RunInfo:
        """Start a run now, whatever the schedule (``next_due`` is left alone).

        With ``overlap: queue`` and a run going on, the new run waits for it (status
        ``queued``, id 0); with ``overlap: skip`` this raises ``JobBusy``.
        """
        job = await self.get_job(name, as_owner=as_owner)
        if self._runner is None:
            raise JobError("jobs can only be run by a process with the agents running")
        now = self._clock.now()
        admission = self._runner.admit(job, [now])
        if admission.start:
            run = await self._runner.start_one(job, now)
            return RunInfo(run.id, job.name, now, run.status, run.started_at, session=run.session)
        if admission.queued:
            return RunInfo(0, job.name, now, RUN_QUEUED)
        raise JobBusy(f"job '{name}' is still running (overlap: skip); try again once it ends")

    async def runs(
        self, name: str, limit: int = 20, *, as_owner: str | None = None
    ) -> list[RunInfo]:
        """The newest runs of a job (also of a removed one), each with its deliveries."""
        job = await self.jobs.get(name)
        if job is not None:
            _check_owner(job, as_owner)
        found = await self.run_store.for_job(name, max(1, limit))
        if job is None and (not found or as_owner is not None):
            raise UnknownJob(name)
        return await self._with_deliveries(found)

    async def get_run(self, run_id: int) -> RunInfo:
        """One run by id, with its deliveries."""
        run = await self.run_store.get(run_id)
        if run is None:
            raise LookupError(f"no job run {run_id}")
        return (await self._with_deliveries([run]))[0]

    async def _with_deliveries(self, found: list[RunInfo]) -> list[RunInfo]:
        by_run: dict[int, list[DeliveryInfo]] = {}
        for delivery in await self._records.deliveries_for(job_run_ids=[run.id for run in found]):
            if delivery.job_run_id is not None:
                by_run.setdefault(delivery.job_run_id, []).append(
                    DeliveryInfo(
                        id=delivery.id,
                        target=delivery.target,
                        status=delivery.status,
                        attempts=delivery.attempts,
                        last_error=delivery.last_error,
                        delivered_at=from_db(delivery.delivered_at),
                        kind=str(delivery.meta.get("kind", "")),
                    )
                )
        return [dataclasses.replace(run, deliveries=by_run.get(run.id, [])) for run in found]

    def _check_agent(self, agent: str, model: str | None) -> None:
        settings = self._settings.agents.get(agent)
        if settings is None:
            known = ", ".join(self._settings.agents) or "none"
            raise UnknownAgentForJob(f"unknown agent '{agent}' (known: {known})")
        provider = (model or "").partition("/")[0]
        if model and provider != settings.provider:
            raise InvalidJob(
                f"model '{model}': agent {agent} runs on provider '{settings.provider}'; a job "
                f"can change the model, not the provider (use {settings.provider}/<model id>)"
            )


def _check_owner(job: Job, as_owner: str | None) -> None:
    if as_owner is not None and job.owner != as_owner:
        raise JobForbidden(f"job '{job.name}' belongs to {job.owner}; only its owner may change it")


def _why(job: Job) -> str:
    if job.state == JOB_DISABLED:
        return f"it is not (or no longer) enabled in the config file (schedules.{job.name})"
    return "a one-shot job that has already fired; add a new one"


def _absolute_at(at: str | None, timezone: str | None, now: datetime) -> str | None:
    """``in 2h`` as a UTC timestamp, so the stored job fires at one fixed moment."""
    if at is None or not is_relative_at(at):
        return at
    try:
        return parse_at(at, resolve_zone(timezone), now).isoformat()
    except ScheduleError as exc:
        raise InvalidJob(str(exc)) from None


def _validated(**fields: object) -> tuple[ScheduleConfig | None, list[str]]:
    try:
        return ScheduleConfig.model_validate(fields), []
    except ValidationError as exc:
        return None, _explain(exc)


def _several(problems: list[str]) -> str:
    """One problem as it is; several as a list, each once (a bad relative ``at`` is
    found both when it is resolved and when the schedule is checked)."""
    unique = list(dict.fromkeys(problems))
    if len(unique) == 1:
        return unique[0]
    return f"{len(unique)} problems:\n" + "\n".join(f"  - {problem}" for problem in unique)


def _explain(exc: ValidationError) -> list[str]:
    parts = []
    for error in exc.errors(include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        field = ".".join(str(part) for part in error["loc"])
        schedule_field = field in ("cron", "every", "at", "timezone", "")
        parts.append(message if schedule_field else f"{field}: {message}")
    return parts
